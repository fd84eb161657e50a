// Running a rewriter over every input: image directories, folders of several sets (criu::discover)
// and checkpoint archives. One unit is an image-set directory, or a whole archive (all its sets): a
// unit is planned completely in memory, then written at once (Transaction / rewrite_archive), so each
// is either untouched or fully rewritten; a failing unit does not stop the others. One model, rendered
// as text or JSON (docs/rewrite.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/criu/imageset.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

// Plans one set; `label` names it in messages. An Error refuses the unit (its exit code says why).
using Planner = std::function<Expected<SetPlan>(const criu::ImageSet& set, const std::string& label)>;

struct UnitResult {
  std::string input;             // directory of the set, or the archive path
  std::string kind;              // directory | archive
  std::string status;            // rewritten | would-rewrite | unchanged | refused | error
  std::string output;            // where it was written (archives with --output), else = input
  struct File {
    std::string file;            // path of the file (archives: archive:member)
    std::string detail;
  };
  std::vector<File> files;
  std::vector<std::string> notes;
  std::optional<Error> error;
  int exit_code = kExitOk;
};

struct BatchOptions {
  bool dry_run = false;
  std::string output;            // a single archive input: write the new archive here instead
  unsigned jobs = 0;             // units planned and written at once (0: two per core, batch.cpp); the planner must be thread-safe
  // Called once a unit is planned and about to be written (never on dry runs), with its files filled
  // in; an error refuses the unit and nothing is written (rewriters/state.h records it here).
  std::function<Status(const UnitResult& planned)> before_write;
  // Called after each unit (index from 1) for progress lines.
  std::function<void(size_t index, size_t total, const UnitResult&)> progress;
};

struct BatchReport {
  std::string operation;         // "pagemap --to 4.1", "vvar --target ..."
  bool dry_run = false;
  std::vector<UnitResult> units;
  int exit_code() const;         // the highest of the units' codes
};

BatchReport run_batch(const std::vector<std::string>& inputs, const Planner& plan, const BatchOptions& opts,
                      std::string operation);

std::string render_text(const BatchReport& r);
std::string render_json(const BatchReport& r);
std::string progress_line(size_t index, size_t total, const UnitResult& u);   // "[3/120] path: rewritten"

}  // namespace vk::rewrite
