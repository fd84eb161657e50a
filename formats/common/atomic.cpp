#include "formats/common/atomic.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vk {

namespace {
Error io_error(const std::string& path, const char* what) {
  Error e = bad_input(path, std::string(what) + ": " + std::strerror(errno));
  e.exit_code = kExitBadInput;
  return e;
}
}  // namespace

Status write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, unsigned mode) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".vk-XXXXXX")).string();
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
  if (::fchmod(fd, mode) != 0) return fail("chmod failed");
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return io_error(path, "close failed");
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    Error e = io_error(path, "rename failed");
    ::unlink(tmpl.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error(dir.string(), "cannot open directory for fsync");
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_error(dir.string(), "directory fsync failed");
  return Status::ok();
}

}  // namespace vk
