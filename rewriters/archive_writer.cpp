#include "rewriters/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "formats/common/atomic.h"
#include "formats/common/checksum.h"

namespace vk::rewrite {

namespace {

struct WriteCloser {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

Error write_error(const std::string& path, struct archive* a, const std::string& what) {
  return bad_input(path, what + ": " + archive::error_text(a));
}

// The ordinal of the member each replacement goes to: the last copy of its name.
Expected<std::map<uint64_t, const std::vector<uint8_t>*>> targets(const archive::Archive& source,
                                                                  const std::map<std::string, std::vector<uint8_t>>& replace) {
  std::map<uint64_t, const std::vector<uint8_t>*> out;
  for (const auto& [path, bytes] : replace) {
    auto it = source.members().find(path);
    if (it == source.members().end() || !it->second.blob)
      return bad_input(source.path(), "member " + path + " to rewrite is not a regular file in the archive");
    out[it->second.ordinal] = &bytes;
  }
  return out;
}

// What the copy wrote of each member, for the verify step.
struct Written {
  std::string path, link;
  unsigned type = 0;
  uint64_t hash = 0, size = 0;
};

uint64_t hash_of(const std::vector<uint8_t>& bytes) {
  StreamHash h;
  h.update(bytes);
  return h.value();
}

// Streams the input into the archive writer on `fd`, replacing the targeted members.
Status copy_archive(const std::string& input, const std::map<uint64_t, const std::vector<uint8_t>*>& replace, int fd,
                    const std::string& out_name, std::vector<Written>& written) {
  VK_TRY(r, archive::Reader::open(input));
  std::unique_ptr<struct archive, WriteCloser> w;
  std::vector<uint8_t> buf(256 * 1024);
  for (;;) {
    VK_TRY(entry, r->next());
    if (!entry) break;
    if (archive_entry_sparse_reset(entry) > 0) {
      Error e = r->error("member " + r->member());
      e.message = "member " + r->member() + " is sparse; vdsokit does not rewrite archives with sparse members "
                  "(writing it anew would expand its holes); extract the archive and rewrite the folder";
      return e;
    }
    if (!w) {
      // The format is known once the first header is read; the filters once the stream is open.
      w.reset(archive_write_new());
      if (archive::write_set_format(w.get(), archive_format(r->handle())) != ARCHIVE_OK)
        return write_error(input, w.get(), "cannot write this archive format");
      // Read-side filter 0 is the one next to the tar stream; the writer applies filters in the order
      // added, innermost first, so add them from the format outwards.
      for (int i = 0; i < archive_filter_count(r->handle()); ++i) {
        int code = archive_filter_code(r->handle(), i);
        if (code == ARCHIVE_FILTER_NONE) continue;
        if (archive::write_add_filter(w.get(), code) != ARCHIVE_OK)
          return write_error(input, w.get(), std::string("cannot write compression filter ") + archive_filter_name(r->handle(), i));
      }
      // libarchive offers zstd/xz worker threads ("threads" filter option). Not used: measured on 2
      // cores (bench/archive_bench) they made the rewrite slower and added ~95 MiB of buffers, past
      // the 100 MiB bound; VK_ARCHIVE_THREADS=N asks for them.
      if (const char* t = std::getenv("VK_ARCHIVE_THREADS"))
        archive_write_set_filter_option(w.get(), nullptr, "threads", t);
      // A plain tar keeps the input's padding: 10240-byte records (GNU tar, POSIX) or none beyond the
      // 512-byte blocks, so a round trip gives the input's bytes back. Compressed outputs are never
      // padded (libarchive pads after the compressor).
      if (!r->compressed()) archive_write_set_bytes_in_last_block(w.get(), r->file_size() % 10240 == 0 ? 10240 : 1);
      if (archive_write_open_fd(w.get(), fd) != ARCHIVE_OK) return write_error(out_name, w.get(), "cannot open the new archive");
    }
    Written rec;
    rec.path = r->member();
    rec.type = archive_entry_filetype(entry);
    const char* link = archive_entry_symlink(entry);
    rec.link = link ? link : "";
    auto it = rec.type == AE_IFREG ? replace.find(r->ordinal()) : replace.end();
    if (it != replace.end()) {
      const auto& bytes = *it->second;
      archive_entry_set_size(entry, la_int64_t(bytes.size()));
      if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return write_error(out_name, w.get(), "member " + rec.path);
      if (!bytes.empty() && archive_write_data(w.get(), bytes.data(), bytes.size()) != la_ssize_t(bytes.size()))
        return write_error(out_name, w.get(), "member " + rec.path);
      rec.hash = hash_of(bytes);
      rec.size = bytes.size();
      written.push_back(std::move(rec));
      continue;
    }
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return write_error(out_name, w.get(), "member " + rec.path);
    StreamHash h;
    for (;;) {
      VK_TRY(n, r->read(buf.data(), buf.size()));
      if (n == 0) break;
      h.update(std::span(buf.data(), n));
      if (archive_write_data(w.get(), buf.data(), n) != la_ssize_t(n)) return write_error(out_name, w.get(), "member " + rec.path);
    }
    rec.size = h.bytes();
    rec.hash = h.value();
    written.push_back(std::move(rec));
  }
  if (!w) return bad_input(input, "the archive has no members");
  if (archive_write_close(w.get()) != ARCHIVE_OK) return write_error(out_name, w.get(), "cannot finish the new archive");
  return Status::ok();
}

// The new archive read back as a stream: the same members in the same order with the same types and
// links, each member's data equal (size and xxHash64 chain) to what the copy read or replaced.
Status verify(const std::string& tmp, const std::string& output, const std::vector<Written>& written) {
  VK_TRY(b, archive::Reader::open(tmp));
  std::vector<uint8_t> buf(256 * 1024);
  for (size_t i = 0;; ++i) {
    VK_TRY(e, b->next());
    if (!e) {
      if (i != written.size()) return bad_input(output, "internal error: the new archive ends after " + std::to_string(i) + " members");
      return Status::ok();
    }
    if (i >= written.size()) return bad_input(output, "internal error: the new archive has more members than the input");
    const Written& w = written[i];
    const char* link = archive_entry_symlink(e);
    if (b->member() != w.path || archive_entry_filetype(e) != w.type || (link ? link : "") != w.link)
      return bad_input(output, "internal error: member " + w.path + " changed name, type or link");
    StreamHash h;
    for (;;) {
      VK_TRY(n, b->read(buf.data(), buf.size()));
      if (n == 0) break;
      h.update(std::span(buf.data(), n));
    }
    if (h.bytes() != w.size || h.value() != w.hash) return bad_input(output, "internal error: member " + w.path + " changed");
  }
}

}  // namespace

Status rewrite_archive(const archive::Archive& source, const std::map<std::string, std::vector<uint8_t>>& replace,
                       const std::string& output) {
  const std::string& input = source.path();
  VK_TRY(by_ordinal, targets(source, replace));
  // An empty temporary beside the destination (same filesystem, so the final rename is atomic).
  VK_TRY(tmp, write_temp_beside(output, {}));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    ::unlink(tmp.c_str());
    return bad_input(tmp, "cannot reopen the temporary archive");
  }
  auto fail = [&](const Error& e) {
    ::unlink(tmp.c_str());
    return e;
  };
  std::vector<Written> written;
  Status st = copy_archive(input, by_ordinal, fd, output, written);
  if (st && ::fsync(fd) != 0) st = bad_input(output, "fsync of the new archive failed");
  if (::close(fd) != 0 && st) st = bad_input(output, "close of the new archive failed");
  if (!st) return fail(st.error());
  Status v = verify(tmp, output, written);
  if (!v) return fail(v.error());
  return replace_with(tmp, output);
}

}  // namespace vk::rewrite
