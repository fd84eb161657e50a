// Checkpoint archives (Podman/CRI-O `checkpoint/` layout, .tar, .tar.gz, .tar.zst, ...) read in place
// through libarchive: members are streamed into memory, nothing is extracted to disk.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"

namespace vk::archive {

// Total bytes of members held in memory for one archive; larger archives are refused.
inline constexpr uint64_t kMaxArchiveBytes = 4ull << 30;

struct Member {
  std::string path;                 // normalised, no leading "./"
  bool is_dir = false;
  std::string link_target;          // symlinks
  BlobPtr blob;                     // regular files
};

class Archive : public std::enable_shared_from_this<Archive> {
 public:
  static Expected<std::shared_ptr<Archive>> open(const std::string& path);
  const std::string& path() const { return path_; }
  // Folders (paths without trailing slash; "" is the root) that directly hold `file`.
  std::vector<std::string> folders_with(const std::string& file) const;
  // A Tree view of one folder inside the archive.
  TreePtr tree(const std::string& folder) const;
  const std::map<std::string, Member>& members() const { return members_; }

 private:
  std::string path_;
  std::map<std::string, Member> members_;
  friend class ArchiveTree;
};

// Whether `path` names a file libarchive should read as an archive (by content, not extension).
bool looks_like_archive(const std::string& path);

}  // namespace vk::archive
