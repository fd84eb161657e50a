// Helpers shared by the libFuzzer targets (fuzz/README.md): inputs from bytes, without touching disk.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/source.h"

namespace vk::fuzz {

// An anonymous in-memory file (memfd) holding `data`, for readers that take a path: its name is
// /proc/self/fd/N, so the target creates no file anywhere and needs no clean-up beyond close().
struct MemFile {
  int fd = -1;
  std::string path;
  MemFile(const uint8_t* data, size_t size) {
    fd = ::memfd_create("vk-fuzz", MFD_CLOEXEC);
    if (fd < 0) return;
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() {
    if (fd >= 0) ::close(fd);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
};

// An image-set folder held in memory. The fuzz input is a sequence of files, each
//   u8 name length, name bytes, u32 LE content length, content bytes
// (fuzz/mkseed.py writes real fixture folders in this form). A `parent` file becomes a link to a
// second folder built from the bytes after a "\0PARENT\0" separator, when present.
class MemTree final : public Tree {
 public:
  MemTree(std::string name, std::map<std::string, std::vector<uint8_t>> files, std::shared_ptr<const Tree> parent)
      : name_(std::move(name)), files_(std::move(files)), parent_(std::move(parent)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : files_) out.push_back(k);
    return out;
  }
  bool has(const std::string& f) const override { return files_.count(f) != 0; }
  Expected<BlobPtr> open(const std::string& f) const override {
    auto it = files_.find(f);
    if (it == files_.end()) return bad_input(name_ + "/" + f, "cannot open: no such file");
    return memory_blob(name_ + "/" + f, it->second);
  }
  Expected<std::shared_ptr<const Tree>> follow(const std::string& link) const override {
    if (link != "parent" || !parent_) return std::shared_ptr<const Tree>();
    return parent_;
  }
  std::string identity() const override { return name_; }

 private:
  std::string name_;
  std::map<std::string, std::vector<uint8_t>> files_;
  std::shared_ptr<const Tree> parent_;
};

inline std::map<std::string, std::vector<uint8_t>> split_files(const uint8_t* data, size_t size) {
  std::map<std::string, std::vector<uint8_t>> files;
  size_t i = 0;
  while (i < size) {
    size_t nlen = data[i++];
    if (size - i < nlen) break;
    std::string name(reinterpret_cast<const char*>(data + i), nlen);
    i += nlen;
    if (size - i < 4) break;
    uint32_t len = uint32_t(data[i]) | uint32_t(data[i + 1]) << 8 | uint32_t(data[i + 2]) << 16 | uint32_t(data[i + 3]) << 24;
    i += 4;
    if (len > size - i) len = uint32_t(size - i);
    files[name].assign(data + i, data + i + len);
    i += len;
  }
  return files;
}

inline std::shared_ptr<const Tree> mem_tree(const uint8_t* data, size_t size) {
  static const char sep[] = "\0PARENT\0";
  const uint8_t* end = data + size;
  // memmem, not std::search: an instrumented search over every byte of a 256 KiB input was 70% of
  // fuzz_imageset's time (and its comparisons only taught the fuzzer about the separator).
  const void* hit = ::memmem(data, size, sep, sizeof sep - 1);
  const uint8_t* cut = hit ? static_cast<const uint8_t*>(hit) : end;
  std::shared_ptr<const Tree> parent;
  if (cut != end) {
    const uint8_t* p = cut + sizeof sep - 1;
    parent = std::make_shared<MemTree>("fuzz/parent", split_files(p, size_t(end - p)), nullptr);
  }
  return std::make_shared<MemTree>("fuzz", split_files(data, size_t(cut - data)), parent);
}

}  // namespace vk::fuzz
