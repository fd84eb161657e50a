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
  struct stat st {};
  mode_t m = mode ? mode_t(*mode) : ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
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
  VK_TRY(tmp, write_temp_beside(path, bytes, mode));
  return replace_with(tmp, path);
}

}  // namespace vk
