#include "formats/common/sha256.h"

#include <nettle/sha2.h>

namespace vk {

// Nettle's SHA-256 (Debian nettle-dev, already behind libarchive): its x86_64 build picks the SHA
// instructions or assembly at run time, several times faster than LLVM's portable one, which was
// most of the CPU of `check` on many sets (issue 11: every vDSO is hashed twice, ELF and pages).

namespace {

std::string to_hex(const uint8_t* d, size_t n) {
  static const char* x = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) out[2 * i] = x[d[i] >> 4], out[2 * i + 1] = x[d[i] & 15];
  return out;
}

}  // namespace

std::string sha256_hex(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex();
}

struct Sha256::Impl {
  sha256_ctx ctx;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { sha256_init(&impl_->ctx); }
Sha256::~Sha256() = default;

void Sha256::update(std::span<const uint8_t> bytes) { sha256_update(&impl_->ctx, bytes.size(), bytes.data()); }

std::string Sha256::hex() {
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&impl_->ctx, sizeof d, d);
  return to_hex(d, sizeof d);
}

}  // namespace vk
