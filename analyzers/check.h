// `vdsokit check`: the pre-flight report for every process of every input against one target and
// one restorer. One model; text, JSON, YAML and JUnit are renderings of it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"
#include "formats/criu/imageset.h"

namespace vk::analyze {

struct ProcessCheck {
  uint32_t pid = 0;
  std::string comm;
  std::string abi;                    // of the dumped vDSO (compat tasks: i386)
  nlohmann::ordered_json source;      // identified source kernel (identify.h), or null
  Outcome outcome;
};

struct SetCheck {
  std::string input;
  std::string target;                 // what the user asked for ("host", an id, a release)
  std::string restorer;
  std::vector<ProcessCheck> processes;
  int exit_code() const;
};

// Resolves a target for one ABI: "host" (added on the fly), a catalog id, or a release with the ABI implied.
Expected<catalog::Entry> resolve_target(const catalog::Catalog& cat, const std::string& target, vdso::Abi abi);

Expected<SetCheck> check(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                         const std::string& target, const Restorer& r);

nlohmann::ordered_json outcome_json(const Outcome& o);
std::string render_check_text(const std::vector<SetCheck>& checks);
std::string render_check_json(const std::vector<SetCheck>& checks);
std::string render_check_yaml(const std::vector<SetCheck>& checks);
std::string render_check_junit(const std::vector<SetCheck>& checks);

}  // namespace vk::analyze
