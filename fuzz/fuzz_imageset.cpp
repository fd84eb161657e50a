// An image set (inventory, pstree, mm, core, pagemap, pages, parent): inspect and its renderers, and
// the pagemap rewriter's planner. Input layout: fuzz/fuzz_util.h (MemTree).
#include <cstdint>

#include "analyzers/inspect.h"
#include "fuzz/fuzz_util.h"
#include "rewriters/pagemap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tree = vk::fuzz::mem_tree(data, size);
  auto set = vk::criu::ImageSet::open(tree);
  if (!set) return 0;
  (void)vk::rewrite::plan_pagemap(*set, vk::rewrite::PagemapSchema::V41);
  (void)vk::rewrite::plan_pagemap(*set, vk::rewrite::PagemapSchema::V42);
  auto r = vk::analyze::inspect(*set, "fuzz");
  if (!r) return 0;
  std::vector<vk::analyze::SetReport> reports{r.take()};
  (void)vk::analyze::render_text(reports);
  (void)vk::analyze::render_json(reports);
  (void)vk::analyze::render_yaml(reports);
  return 0;
}
