// Catalog YAML (user catalogs given with --catalog): parse, merge into the built-in one, write back.
#include <cstdint>
#include <string>

#include "formats/catalog/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // "" as the directory: relative `file` paths stay relative and are never opened here.
  auto cat = vk::catalog::Catalog::parse(text, "fuzz.yaml", "");
  if (!cat) return 0;
  (void)cat->to_yaml();
  vk::catalog::Catalog merged;
  (void)merged.merge(*cat);
  return 0;
}
