#include "rewriters/transaction.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace vk::rewrite {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& path, const std::string& what) {
  return bad_input(path, what + ": " + std::strerror(errno));
}

std::string dir_of(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

Status fsync_dir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error(dir, "cannot open directory for fsync");
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_error(dir, "directory fsync failed");
  return Status::ok();
}

}  // namespace

Expected<std::string> write_temp_beside(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::path target(path);
  std::string tmpl = (fs::path(dir_of(path)) / ("." + target.filename().string() + ".vk-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return io_error(path, "cannot create temporary file");
  auto fail = [&](const char* what) {
    Error e = io_error(path, what);
    ::close(fd);
    ::unlink(tmpl.c_str());
    return e;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write failed");
    done += size_t(n);
  }
  // Keep the target's permission bits: CRIU images are often 0600 and must not become world-readable.
  struct stat st {};
  mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) return fail("chmod failed");
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return io_error(path, "close failed");
  }
  return tmpl;
}

Status replace_with(const std::string& tmp, const std::string& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = io_error(path, "rename failed");
    ::unlink(tmp.c_str());
    return e;
  }
  return fsync_dir(dir_of(path));
}

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
      Error e = io_error(staged_[i].path, "rename failed");
      for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      return e;
    }
    dirs.insert(dir_of(staged_[i].path));
  }
  for (const auto& d : dirs) VK_CHECK(fsync_dir(d));
  staged_.clear();
  return Status::ok();
}

}  // namespace vk::rewrite
