// Pagemap + pages + parent chain: PageStore reads over every run of every process, and just past.
#include <cstdint>

#include "formats/pages/pagestore.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto set = vk::criu::ImageSet::open(vk::fuzz::mem_tree(data, size));
  if (!set) return 0;
  for (const auto& ps : set->pstree()) {
    auto store = vk::pages::PageStore::open(*set, ps.pid());
    if (!store) continue;
    int reads = 0;
    for (const auto& run : store->pagemap().runs) {
      if (++reads > 64) break;
      (void)store->read(run.vaddr, 4096);
      (void)store->read(run.vaddr + 100, 8192);
      (void)store->read(run.end() - 1, 2);
    }
  }
  return 0;
}
