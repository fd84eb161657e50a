// /proc/PID/maps text: the live process's view of its mappings (kernel layout of [vvar],
// [vvar_vclock] and [vdso]; the runtime pair a proxy restore leaves). One parser for every user.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::procmaps {

struct Line {
  uint64_t start = 0, end = 0;
  std::string perms;        // "r-xp"
  uint64_t pgoff = 0;
  std::string dev;          // "00:00"
  uint64_t inode = 0;
  std::string name;         // "[vdso]", "/usr/lib/...", "" for anonymous
};

// Parses maps text; empty lines are skipped. Errors name `label` and the 1-based line.
Expected<std::vector<Line>> parse(const std::string& text, const std::string& label);

// The first line named `name` (e.g. "[vdso]"), or nullptr.
const Line* find(const std::vector<Line>& lines, const std::string& name);

}  // namespace vk::procmaps
