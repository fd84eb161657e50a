// What a rewriter wants to change in one image set: whole new file contents, computed in memory and
// checked before anything is written (the batch driver writes them through a Transaction or into a
// new archive). An empty plan means the set is already as asked ("unchanged").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vk::rewrite {

// Bytes to write at an offset of an existing file (pages files may be gigabytes: they are copied
// and patched, never built in memory).
struct Patch {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
};

struct FileEdit {
  std::string file;              // file name inside the set's folder
  std::vector<uint8_t> bytes;    // the complete new content (when `patches` is empty)
  std::string detail;            // one line: what changed
  std::vector<Patch> patches;    // instead of `bytes`: the file's own bytes with these written over them
};

struct SetPlan {
  std::vector<FileEdit> edits;
  std::vector<std::string> notes;  // what was left alone and why
};

}  // namespace vk::rewrite
