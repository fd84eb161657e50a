#include "formats/common/checksum.h"

#include <llvm/Support/xxhash.h>

#include <cstring>

namespace vk {

namespace {
constexpr size_t kChunk = 256 * 1024;
}

StreamHash::StreamHash() : buf_(kChunk) {}

void StreamHash::chain(const uint8_t* chunk, size_t n) {
  uint64_t c = llvm::xxHash64(llvm::ArrayRef<uint8_t>(chunk, n));
  uint64_t pair[2] = {h_, c};
  h_ = llvm::xxHash64(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(pair), sizeof pair));
}

void StreamHash::flush() {
  chain(buf_.data(), used_);
  used_ = 0;
}

void StreamHash::update(std::span<const uint8_t> bytes) {
  total_ += bytes.size();
  // Whole chunks at a chunk boundary are hashed where they are (the copies and the verify read in
  // chunks of this size); the rest goes through the buffer. The same chunks either way.
  while (used_ == 0 && bytes.size() >= kChunk) {
    chain(bytes.data(), kChunk);
    bytes = bytes.subspan(kChunk);
  }
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
