// A fast streaming checksum (LLVM's xxHash64 over fixed 256 KiB chunks, chained): for comparing two
// streams of the same bytes read at different times (the archive rewrite's verify step), not for
// identifying content (that is sha256.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace vk {

class StreamHash {
 public:
  StreamHash();
  void update(std::span<const uint8_t> bytes);
  uint64_t value();            // of everything fed; call once, at the end
  uint64_t bytes() const { return total_; }

 private:
  void flush();
  void chain(const uint8_t* chunk, size_t n);
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  uint64_t h_ = 0, total_ = 0;
};

}  // namespace vk
