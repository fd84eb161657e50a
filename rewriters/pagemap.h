// Pagemap schema conversion between CRIU >= 4.2 (count in field 5, field 2 = 0) and <= 4.1 (count in
// field 2, no field 5): docs/criu-images.md §2.3. CRIU <= 4.1 and Debian's crit 3.17 ignore field 5
// and read 0 pages from a 4.2 pagemap; converted to 4.1 they read the real counts, and 4.2 reads both.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"
#include "formats/criu/image.h"
#include "formats/criu/imageset.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

enum class PagemapSchema { V41, V42 };
Expected<PagemapSchema> parse_pagemap_schema(const std::string& s);   // "4.1" | "4.2"
const char* pagemap_schema_name(PagemapSchema s);

struct PagemapConversion {
  size_t entries = 0;            // page runs (entries after the head)
  size_t changed = 0;            // runs re-encoded
  std::optional<std::vector<uint8_t>> bytes;  // the new file, when anything changed
};

// Converts every entry of a pagemap image to `to`, at the wire level: only fields 2 and 5 change,
// every other field keeps its bytes and place. Refuses a count above UINT32_MAX for 4.1.
Expected<PagemapConversion> convert_pagemap(const criu::Image& img, PagemapSchema to);

// Every pagemap-*.img of the set's folder. The set must be whole: every process of the pstree has a
// regular pagemap-PID.img, and its mm-PID.img and the core-TID.img of each thread parse; anything
// else refuses the set (exit 3, naming the file) instead of reporting it converted or unchanged.
Expected<SetPlan> plan_pagemap(const criu::ImageSet& set, PagemapSchema to);

}  // namespace vk::rewrite
