// exports: system-call stubs over the exports of each dumped vDSO that a restorer's proxy leaves on
// the old code while they read vvar data (analyzers/exports.h decides; docs/rewrite.md "exports").
// Only the vDSO's pages inside pages-<id>.img change: the stub sites and the vdsokit mark in the
// padding after the ELF image. The pages are patched in a copy of the pages file, never loaded whole.
#pragma once

#include <string>

#include "analyzers/restorer.h"
#include "formats/criu/imageset.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

// The plan for one set. Refused (nothing written): a vDSO whose pages live in a parent image set
// (PE_PARENT, exit 4: other dumps of the chain share those pages), an unreadable vDSO (exit 3).
// The rewritten set is read back through the planned patches before anything is written: every
// planned stub must be found where it was planned and the mark must give back the original bytes.
Expected<SetPlan> plan_exports_set(const criu::ImageSet& set, const std::string& label, const analyze::Restorer& r);

}  // namespace vk::rewrite
