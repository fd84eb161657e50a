// Checkpoint archives (Podman/CRI-O `checkpoint/` layout, .tar, .tar.gz, .tar.zst, ...) read in place
// through libarchive, in one streaming pass and bounded memory; nothing is extracted to disk.
//   plain .tar         every regular member is a window onto the archive file (pread); the reader
//                      seeks past member data and keeps nothing in memory
//   compressed         the stream is read once; a KeepPolicy decides per member, at its header, what
//                      to hold: the whole member, some byte ranges of it, or nothing. Bytes not held
//                      are read again from the archive on demand (another streaming pass).
// Limits apply at each header, before any member data is read or buffered: bytes held in memory,
// total expanded size, and expansion ratio of a compressed archive (docs/cli.md "Limits").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"

struct archive;
struct archive_entry;

namespace vk::archive {

// Member bytes held in memory for one archive (the reader's bound, "≤ 64 MiB whatever the size").
inline constexpr uint64_t kMaxKeptBytes = 64ull << 20;
// Expanded tar stream of one archive (headers and member data, as libarchive reads it).
inline constexpr uint64_t kMaxStreamBytes = 64ull << 30;
// A compressed archive expanding to more than kMaxRatio times its size, past kRatioFloor, is a bomb.
inline constexpr uint64_t kMaxRatio = 1000;
inline constexpr uint64_t kRatioFloor = 256ull << 20;

struct Member {
  std::string path;                 // normalised, no leading "./"
  bool is_dir = false;
  std::string link_target;          // symlinks
  BlobPtr blob;                     // regular files
  uint64_t ordinal = 0;             // index of its header in the stream (duplicate names: the last wins)
  bool sparse = false;              // a GNU/pax sparse member
};

class Archive;

// What to hold of a regular member of a compressed archive while it streams by.
struct Keep {
  enum Kind { Nothing, Whole, Ranges } kind = Nothing;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;   // (offset, length) in the member, for Ranges
};
// Called at each regular member's header with what has been read so far (`so_far` already holds
// the members before it). Unset: hold members up to 1 MiB whole, nothing of larger ones.
using KeepPolicy = std::function<Keep(const std::string& path, uint64_t size, const Archive& so_far)>;

class Archive : public std::enable_shared_from_this<Archive> {
 public:
  static Expected<std::shared_ptr<Archive>> open(const std::string& path, const KeepPolicy& keep = {});
  const std::string& path() const { return path_; }
  // Folders (paths without trailing slash; "" is the root) that directly hold `file`.
  std::vector<std::string> folders_with(const std::string& file) const;
  // A Tree view of one folder inside the archive.
  TreePtr tree(const std::string& folder) const;
  const std::map<std::string, Member>& members() const { return members_; }
  bool compressed() const { return compressed_; }
  uint64_t kept_bytes() const { return kept_; }

 private:
  std::string path_;
  std::map<std::string, Member> members_;
  bool compressed_ = false;
  uint64_t kept_ = 0;
  friend class ArchiveTree;
};

// A libarchive read handle over one archive file with the formats vdsokit reads and the limits above;
// shared by the reader, the on-demand member reads and the rewriter. Errors never lose libarchive's
// message (which can be NULL) and carry the byte offset in the archive file.
class Reader {
 public:
  static Expected<std::unique_ptr<Reader>> open(const std::string& path);
  // The same over a stream that `read` supplies (libarchive's read callback: sets *buf, returns the
  // bytes there, 0 at the end, -1 on error after archive_set_error). `name` is used in errors. For
  // vdsokit's own output read back while it is written (the rewrite's verify step): the expansion
  // ratio limit, which needs the compressed size, does not apply; the stream-size limit does.
  using ReadFn = long (*)(struct archive*, void* client, const void** buf);
  static Expected<std::unique_ptr<Reader>> open_stream(const std::string& name, void* client, ReadFn read);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The next header, or nullptr at the end. The limits are checked here, before any data is read.
  Expected<struct archive_entry*> next();
  // Reads up to `len` bytes of the current member's data; 0 at its end.
  Expected<size_t> read(void* out, size_t len);
  // Normalised path of the current member and the index of its header.
  const std::string& member() const { return member_; }
  uint64_t ordinal() const { return ordinal_ - 1; }
  // Byte offset of the current member's data in the archive file (plain archives only).
  uint64_t data_offset() const;
  bool compressed() const;
  uint64_t file_size() const { return file_size_; }
  struct archive* handle() { return a_; }
  // An error about the archive at the current position: "<what>: <libarchive's message>".
  Error error(const std::string& what) const;

 private:
  Reader() = default;
  struct archive* a_ = nullptr;
  std::string path_, member_;
  uint64_t ordinal_ = 0, file_size_ = 0;
};

// The member path as the reader names it (leading "./" and trailing "/" dropped).
std::string normalise(std::string p);
// libarchive's error string for `a`, or `fallback` when it has none (it can be NULL).
std::string error_text(struct archive* a, const char* fallback = "unknown libarchive error");

// archive_write_set_format / archive_write_add_filter for the formats and compressions Reader reads
// (a format or filter code as archive_format / archive_filter_code return it); ARCHIVE_FATAL with the
// error set on `w` for any other.
int write_set_format(struct archive* w, int code);
int write_add_filter(struct archive* w, int code);

// Whether `path` names a file libarchive should read as an archive (by content, not extension).
bool looks_like_archive(const std::string& path);

}  // namespace vk::archive
