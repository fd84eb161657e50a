// Atomic file replacement: write a temporary file beside the target, fsync it, rename it over the
// target, fsync the directory. An interrupted run leaves the target either untouched or complete.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "formats/common/error.h"

namespace vk {
Status write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, unsigned mode = 0644);
}
