#include "rewriters/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <set>

#include "formats/archive/archive.h"
#include "formats/common/atomic.h"

namespace vk::rewrite {

namespace {

struct ReadCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

// The same member naming as formats/archive (leading "./" and trailing "/" dropped).
std::string normalise(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

Error ar_error(const std::string& path, struct archive* a, const std::string& what) {
  const char* s = archive_error_string(a);
  return bad_input(path, what + (s ? std::string(": ") + s : std::string()));
}

// Streams `input` into the archive writer on `fd`, replacing members; returns the member paths seen.
Status copy_archive(const std::string& input, const std::map<std::string, std::vector<uint8_t>>& replace, int fd,
                    const std::string& out_name) {
  std::unique_ptr<struct archive, ReadCloser> r(archive_read_new());
  archive_read_support_filter_all(r.get());
  archive_read_support_format_tar(r.get());
  archive_read_support_format_gnutar(r.get());
  archive_read_support_format_cpio(r.get());
  if (archive_read_open_filename(r.get(), input.c_str(), 64 * 1024) != ARCHIVE_OK)
    return ar_error(input, r.get(), "not a readable archive");
  std::unique_ptr<struct archive, WriteCloser> w;
  std::set<std::string> done;
  struct archive_entry* entry = nullptr;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    int rc = archive_read_next_header(r.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return ar_error(input, r.get(), "archive");
    if (!w) {
      // The format is known once the first header is read; the filters once the stream is open.
      w.reset(archive_write_new());
      if (archive_write_set_format(w.get(), archive_format(r.get())) != ARCHIVE_OK)
        return ar_error(input, w.get(), "cannot write this archive format");
      // Read-side filter 0 is the one next to the tar stream; the writer applies filters in the order
      // added, innermost first, so add them from the format outwards.
      for (int i = 0; i < archive_filter_count(r.get()); ++i) {
        int code = archive_filter_code(r.get(), i);
        if (code == ARCHIVE_FILTER_NONE) continue;
        if (archive_write_add_filter(w.get(), code) != ARCHIVE_OK)
          return ar_error(input, w.get(), std::string("cannot write compression filter ") + archive_filter_name(r.get(), i));
      }
      if (archive_write_open_fd(w.get(), fd) != ARCHIVE_OK) return ar_error(out_name, w.get(), "cannot open the new archive");
    }
    const char* p = archive_entry_pathname(entry);
    std::string path = normalise(p ? p : "");
    auto it = archive_entry_filetype(entry) == AE_IFREG ? replace.find(path) : replace.end();
    if (it != replace.end()) {
      archive_entry_set_size(entry, la_int64_t(it->second.size()));
      if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return ar_error(out_name, w.get(), "member " + path);
      if (!it->second.empty() &&
          archive_write_data(w.get(), it->second.data(), it->second.size()) != la_ssize_t(it->second.size()))
        return ar_error(out_name, w.get(), "member " + path);
      done.insert(path);
      continue;
    }
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return ar_error(out_name, w.get(), "member " + path);
    for (;;) {
      la_ssize_t n = archive_read_data(r.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) return ar_error(input, r.get(), "member " + path);
      if (archive_write_data(w.get(), buf.data(), size_t(n)) != n) return ar_error(out_name, w.get(), "member " + path);
    }
  }
  if (!w) return bad_input(input, "the archive has no members");
  if (archive_write_close(w.get()) != ARCHIVE_OK) return ar_error(out_name, w.get(), "cannot finish the new archive");
  for (const auto& [path, bytes] : replace)
    if (!done.count(path)) return bad_input(input, "member " + path + " to rewrite is not a regular file in the archive");
  return Status::ok();
}

// The new archive read back: the same members, each replaced one with its new bytes, all others equal.
Status verify(const std::string& input, const std::string& written,
              const std::map<std::string, std::vector<uint8_t>>& replace) {
  VK_TRY(a, archive::Archive::open(input));
  VK_TRY(b, archive::Archive::open(written));
  if (a->members().size() != b->members().size())
    return bad_input(written, "internal error: the new archive has " + std::to_string(b->members().size()) +
                                  " members, the input " + std::to_string(a->members().size()));
  for (const auto& [path, m] : a->members()) {
    auto it = b->members().find(path);
    if (it == b->members().end()) return bad_input(written, "internal error: member " + path + " missing");
    const auto& n = it->second;
    if (m.is_dir != n.is_dir || m.link_target != n.link_target || bool(m.blob) != bool(n.blob))
      return bad_input(written, "internal error: member " + path + " changed type");
    if (!m.blob) continue;
    VK_TRY(nb, n.blob->read_all(UINT64_MAX));
    auto rep = replace.find(path);
    if (rep != replace.end()) {
      if (nb != rep->second) return bad_input(written, "internal error: member " + path + " does not hold the rewrite");
      continue;
    }
    VK_TRY(ob, m.blob->read_all(UINT64_MAX));
    if (ob != nb) return bad_input(written, "internal error: member " + path + " changed");
  }
  return Status::ok();
}

}  // namespace

Status rewrite_archive(const std::string& input, const std::map<std::string, std::vector<uint8_t>>& replace,
                       const std::string& output) {
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
  Status st = copy_archive(input, replace, fd, output);
  if (st && ::fsync(fd) != 0) st = bad_input(output, "fsync of the new archive failed");
  if (::close(fd) != 0 && st) st = bad_input(output, "close of the new archive failed");
  if (!st) return fail(st.error());
  Status v = verify(input, tmp, replace);
  if (!v) return fail(v.error());
  return replace_with(tmp, output);
}

}  // namespace vk::rewrite
