// Reading the vDSO layout of a process from its /proc/<pid>/maps text (used for the host entry).
#pragma once

#include <cstdint>
#include <string>

#include "formats/catalog/catalog.h"

namespace vk::catalog {

struct MapsLayout {
  uint64_t vdso_start = 0, vdso_end = 0;
  uint64_t vdso_pages = 0, vvar_pages = 0, vvar_vclock_pages = 0;
  Order order = Order::SingleZone;
};

// [vdso], [vvar] and [vvar_vclock] lines of a maps text; error when there is no [vdso] or the data
// zones do not touch it (docs/vdso-restore.md §4.1 items 1-2).
Expected<MapsLayout> layout_from_maps(const std::string& text, const std::string& name);

}  // namespace vk::catalog
