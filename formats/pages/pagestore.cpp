#include "formats/pages/pagestore.h"

#include <algorithm>
#include <set>

namespace vk::pages {

using criu::kPageSize;
using criu::kPeLazy;
using criu::kPeParent;
using criu::kPePresent;

namespace {
constexpr size_t kMaxParents = 64;
// Runs held across the whole parent chain: each layer may be a kMaxEntries pagemap, but 64 of them
// would hold gigabytes (issue 12: memory for one input stays under 256 MiB).
constexpr size_t kMaxRuns = size_t(1) << 20;
}

Expected<PageStore> PageStore::open(const criu::ImageSet& set, uint32_t pid) {
  PageStore store;
  std::set<std::string> seen;
  size_t runs = 0;
  TreePtr tree = set.tree_ptr();
  while (tree) {
    if (!seen.insert(tree->identity()).second)
      return bad_input(tree->name(), "parent links form a loop");
    if (store.layers_.size() == kMaxParents)
      return bad_input(tree->name(), "more than " + std::to_string(kMaxParents) + " parent image sets");
    VK_TRY(img, criu::open_image(*tree, criu::pagemap_file(pid)));
    VK_TRY(pm, criu::parse_pagemap(img));
    runs += pm.runs.size();
    if (runs > kMaxRuns)
      return bad_input(img.name, "the pagemaps of this process and its parents hold more than " +
                                     std::to_string(kMaxRuns) + " runs (limit of this reader)");
    store.layers_.push_back(Layer{tree, std::move(pm), nullptr});
    VK_TRY(parent, tree->follow("parent"));
    tree = parent;
  }
  return store;
}

const criu::PageRun* PageStore::find(uint64_t addr) const {
  const auto& runs = layers_.front().pagemap.runs;
  auto it = std::upper_bound(runs.begin(), runs.end(), addr,
                             [](uint64_t a, const criu::PageRun& r) { return a < r.vaddr; });
  if (it == runs.begin()) return nullptr;
  --it;
  return addr < it->end() ? &*it : nullptr;
}

Expected<BlobPtr> PageStore::pages_blob(const Layer& layer) const {
  if (!layer.pages) {
    auto name = criu::pages_file(layer.pagemap.pages_id);
    if (!layer.tree->has(name))
      return bad_input(layer.tree->name() + "/" + name, "pages file named by " + layer.pagemap.file + " is missing");
    VK_TRY(blob, layer.tree->open(name));
    layer.pages = blob;
  }
  return layer.pages;
}

Status PageStore::read_layer(size_t depth, uint64_t addr, uint64_t len, uint8_t* out,
                             std::vector<Origin>& origins) const {
  const Layer& layer = layers_[depth];
  const auto& runs = layer.pagemap.runs;
  uint64_t end = addr + len;
  while (addr < end) {
    auto it = std::upper_bound(runs.begin(), runs.end(), addr,
                               [](uint64_t a, const criu::PageRun& r) { return a < r.vaddr; });
    if (it == runs.begin() || addr >= std::prev(it)->end())
      return bad_input(layer.pagemap.file, "address " + hex(addr) + " is in no pagemap entry" +
                                               (depth ? " of parent image set " + layer.tree->name() : ""));
    const criu::PageRun& run = *std::prev(it);
    uint64_t chunk = std::min(end, run.end()) - addr;
    if (run.flags & kPePresent) {
      VK_TRY(blob, pages_blob(layer));
      uint64_t off = run.pages_offset + (addr - run.vaddr);
      if (off > blob->size() || chunk > blob->size() - off)
        return bad_input_at(blob->name(), off,
                            "pagemap entry #" + std::to_string(run.index) + " of " + layer.pagemap.file +
                                " points past the end of the pages file (" + std::to_string(blob->size()) + " bytes)");
      VK_CHECK(blob->read(off, out, chunk));
      origins.push_back(Origin{int(depth), layer.pagemap.file, run, blob->name(), off, addr, chunk});
    } else if (run.flags & kPeParent) {
      if (depth + 1 >= layers_.size())
        return bad_input_at(layer.pagemap.file, run.file_offset,
                            "entry #" + std::to_string(run.index) + " says the pages are in the parent, but there is no parent link");
      VK_CHECK(read_layer(depth + 1, addr, chunk, out, origins));
    } else if (run.flags & kPeLazy) {
      return bad_input_at(layer.pagemap.file, run.file_offset,
                          "entry #" + std::to_string(run.index) + " is lazy: its pages are not in the image (page server / lazy-pages dump)");
    } else {
      return bad_input_at(layer.pagemap.file, run.file_offset,
                          "entry #" + std::to_string(run.index) + " has no data flags (" + hex(run.flags) + ")");
    }
    out += chunk;
    addr += chunk;
  }
  return Status::ok();
}

Expected<Read> PageStore::read(uint64_t addr, uint64_t len) const {
  // Sizes come from the images (a VMA's end - start): a refusal is bad input naming the pagemap and
  // the run the read starts in (issue 12, D12: a 1 GiB vDSO VMA gave a usage error without a file).
  if (len > kMaxRead || addr + len < addr) {
    const auto* run = find(addr);
    std::string what = "read of " + std::to_string(len) + " bytes at " + hex(addr) +
                       (len > kMaxRead ? " exceeds the page store limit of " + std::to_string(kMaxRead) + " bytes"
                                       : " wraps the address space");
    return run ? bad_input_at(pagemap().file, run->file_offset, what) : bad_input(pagemap().file, what);
  }
  Read r;
  r.bytes.resize(len);
  VK_CHECK(read_layer(0, addr, len, r.bytes.data(), r.origins));
  return r;
}

}  // namespace vk::pages
