// A set of file replacements applied together: every new content is staged in memory, then written
// in two phases. Phase 1 writes and fsyncs a temporary file beside each target; a failure there
// removes every temporary file and leaves every target untouched. Phase 2 renames each temporary
// over its target (rename(2) is atomic per file) and fsyncs each directory, so a crash leaves each
// file either untouched or fully rewritten (both steps come from formats/common/atomic.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

class Transaction {
 public:
  void stage(std::string path, std::vector<uint8_t> bytes) { staged_.push_back({std::move(path), std::move(bytes), {}}); }
  // The file's current bytes with `patches` written over them: the temporary is a copy (never read
  // into memory whole), patched, fsynced; each patch must lie inside the file.
  void stage_patched(std::string path, std::vector<Patch> patches) {
    staged_.push_back({std::move(path), {}, std::move(patches)});
  }
  size_t size() const { return staged_.size(); }
  // Writes every staged file; stops at the first failure and names it.
  Status commit();

 private:
  struct File {
    std::string path;
    std::vector<uint8_t> bytes;
    std::vector<Patch> patches;
  };
  std::vector<File> staged_;
};

}  // namespace vk::rewrite
