#include "formats/common/sha256.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/SHA256.h>

namespace vk {

std::string sha256_hex(std::span<const uint8_t> bytes) {
  // SHA256::hash returns std::array<uint8_t, 32> on every LLVM from 14 to 19.
  auto digest = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(bytes.data(), bytes.size()));
  return llvm::toHex(llvm::ArrayRef<uint8_t>(digest.data(), digest.size()), /*LowerCase=*/true);
}

}  // namespace vk
