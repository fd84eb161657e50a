// A set of file replacements applied together: every new content is staged in memory, then written
// in two phases. Phase 1 writes and fsyncs a temporary file beside each target; a failure there
// removes every temporary file and leaves every target untouched. Phase 2 renames each temporary
// over its target (rename(2) is atomic per file) and fsyncs each directory, so a crash leaves each
// file either untouched or fully rewritten (formats/common/atomic.h does the same for one file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::rewrite {

class Transaction {
 public:
  void stage(std::string path, std::vector<uint8_t> bytes) { staged_.push_back({std::move(path), std::move(bytes)}); }
  size_t size() const { return staged_.size(); }
  // Writes every staged file; stops at the first failure and names it.
  Status commit();

 private:
  struct File {
    std::string path;
    std::vector<uint8_t> bytes;
  };
  std::vector<File> staged_;
};

// Writes `bytes` to a new temporary file beside `path` (same directory, so a rename is atomic),
// fsynced, with the target's mode when it exists; returns the temporary path.
Expected<std::string> write_temp_beside(const std::string& path, const std::vector<uint8_t>& bytes);
// Renames `tmp` over `path` and fsyncs the directory.
Status replace_with(const std::string& tmp, const std::string& path);

}  // namespace vk::rewrite
