// vvar retarget: for a process whose verdict is `retargetable` (VK006, docs/findings.md), rewrite the
// image's VVAR VmaEntry to the range the target kernel's vvar needs (Outcome::retarget), so CRIU's
// blobs_matches passes and the next restore remaps in place (vdso-restore.md §6.2, §6.3, §11
// "Rewriting vvar entries"). Only start/end of that one VmaEntry change; the mm image's VMA list stays
// sorted by address (criu-images.md §2.2) and every other field keeps its bytes.
#pragma once

#include <string>

#include "analyzers/check.h"
#include "analyzers/restorer.h"
#include "formats/catalog/catalog.h"
#include "formats/criu/imageset.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

// Rewrites the VVAR VmaEntry [old_start, old_end) of mm image `img` to [new_start, new_start + new_size).
// Returns the new file bytes.
Expected<std::vector<uint8_t>> retarget_mm(const criu::Image& img, uint64_t old_start, uint64_t old_end,
                                           uint64_t new_start, uint64_t new_size);

// The plan for one set: every retargetable process gets its mm image rewritten; processes already in
// place are left alone. Any other verdict refuses the whole set (nothing of it is written): the error
// carries exit code 4 when the verdict is blocked, 1 when it is a proxy a vvar rewrite cannot fix.
// The rewritten set is checked again in memory; it must give `inplace` for every process. When that
// in-place restore still carries an error finding (VK005: an export the restorer does not compare moved,
// so a call jumps into other code), the set is refused with exit 1 unless `force`: the rewrite would
// trade a working proxy for a crash. With `force` it is written and the findings are notes.
Expected<SetPlan> plan_vvar(const criu::ImageSet& set, const std::string& label, const analyze::Checker& checker,
                            bool force = false);
// The same with a Checker of its own (one set; for many, share one Checker).
Expected<SetPlan> plan_vvar(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                            const std::string& target, const analyze::Restorer& r, bool force = false);

}  // namespace vk::rewrite
