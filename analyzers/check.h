// `vdsokit check`: the pre-flight report for every process of every input against one target and
// one restorer. One model; text, JSON, YAML and JUnit are renderings of it. A set that cannot be read
// is part of the model too (an error entry), so one bad set among many does not hide the others.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"
#include "formats/criu/container.h"
#include "formats/criu/imageset.h"

namespace vk::analyze {

struct ProcessCheck {
  uint32_t pid = 0;
  std::string comm;
  std::string abi;                    // of the dumped vDSO (compat tasks: i386)
  nlohmann::ordered_json source;      // identified source kernel (identify.h), or null
  std::string source_line;            // the identification in one line (identify.h summary_line)
  Outcome outcome;
  double seconds = 0;                 // identify + evaluate
};

struct SetCheck {
  std::string input;
  std::string target;                 // what the user asked for ("host", an id, a release)
  std::string restorer;
  std::optional<criu::ContainerMeta> container;
  std::optional<Error> error;         // the set could not be read: reported, the others still run
  std::vector<ProcessCheck> processes;
  double seconds = 0;
  std::string timestamp;              // ISO 8601 UTC, when the set's check started
  int exit_code() const;              // the error's code, else the worst process's
};

struct CheckOptions {
  std::vector<uint32_t> pids;         // --pid: only these processes (empty: all)
};

// Resolves a target for one ABI: "host" (added on the fly), a catalog id, a release with the ABI implied,
// or a release a user catalog entry carries. An unknown target is a usage error naming the nearest ids.
Expected<catalog::Entry> resolve_target(const catalog::Catalog& cat, const std::string& target, vdso::Abi abi);

class Identifier;

// One run's checking state, built once and shared by every set (and thread): the catalog index
// (Identifier: every catalog vDSO copied and hashed once, not once per set) and the target entry per
// ABI (resolved on first use; "host" captures the running kernel's vDSO once). Thread-safe.
class Checker {
 public:
  // `cat` and `r` must outlive the Checker.
  Checker(const catalog::Catalog& cat, std::string target, const Restorer& r);
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  Expected<SetCheck> check(const criu::ImageSet& set, const std::string& label, const CheckOptions& opts = {}) const;
  const catalog::Catalog& catalog() const { return cat_; }
  const Identifier& identifier() const { return *ident_; }

 private:
  const Expected<catalog::Entry>& target_for(vdso::Abi abi) const;
  const catalog::Catalog& cat_;
  std::string target_;
  const Restorer& r_;
  std::unique_ptr<Identifier> ident_;
  mutable std::mutex mu_;
  mutable std::map<vdso::Abi, Expected<catalog::Entry>> targets_;
};

// A one-off check (builds its own Checker; for many sets, use one Checker).
Expected<SetCheck> check(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                         const std::string& target, const Restorer& r, const CheckOptions& opts = {});
// The entry for a set that could not be read.
SetCheck check_error(const std::string& label, const std::string& target, const Restorer& r, Error e);

struct CheckSummary {
  size_t image_sets = 0, processes = 0, errors = 0;
  size_t inplace = 0, proxy = 0, retargetable = 0, blocked = 0;
  int exit_code = kExitOk;            // the worst of all sets
};
CheckSummary summarize(const std::vector<SetCheck>& checks);

nlohmann::ordered_json outcome_json(const Outcome& o);
nlohmann::ordered_json finding_json(const Finding& f);
std::string render_check_text(const std::vector<SetCheck>& checks);
std::string render_check_json(const std::vector<SetCheck>& checks);
std::string render_check_yaml(const std::vector<SetCheck>& checks);
std::string render_check_junit(const std::vector<SetCheck>& checks);

}  // namespace vk::analyze
