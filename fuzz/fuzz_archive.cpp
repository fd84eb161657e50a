// Checkpoint archives through libarchive (the reader API perf owns: formats/archive), then every set
// found inside opened as inspect would.
#include <cstdint>

#include "formats/archive/archive.h"
#include "formats/criu/imageset.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vk::fuzz::MemFile f(data, size);
  if (f.fd < 0) return 0;
  auto ar = vk::archive::Archive::open(f.path);
  if (!ar) return 0;
  for (const auto& folder : (*ar)->folders_with("pstree.img")) {
    auto tree = (*ar)->tree(folder);
    for (const auto& file : tree->files()) {
      auto blob = tree->open(file);
      if (blob && (*blob)->size() > 0) {
        uint8_t b;
        (void)(*blob)->read((*blob)->size() - 1, &b, 1);
      }
    }
    (void)tree->follow("parent");
    auto set = vk::criu::ImageSet::open(tree);
    if (set) (void)set->parent();
  }
  return 0;
}
