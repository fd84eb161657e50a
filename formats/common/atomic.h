// Atomic file replacement: write a temporary file beside the target, fsync it, rename it over the
// target, fsync the directory. An interrupted run leaves the target either untouched or complete.
// The two steps are separate so that a multi-file transaction (rewriters/transaction.h) can write
// every temporary before it renames any.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "formats/common/error.h"

namespace vk {

// Writes `bytes` to a new temporary file beside `path` (same directory, so the rename is atomic) and
// fsyncs it. Its mode is `mode`, or else the target's when it exists (CRIU images are often 0600 and
// must not become world-readable), or else 0644; an existing target's owner and group are kept (or the
// write fails). The name is .NAME.vk-XXXXXX (rewriters/transaction.h removes stale ones). Returns its path.
Expected<std::string> write_temp_beside(const std::string& path, std::span<const uint8_t> bytes,
                                        std::optional<unsigned> mode = std::nullopt);
// Renames `tmp` over `path` (removing `tmp` on failure) and fsyncs the directory.
Status replace_with(const std::string& tmp, const std::string& path);
Status fsync_directory(const std::string& dir);
std::string directory_of(const std::string& path);

// Both steps for one file; a character device or FIFO (-o /dev/null) is written to directly instead.
Status write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, std::optional<unsigned> mode = std::nullopt);

}  // namespace vk
