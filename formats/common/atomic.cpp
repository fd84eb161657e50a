#include "formats/common/atomic.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vk {

namespace fs = std::filesystem;

namespace {
Error io_error(const std::string& path, const std::string& what) {
  return bad_input(path, what + ": " + std::strerror(errno));
}
}  // namespace

std::string directory_of(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

Status fsync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error(dir, "cannot open directory for fsync");
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_error(dir, "directory fsync failed");
  return Status::ok();
}

Expected<std::string> write_temp_beside(const std::string& path, std::span<const uint8_t> bytes, std::optional<unsigned> mode) {
  std::string tmpl = (fs::path(directory_of(path)) / ("." + fs::path(path).filename().string() + ".vk-XXXXXX")).string();
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
  // The replacement keeps the target's owner and group (root rewriting another user's set must not
  // hand it to root; issue 12, D15), then its permission bits (chown clears set-id bits, so chmod
  // comes second). When the owner cannot be kept the write is refused rather than changing it.
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists) {
    struct stat mine {};
    if (::fstat(fd, &mine) != 0) return fail("fstat failed");
    if ((mine.st_uid != st.st_uid || mine.st_gid != st.st_gid) && ::fchown(fd, st.st_uid, st.st_gid) != 0)
      return fail("cannot keep the file's owner and group (chown)");
  }
  mode_t m = mode ? mode_t(*mode) : exists ? (st.st_mode & 07777) : 0644;
  if (::fchmod(fd, m) != 0) return fail("chmod failed");
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
  return fsync_directory(directory_of(path));
}

Status write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, std::optional<unsigned> mode) {
  // `-o /dev/null`, `-o /dev/stdout` or a FIFO: a device or pipe is written to, never replaced (a
  // rename over /dev/null turned it into a regular file for the whole machine).
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return io_error(path, "cannot open for writing");
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Error e = io_error(path, "write failed");
        ::close(fd);
        return e;
      }
      done += size_t(n);
    }
    if (::close(fd) != 0) return io_error(path, "close failed");
    return Status::ok();
  }
  VK_TRY(tmp, write_temp_beside(path, bytes, mode));
  return replace_with(tmp, path);
}

}  // namespace vk
