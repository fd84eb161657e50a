// vDSO ELF through libObject (after our own structure checks), trampolines and marks, the catalog
// entry built from it, and the .altinstructions scan.
#include <cstdint>
#include <vector>

#include "formats/catalog/catalog.h"
#include "formats/kernel/carve.h"
#include "formats/vdso/vdso.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  auto v = vk::vdso::parse("fuzz.so", bytes);
  if (v) {
    (void)v->entry_points();
    (void)v->version_string();
  }
  (void)vk::catalog::entry_from_vdso("fuzz.so", bytes);
  (void)vk::kernel::alt_patch_sites(std::span(data, size), "fuzz.so");
  return 0;
}
