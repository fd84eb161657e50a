#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace vk {
// Lower-case hex SHA-256 (nettle's implementation).
std::string sha256_hex(std::span<const uint8_t> bytes);

// The same hash fed in pieces (files hashed without reading them whole).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void update(std::span<const uint8_t> bytes);
  std::string hex();   // once, at the end

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
}
