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

struct Sha256::Impl {
  llvm::SHA256 h;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;

void Sha256::update(std::span<const uint8_t> bytes) { impl_->h.update(llvm::ArrayRef<uint8_t>(bytes.data(), bytes.size())); }

std::string Sha256::hex() {
  // final() is a StringRef on LLVM 14 and a std::array from 15 on: both have data() and size().
  auto d = impl_->h.final();
  return llvm::toHex(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(d.data()), d.size()), /*LowerCase=*/true);
}

}  // namespace vk
