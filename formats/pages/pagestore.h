// A process's memory from its images: address range -> bytes, through pagemap runs, pages-<id>.img
// offsets and the `parent` chain of incremental dumps (docs/criu-images.md §1.5, §1.6).
// Only the bytes asked for are read (pread); pages files are never loaded whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/criu/imageset.h"

namespace vk::pages {

// Where a piece of a read came from.
struct Origin {
  int depth = 0;                  // 0 = this image set, 1 = its parent, ...
  std::string pagemap_file;
  criu::PageRun run;
  std::string pages_file;
  uint64_t pages_offset = 0;      // byte offset in pages_file of the first byte read
  uint64_t addr = 0;              // first address read from this run
  uint64_t len = 0;
};

struct Read {
  std::vector<uint8_t> bytes;
  std::vector<Origin> origins;
};

class PageStore {
 public:
  // Opens the pagemap of `pid` in `set` and in every parent; detects parent loops.
  static Expected<PageStore> open(const criu::ImageSet& set, uint32_t pid);

  Expected<Read> read(uint64_t addr, uint64_t len) const;
  // The run covering `addr` in the top layer, if any.
  const criu::PageRun* find(uint64_t addr) const;
  const criu::Pagemap& pagemap() const { return layers_.front().pagemap; }
  size_t depth() const { return layers_.size(); }

 private:
  struct Layer {
    TreePtr tree;
    criu::Pagemap pagemap;
    mutable BlobPtr pages;        // opened on first use
  };
  Status read_layer(size_t depth, uint64_t addr, uint64_t len, uint8_t* out, std::vector<Origin>& origins) const;
  Expected<BlobPtr> pages_blob(const Layer& layer) const;

  std::vector<Layer> layers_;
};

// Upper bound on a single read: the vDSO is a few pages; a larger request is a caller bug or hostile input.
inline constexpr uint64_t kMaxRead = 64ull << 20;

}  // namespace vk::pages
