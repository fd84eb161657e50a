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

namespace {

Error io_error(const std::string& path, const std::string& what) { return bad_input(path, what + ": " + std::strerror(errno)); }

// A temporary beside `path` holding its bytes with `patches` applied, fsynced, with the target's mode.
Expected<std::string> patched_temp_beside(const std::string& path, const std::vector<Patch>& patches) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return io_error(path, "cannot open");
  struct stat st {};
  if (::fstat(in, &st) != 0) {
    Error e = io_error(path, "cannot stat");
    ::close(in);
    return e;
  }
  for (const auto& p : patches)
    if (p.offset > uint64_t(st.st_size) || p.bytes.size() > uint64_t(st.st_size) - p.offset) {
      ::close(in);
      return bad_input_at(path, p.offset, "patch of " + std::to_string(p.bytes.size()) + " bytes past the end of the file");
    }
  // The temporary starts empty (write_temp_beside with no bytes), keeps the target's mode, and is
  // filled here by copy_file_range (in-kernel copy; a reflink where the file system can).
  auto tmp = write_temp_beside(path, {});
  if (!tmp) {
    ::close(in);
    return tmp.error();
  }
  int out = ::open(tmp->c_str(), O_WRONLY | O_CLOEXEC);
  auto fail = [&](const std::string& what) {
    Error e = io_error(path, what);
    ::close(in);
    if (out >= 0) ::close(out);
    ::unlink(tmp->c_str());
    return e;
  };
  if (out < 0) return fail("cannot open the temporary file");
  uint64_t left = uint64_t(st.st_size);
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(n == 0 ? "file shrank while copying" : "copy failed");
    left -= uint64_t(n);
  }
  for (const auto& p : patches) {
    size_t done = 0;
    while (done < p.bytes.size()) {
      ssize_t n = ::pwrite(out, p.bytes.data() + done, p.bytes.size() - done, off_t(p.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail("write failed");
      done += size_t(n);
    }
  }
  if (::fsync(out) != 0) return fail("fsync failed");
  ::close(in);
  if (::close(out) != 0) {
    ::unlink(tmp->c_str());
    return io_error(path, "close failed");
  }
  return *tmp;
}

}  // namespace

Status Transaction::commit() {
  // Phase 1: every temporary written and fsynced before any target changes.
  std::vector<std::string> temps;
  for (const auto& f : staged_) {
    auto t = f.patches.empty() ? write_temp_beside(f.path, f.bytes) : patched_temp_beside(f.path, f.patches);
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
