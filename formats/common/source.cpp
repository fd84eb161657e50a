#include "formats/common/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vk {

namespace fs = std::filesystem;

Expected<std::vector<uint8_t>> Blob::read_all(uint64_t limit) const {
  if (size() > limit)
    return bad_input(name(), "file is " + std::to_string(size()) + " bytes, more than the " +
                                 std::to_string(limit) + " this reader accepts");
  return read_range(0, static_cast<size_t>(size()));
}

Expected<std::vector<uint8_t>> Blob::read_range(uint64_t offset, size_t len) const {
  if (offset > size() || len > size() - offset)
    return bad_input_at(name(), offset,
                        "range of " + std::to_string(len) + " bytes past end of file (" +
                            std::to_string(size()) + " bytes)");
  std::vector<uint8_t> out(len);   // bounded by the real file size checked above
  // An empty vector's data() may be null, and no reader may pass null to memcpy even for 0 bytes (C11
  // 7.24.1; fuzz_pages and fuzz_imageset found it with an empty inventory.img under UBSan).
  if (len == 0) return out;
  VK_CHECK(read(offset, out.data(), len));
  return out;
}

namespace {

class DiskBlob final : public Blob {
 public:
  DiskBlob(std::string name, int fd, uint64_t size) : name_(std::move(name)), fd_(fd), size_(size) {}
  ~DiskBlob() override { ::close(fd_); }
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, void* out, size_t len) const override {
    if (offset > size_ || len > size_ - offset)
      return bad_input_at(name_, offset, "read of " + std::to_string(len) + " bytes past end of file");
    auto* p = static_cast<uint8_t*>(out);
    while (len > 0) {
      ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return bad_input_at(name_, offset, std::string("read failed: ") + std::strerror(errno));
      if (n == 0) return bad_input_at(name_, offset, "file shrank while reading");
      p += n;
      offset += static_cast<uint64_t>(n);
      len -= static_cast<size_t>(n);
    }
    return Status::ok();
  }

 private:
  std::string name_;
  int fd_;
  uint64_t size_;
};

class MemoryBlob final : public Blob {
 public:
  MemoryBlob(std::string name, std::vector<uint8_t> bytes) : name_(std::move(name)), bytes_(std::move(bytes)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }
  Status read(uint64_t offset, void* out, size_t len) const override {
    if (offset > bytes_.size() || len > bytes_.size() - offset)
      return bad_input_at(name_, offset, "read of " + std::to_string(len) + " bytes past end of file");
    if (len) std::memcpy(out, bytes_.data() + offset, len);
    return Status::ok();
  }

 private:
  std::string name_;
  std::vector<uint8_t> bytes_;
};

class DiskTree final : public Tree {
 public:
  explicit DiskTree(std::string path) : path_(std::move(path)) {}
  const std::string& name() const override { return path_; }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(path_, ec))
      if (e.is_regular_file(ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  bool has(const std::string& file) const override {
    std::error_code ec;
    return fs::is_regular_file(fs::path(path_) / file, ec);
  }
  Expected<BlobPtr> open(const std::string& file) const override {
    return open_file((fs::path(path_) / file).string());
  }
  Expected<std::shared_ptr<const Tree>> follow(const std::string& link) const override {
    fs::path p = fs::path(path_) / link;
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (!fs::exists(st)) return std::shared_ptr<const Tree>();
    if (fs::is_regular_file(st)) {
      // Copies made without symlink support (git with core.symlinks=false, some archivers) turn the
      // link into a small file holding its target; follow it the same way.
      VK_TRY(blob, open_file(p.string()));
      if (blob->size() > 4096) return bad_input(p.string(), "is a regular file, not a link to a parent image set");
      VK_TRY(bytes, blob->read_all(4096));
      std::string target(bytes.begin(), bytes.end());
      while (!target.empty() && (target.back() == '\n' || target.back() == '\0')) target.pop_back();
      p = fs::path(path_) / target;
    }
    if (!fs::is_directory(p, ec))
      return bad_input(p.string(), "link does not lead to a directory (dangling?)");
    return std::shared_ptr<const Tree>(std::make_shared<DiskTree>(p.string()));
  }
  std::string identity() const override {
    std::error_code ec;
    auto c = fs::canonical(path_, ec);
    return ec ? path_ : c.string();
  }
  std::string file_type(const std::string& file) const override {
    struct stat st {};
    if (::lstat((fs::path(path_) / file).c_str(), &st) != 0) return "missing";
    if (S_ISREG(st.st_mode)) return "regular";
    if (S_ISDIR(st.st_mode)) return "directory";
    if (S_ISLNK(st.st_mode)) return "symlink";
    if (S_ISFIFO(st.st_mode)) return "fifo";
    return "other";
  }

 private:
  std::string path_;
};

}  // namespace

BlobPtr memory_blob(std::string name, std::vector<uint8_t> bytes) {
  return std::make_shared<MemoryBlob>(std::move(name), std::move(bytes));
}

Expected<BlobPtr> open_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO (or a device) for reading would block until a writer appears; the
  // type is checked on the open descriptor, so nothing can swap the file between check and read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return bad_input(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return bad_input(path, S_ISFIFO(st.st_mode) ? "not a regular file (a FIFO)" : "not a regular file");
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so reads keep their ordinary meaning.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return BlobPtr(std::make_shared<DiskBlob>(path, fd, static_cast<uint64_t>(st.st_size)));
}

Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t limit) {
  VK_TRY(blob, open_file(path));
  return blob->read_all(limit);
}

Expected<TreePtr> open_directory(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return bad_input(path, "not a directory");
  return TreePtr(std::make_shared<DiskTree>(path));
}

}  // namespace vk
