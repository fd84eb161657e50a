#include "formats/common/checksum.h"

#include <llvm/Support/xxhash.h>

#include <cstring>

namespace vk {

namespace {
constexpr size_t kChunk = 256 * 1024;
}

StreamHash::StreamHash() : buf_(kChunk) {}

void StreamHash::flush() {
  uint64_t c = llvm::xxHash64(llvm::ArrayRef<uint8_t>(buf_.data(), used_));
  uint64_t pair[2] = {h_, c};
  h_ = llvm::xxHash64(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(pair), sizeof pair));
  used_ = 0;
}

void StreamHash::update(std::span<const uint8_t> bytes) {
  total_ += bytes.size();
  while (!bytes.empty()) {
    size_t n = std::min(bytes.size(), kChunk - used_);
    std::memcpy(buf_.data() + used_, bytes.data(), n);
    used_ += n;
    bytes = bytes.subspan(n);
    if (used_ == kChunk) flush();
  }
}

uint64_t StreamHash::value() {
  if (used_) flush();
  return h_ ^ total_;
}

}  // namespace vk
