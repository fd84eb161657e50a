// Resumable rewrite batches (`vdsokit rewrite ... --state DIR`): what each unit left behind, so that a
// re-run after a crash, a pre-emption or a lost node skips what is done, redoes what was interrupted,
// and never rewrites a unit twice.
//
// One small JSON file per (operation, unit key) in DIR, replaced atomically (temporary file, fsync,
// rename, fsync of DIR: formats/common/atomic.h), so the tasks of a job array share DIR without locks
// (each owns its units) and a kill leaves every record old or new, never torn. Two phases per unit:
//   pending  written before the unit's files are replaced: the identity (size, mtime, SHA-256) of each
//            file about to change;
//   done     written after: the identity of each changed file as it now is, the status and the report.
//            (pending is fsynced before the files are replaced; done is renamed without an fsync:
//            a crash that loses it leaves pending, which the re-run resolves as below.)
// A re-run, per unit of its shard:
//   done, files still as recorded (size and mtime, else SHA-256)  -> skipped; its recorded result is
//                                                                     reported with "resumed"
//   pending, files as before, no journal                          -> the write never happened: redone
//   pending, files changed or a journal left (killed after the    -> the interrupted write had committed:
//   commit point), the rewriter now finds it `unchanged` once         the journal is finished, the unit
//   the journal is finished                                           recorded done, reported "rewritten"
//   anything else (no record, files changed since)                -> planned afresh (the rewriters
//                                                                     report `unchanged` for a unit
//                                                                     already converted, and write nothing)
// Only rewritten units are skipped: re-planning an unchanged or refused unit only reads it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzers/records.h"
#include "formats/common/error.h"
#include "formats/criu/shard.h"
#include "rewriters/batch.h"

namespace vk::rewrite {

struct FileIdentity {
  std::string file;        // relative to the unit ("" = the unit itself, an archive)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string sha256;
};

class StateDir {
 public:
  // Creates DIR when missing.
  static Expected<StateDir> open(const std::string& dir, const std::string& operation);
  const std::string& dir() const { return dir_; }

  // One unit through `plan`, resumed from and recorded into the state. `resumed` tells whether the
  // result was taken from an earlier run.
  UnitResult run(const criu::Unit& unit, const Planner& plan, const BatchOptions& opts, bool& resumed) const;

  std::string record_path(const std::string& key) const;

 private:
  StateDir(std::string dir, std::string operation) : dir_(std::move(dir)), operation_(std::move(operation)) {}
  std::string dir_, operation_;
};

// The files a planned unit changes, as paths: the edited images of a set folder, or the archive.
std::vector<std::string> changed_files(const UnitResult& u);
// Identity of `path` now (size, mtime, SHA-256), named `rel`.
Expected<FileIdentity> identify_file(const std::string& path, const std::string& rel);

// The JSON-lines record of a rewritten unit (analyzers/records.h).
void fill_rewrite(analyze::UnitRecord& rec, const UnitResult& u);

}  // namespace vk::rewrite
