#include "rewriters/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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

// How far the copy is, shared with the verify thread that reads the new archive back behind it.
struct Progress {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t bytes = 0;              // of the new archive written to the temporary so far
  std::vector<Written> members;    // recorded as each member is copied, in order
  bool done = false, failed = false;

  void wrote(uint64_t total) {
    std::lock_guard l(mu);
    bytes = total;
    cv.notify_all();
  }
  void add(Written w) {
    std::lock_guard l(mu);
    members.push_back(std::move(w));
    cv.notify_all();
  }
  void finish(bool ok) {
    std::lock_guard l(mu);
    done = true;
    failed = !ok;
    cv.notify_all();
  }
};

uint64_t hash_of(const std::vector<uint8_t>& bytes) {
  StreamHash h;
  h.update(bytes);
  return h.value();
}

// One piece of the input stream, handed from the reading thread to the writing one.
struct Piece {
  enum Kind { Header, Data, MemberEnd, End, Fail } kind = End;
  struct archive_entry* entry = nullptr;   // Header: a clone, owned by the piece
  std::string path;                        // Header: the normalised member name
  const std::vector<uint8_t>* replacement = nullptr;   // Header: the new data (the input's is skipped)
  std::vector<uint8_t> data;               // Data
  uint64_t hash = 0, size = 0;             // MemberEnd: of the member's data as read
  std::optional<Error> error;              // Fail
  // The first Header also carries the input's format, filters (innermost first) and padding.
  int format = 0;
  std::vector<int> filters;
  std::vector<std::string> filter_names;
  bool compressed = false;
  uint64_t file_size = 0;
};

