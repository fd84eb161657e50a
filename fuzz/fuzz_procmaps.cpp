// /proc/PID/maps text.
#include <cstdint>
#include <string>

#include "formats/procmaps/maps.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto lines = vk::procmaps::parse(text, "fuzz-maps");
  if (lines) (void)vk::procmaps::find(*lines, "[vdso]");
  return 0;
}
