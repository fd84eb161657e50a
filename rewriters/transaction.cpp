#include "rewriters/transaction.h"

#include "formats/common/atomic.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace vk::rewrite {

Status Transaction::commit() {
  // Phase 1: every temporary written and fsynced before any target changes.
  std::vector<std::string> temps;
  for (const auto& f : staged_) {
    auto t = write_temp_beside(f.path, f.bytes);
    if (!t) {
      for (const auto& tmp : temps) ::unlink(tmp.c_str());
      return t.error();
    }
    temps.push_back(*t);
  }
  // Phase 2: renames, then one fsync per directory.
  std::set<std::string> dirs;
  for (size_t i = 0; i < staged_.size(); ++i) {
    if (::rename(temps[i].c_str(), staged_[i].path.c_str()) != 0) {
      Error e = bad_input(staged_[i].path, std::string("rename failed: ") + std::strerror(errno));
      for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      return e;
    }
    dirs.insert(directory_of(staged_[i].path));
  }
  for (const auto& d : dirs) VK_CHECK(fsync_directory(d));
  staged_.clear();
  return Status::ok();
}

}  // namespace vk::rewrite
