#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vk {
// Lower-case hex SHA-256 (LLVM's implementation).
std::string sha256_hex(std::span<const uint8_t> bytes);
}