// A bounded queue between the two threads; close() (from either side) wakes and stops both.
class PieceQueue {
 public:
  explicit PieceQueue(size_t cap) : cap_(cap) {}
  ~PieceQueue() {
    for (auto& p : q_)
      if (p.entry) archive_entry_free(p.entry);
  }
  bool push(Piece p) {   // false once closed (the piece is dropped)
    std::unique_lock l(mu_);
    not_full_.wait(l, [&] { return closed_ || q_.size() < cap_; });
    if (closed_) {
      if (p.entry) archive_entry_free(p.entry);
      return false;
    }
    q_.push_back(std::move(p));
    not_empty_.notify_one();
    return true;
  }
  Piece pop() {
    std::unique_lock l(mu_);
    not_empty_.wait(l, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return Piece{};   // closed: End
    Piece p = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return p;
  }
  void close() {
    std::lock_guard l(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Piece> q_;
  size_t cap_;
  bool closed_ = false;
};

constexpr size_t kChunk = 256 * 1024;
// 16 chunks of 256 KiB in flight at most: 4 MiB, whatever the archive's size (the 100 MiB bound).
constexpr size_t kQueued = 16;

// The reading thread: decompresses the input and cuts it into pieces, hashing each member's data as
// it goes (the verify step compares the new archive against these hashes).
void read_input(const std::string& input, const std::map<uint64_t, const std::vector<uint8_t>*>& replace, PieceQueue& q) {
  auto fail = [&](Error e) {
    Piece p;
    p.kind = Piece::Fail;
    p.error = std::move(e);
    q.push(std::move(p));
  };
  auto r = archive::Reader::open(input);
  if (!r) return fail(r.error());
  bool first = true;
  for (;;) {
    auto entry = (*r)->next();
    if (!entry) return fail(entry.error());
    if (!*entry) break;
    struct archive_entry* e = *entry;
    if (archive_entry_sparse_reset(e) > 0) {
      Error x = (*r)->error("member " + (*r)->member());
      x.message = "member " + (*r)->member() + " is sparse; vdsokit does not rewrite archives with sparse members "
                  "(writing it anew would expand its holes); extract the archive and rewrite the folder";
      return fail(x);
    }
    Piece h;
    h.kind = Piece::Header;
    h.path = (*r)->member();
    if (archive_entry_filetype(e) == AE_IFREG)
      if (auto it = replace.find((*r)->ordinal()); it != replace.end()) h.replacement = it->second;
    if (first) {
      // The format is known once the first header is read; the filters once the stream is open.
      struct archive* a = (*r)->handle();
      h.format = archive_format(a);
      for (int i = 0; i < archive_filter_count(a); ++i) {
        h.filters.push_back(archive_filter_code(a, i));
        h.filter_names.push_back(archive_filter_name(a, i));
      }
      h.compressed = (*r)->compressed();
      h.file_size = (*r)->file_size();
      first = false;
    }
    h.entry = archive_entry_clone(e);
    if (!h.entry) return fail(bad_input(input, "out of memory cloning the header of " + h.path));
    bool replaced = h.replacement != nullptr;
    if (!q.push(std::move(h))) return;
    if (replaced) continue;   // its data is skipped by the next header
    StreamHash hash;
    for (;;) {
      Piece d;
      d.kind = Piece::Data;
      d.data.resize(kChunk);
      auto n = (*r)->read(d.data.data(), d.data.size());
      if (!n) return fail(n.error());
      if (*n == 0) break;
      d.data.resize(*n);
      hash.update(d.data);
      if (!q.push(std::move(d))) return;
    }
    Piece m;
    m.kind = Piece::MemberEnd;
    m.size = hash.bytes();
    m.hash = hash.value();
    if (!q.push(std::move(m))) return;
  }
  q.push(Piece{});   // End
}

// Where libarchive's writer puts the new archive: the temporary's fd. Writeback of what is written
// starts as it goes (sync_file_range, asynchronous), so the fsync before the rename has little left to
// do; the fsync itself, and with it the guarantee, is unchanged (rewrite_archive).
struct Sink {
  int fd = -1;
  Progress* progress = nullptr;
  uint64_t written = 0, flushed = 0;
};

la_ssize_t sink_write(struct archive* a, void* client, const void* buf, size_t len) {
  auto* s = static_cast<Sink*>(client);
  const auto* p = static_cast<const char*>(buf);
  size_t left = len;
  while (left > 0) {
    ssize_t n = ::write(s->fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      archive_set_error(a, n < 0 ? errno : EIO, "write failed: %s", std::strerror(n < 0 ? errno : EIO));
      return -1;
    }
    p += n, left -= size_t(n);
  }
  s->written += len;
  s->progress->wrote(s->written);
  constexpr uint64_t kFlushEvery = 32ull << 20;
  if (s->written - s->flushed >= kFlushEvery) {
    ::sync_file_range(s->fd, off64_t(s->flushed), off64_t(s->written - s->flushed), SYNC_FILE_RANGE_WRITE);
    s->flushed = s->written;
  }
  return la_ssize_t(len);
}

// Copies the input into the archive writer on `fd`, replacing the targeted members: one thread reads
// and decompresses the input while this one compresses and writes (issue 11: the two ran one after the
// other; compression alone is most of a rewrite), with at most kQueued chunks between them.
Status copy_archive(const std::string& input, const std::map<uint64_t, const std::vector<uint8_t>*>& replace, int fd,
                    const std::string& out_name, Progress& progress) {
  PieceQueue q(kQueued);
  std::thread reader([&] { read_input(input, replace, q); });
  struct Join {
    PieceQueue& q;
    std::thread& t;
    ~Join() {
      q.close();   // on any early return, the reader stops at its next push
      t.join();
    }
  } join{q, reader};

  // The sink outlives the writer: freeing a writer flushes through sink_write (an early return included).
  Sink sink{fd, &progress};
  std::unique_ptr<struct archive, WriteCloser> w;
  Written rec;
  auto entry_guard = [](struct archive_entry* e) { return std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)>(e, archive_entry_free); };
  for (;;) {
    Piece p = q.pop();
    if (p.kind == Piece::Fail) return *p.error;
    if (p.kind == Piece::End) break;
    if (p.kind == Piece::Data) {
      if (archive_write_data(w.get(), p.data.data(), p.data.size()) != la_ssize_t(p.data.size()))
        return write_error(out_name, w.get(), "member " + rec.path);
      continue;
    }
    if (p.kind == Piece::MemberEnd) {
      rec.size = p.size;
      rec.hash = p.hash;
      progress.add(std::move(rec));
      continue;
    }
    // Header.
    auto entry = entry_guard(p.entry);
    if (!w) {
      w.reset(archive_write_new());
      if (archive::write_set_format(w.get(), p.format) != ARCHIVE_OK)
        return write_error(input, w.get(), "cannot write this archive format");
      // Read-side filter 0 is the one next to the tar stream; the writer applies filters in the order
      // added, innermost first, so add them from the format outwards.
      for (size_t i = 0; i < p.filters.size(); ++i) {
        if (p.filters[i] == ARCHIVE_FILTER_NONE) continue;
        if (archive::write_add_filter(w.get(), p.filters[i]) != ARCHIVE_OK)
          return write_error(input, w.get(), "cannot write compression filter " + p.filter_names[i]);
      }
      // libarchive offers zstd/xz worker threads ("threads" filter option), but Debian's static
      // libzstd.a is built without them (zstd builds its static library single-threaded since 1.5.0,
      // facebook/zstd#2584: ZSTD_c_nbWorkers is refused and libarchive compresses on this thread); with the shared libzstd, measured on 2 cores (bench/archive_bench)
      // they made the rewrite slower and added ~95 MiB of buffers, past the 100 MiB bound.
      // VK_ARCHIVE_THREADS=N asks for them.
      if (const char* t = std::getenv("VK_ARCHIVE_THREADS"))
        archive_write_set_filter_option(w.get(), nullptr, "threads", t);
      // A plain tar keeps the input's padding: 10240-byte records (GNU tar, POSIX) or none beyond the
      // 512-byte blocks, so a round trip gives the input's bytes back. Compressed outputs are never
      // padded (libarchive would pad after the compressor).
      archive_write_set_bytes_in_last_block(w.get(), !p.compressed && p.file_size % 10240 == 0 ? 10240 : 1);
      // A compressed output is not blocked at all: the compressor's output goes to sink_write as it
      // comes instead of through libarchive's 10240-byte blocking buffer (one copy less).
      if (p.compressed) archive_write_set_bytes_per_block(w.get(), 0);
      if (archive_write_open(w.get(), &sink, nullptr, sink_write, nullptr) != ARCHIVE_OK)
        return write_error(out_name, w.get(), "cannot open the new archive");
    }
    rec = Written{};
    rec.path = p.path;
    rec.type = archive_entry_filetype(entry.get());
    const char* link = archive_entry_symlink(entry.get());
    rec.link = link ? link : "";
    if (p.replacement) {
      const auto& bytes = *p.replacement;
      archive_entry_set_size(entry.get(), la_int64_t(bytes.size()));
      if (archive_write_header(w.get(), entry.get()) != ARCHIVE_OK) return write_error(out_name, w.get(), "member " + rec.path);
      if (!bytes.empty() && archive_write_data(w.get(), bytes.data(), bytes.size()) != la_ssize_t(bytes.size()))
        return write_error(out_name, w.get(), "member " + rec.path);
      rec.hash = hash_of(bytes);
      rec.size = bytes.size();
      progress.add(std::move(rec));
      continue;
    }
    if (archive_write_header(w.get(), entry.get()) != ARCHIVE_OK) return write_error(out_name, w.get(), "member " + rec.path);
  }
  if (!w) return bad_input(input, "the archive has no members");
  if (archive_write_close(w.get()) != ARCHIVE_OK) return write_error(out_name, w.get(), "cannot finish the new archive");
  return Status::ok();
}

// The verify thread's view of the temporary: it reads only what the copy has written, waiting for
// more until the copy is done (libarchive read callback).
struct Follow {
  Progress* progress;
  int fd = -1;
  uint64_t off = 0;
  std::vector<uint8_t> buf = std::vector<uint8_t>(256 * 1024);
};

long follow_read(struct archive* a, void* client, const void** out) {
  auto* f = static_cast<Follow*>(client);
  uint64_t avail;
  {
    std::unique_lock l(f->progress->mu);
    f->progress->cv.wait(l, [&] { return f->progress->bytes > f->off || f->progress->done; });
    if (f->progress->failed) {
      archive_set_error(a, ECANCELED, "the copy stopped");
      return -1;
    }
    avail = f->progress->bytes - f->off;
  }
  if (avail == 0) return 0;   // done, and all of it read
  for (;;) {
    ssize_t n = ::pread(f->fd, f->buf.data(), std::min<uint64_t>(avail, f->buf.size()), off_t(f->off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      archive_set_error(a, n < 0 ? errno : EIO, "cannot read the new archive back");
      return -1;
    }
    f->off += uint64_t(n);
    *out = f->buf.data();
    return n;
  }
}

// The new archive read back from the temporary as a stream, in a thread of its own following the
// copy: the same members in the same order with the same types and links, each member's data equal
// (size and xxHash64 chain) to what the copy read or replaced. (It ran after the copy; it reads the
// same file, only sooner: the rename waits for it, and for the fsync, as before.)
Status verify(const std::string& tmp, const std::string& output, Progress& progress) {
  Follow f{&progress};
  f.fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return bad_input(tmp, "cannot reopen the new archive to verify it");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{f.fd};
  VK_TRY(b, archive::Reader::open_stream(tmp, &f, follow_read));
  std::vector<uint8_t> buf(256 * 1024);
  // Member i's record exists once the copy has moved past it (its bytes reach the file only then).
  auto record = [&](size_t i) -> std::optional<Written> {
    std::unique_lock l(progress.mu);
    progress.cv.wait(l, [&] { return progress.members.size() > i || progress.done; });
    if (progress.members.size() > i) return progress.members[i];
    return std::nullopt;
  };
  for (size_t i = 0;; ++i) {
    VK_TRY(e, b->next());
    if (!e) {
      std::unique_lock l(progress.mu);
      progress.cv.wait(l, [&] { return progress.done; });
      if (i != progress.members.size())
        return bad_input(output, "internal error: the new archive ends after " + std::to_string(i) + " members");
      return Status::ok();
    }
    std::string path = b->member();
    unsigned type = archive_entry_filetype(e);
    const char* link = archive_entry_symlink(e);
    std::string link_s = link ? link : "";
    StreamHash h;
    for (;;) {
      VK_TRY(n, b->read(buf.data(), buf.size()));
      if (n == 0) break;
      h.update(std::span(buf.data(), n));
    }
    auto w = record(i);
    if (!w) return bad_input(output, "internal error: the new archive has more members than the input");
    if (path != w->path || type != w->type || link_s != w->link)
      return bad_input(output, "internal error: member " + w->path + " changed name, type or link");
    if (h.bytes() != w->size || h.value() != w->hash) return bad_input(output, "internal error: member " + w->path + " changed");
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
  Progress progress;
  Status v = Status::ok();
  std::thread verifier([&] { v = verify(tmp, output, progress); });
  Status st = copy_archive(input, by_ordinal, fd, output, progress);
  progress.finish(bool(st));
  if (st && ::fsync(fd) != 0) st = bad_input(output, "fsync of the new archive failed");
  if (::close(fd) != 0 && st) st = bad_input(output, "close of the new archive failed");
  verifier.join();
  if (!st) return fail(st.error());
  if (!v) return fail(v.error());
  return replace_with(tmp, output);
}

}  // namespace vk::rewrite
