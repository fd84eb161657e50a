// An image set: the images of one `criu dump` (a directory, or a folder inside an archive), with
// typed access to inventory, pstree, and per-process mm/core/pagemap, and the `parent` chain.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"
#include "formats/criu/image.h"
#include "core.pb.h"
#include "inventory.pb.h"
#include "mm.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"

namespace vk::criu {

// VMA status bits (docs/criu-images.md §3.1; CRIU criu/include/image.h).
enum VmaStatus : uint32_t {
  kVmaRegular = 1u << 0,
  kVmaStack = 1u << 1,
  kVmaVsyscall = 1u << 2,
  kVmaVdso = 1u << 3,
  kVmaHeap = 1u << 5,
  kVmaFilePrivate = 1u << 6,
  kVmaFileShared = 1u << 7,
  kVmaAnonShared = 1u << 8,
  kVmaAnonPrivate = 1u << 9,
  kVmaSysvipc = 1u << 10,
  kVmaSocket = 1u << 11,
  kVmaVvar = 1u << 12,
  kVmaAioring = 1u << 13,
  kVmaMemfd = 1u << 14,
  kVmaShstk = 1u << 15,
  kVmaGuard = 1u << 16,
  kVmaUprobes = 1u << 17,
  kVmaUnsupp = 1u << 31,
};

// Pagemap flags (docs/criu-images.md §1.5).
enum PagemapFlag : uint32_t { kPeParent = 1, kPeLazy = 2, kPePresent = 4 };

// AT_* auxv types used here.
inline constexpr uint64_t kAtNull = 0, kAtSysinfo = 32, kAtSysinfoEhdr = 33;

// One pagemap run, normalised across schemas (§1.5 "Legacy and compat normalisation").
struct PageRun {
  uint64_t vaddr = 0;
  uint64_t nr_pages = 0;
  uint32_t flags = 0;
  size_t index = 0;              // 0-based entry index after the head
  uint64_t file_offset = 0;      // offset of the entry in the pagemap file
  bool count_in_field5 = false;  // CRIU >= 4.2 schema (field 2 = 0, count in field 5)
  bool legacy_in_parent = false; // pre-3.5 in_parent flag
  bool flags_present = false;
  uint64_t pages_offset = 0;     // byte offset in pages-<id>.img (PE_PRESENT runs only)

  uint64_t end() const { return vaddr + nr_pages * kPageSize; }
};

struct Pagemap {
  std::string file;              // pagemap-<pid>.img
  uint32_t pages_id = 0;
  std::vector<PageRun> runs;
  // Which schema wrote it: "4.2" (field 5), "4.1" (field 2), "mixed", or "empty".
  std::string schema() const;
};

class ImageSet {
 public:
  static Expected<ImageSet> open(TreePtr tree);

  const Tree& tree() const { return *tree_; }
  TreePtr tree_ptr() const { return tree_; }
  const std::string& name() const { return tree_->name(); }
  const img::inventory_entry& inventory() const { return inventory_; }
  const std::vector<img::pstree_entry>& pstree() const { return pstree_; }

  Expected<img::mm_entry> mm(uint32_t pid) const;
  Expected<img::core_entry> core(uint32_t tid) const;
  Expected<Pagemap> pagemap(uint32_t pid) const;
  // The parent image set (the `parent` link), or an empty pointer when there is none.
  Expected<std::shared_ptr<ImageSet>> parent() const;

 private:
  TreePtr tree_;
  img::inventory_entry inventory_;
  std::vector<img::pstree_entry> pstree_;
};

Expected<Image> open_image(const Tree& tree, const std::string& file, uint64_t limit = kMaxImageBytes);
Expected<Pagemap> parse_pagemap(const Image& img);
// mm-<pid>.img of a tree that need not be a whole image set yet (an archive being streamed).
Expected<img::mm_entry> read_mm(const Tree& tree, uint32_t pid);

std::string mm_file(uint32_t pid);
std::string core_file(uint32_t tid);
std::string pagemap_file(uint32_t pid);
std::string pages_file(uint32_t pages_id);

// Whether a tree looks like an image set (has inventory.img).
bool is_image_set(const Tree& tree);

}  // namespace vk::criu
