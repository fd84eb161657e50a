// A set of file replacements applied together: every new content is staged in memory, then each file
// is replaced atomically (formats/common/atomic.h). Either a file is untouched or fully rewritten.
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

}  // namespace vk::rewrite
