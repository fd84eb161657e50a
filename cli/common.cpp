#include "cli/common.h"

#include <cstdlib>
#include <iostream>

#include "formats/common/atomic.h"

namespace vk::cli {

int report(const Error& e) {
  std::cerr << "vdsokit: " << e.str() << "\n";
  return e.exit_code;
}

CLI::Option* add_format(CLI::App& cmd, std::string& format, const std::vector<std::string>& choices) {
  format = choices.front();
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  return cmd.add_option("--format", format, "Output format: " + list)->check(CLI::IsMember(choices))->capture_default_str();
}

int emit(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return kExitOk;
  }
  auto st = write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return st ? kExitOk : report(st.error());
}

CLI::Option* add_jobs(CLI::App& cmd, unsigned& jobs) {
  return cmd.add_option("-j,--jobs", jobs, "Units (set folders, archives) handled at once; 0 = one per core (default)")
      ->type_name("N");
}

CLI::Option* add_shard(CLI::App& cmd, std::string& spec) {
  return cmd.add_option("--shard", spec,
                        "Handle only shard K of N (0-based) of the units (set folders, archives); default from "
                        "SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (+ VDSOKIT_SHARD_COUNT)")
      ->type_name("K/N");
}

Expected<std::vector<criu::Unit>> shard_inputs(const std::vector<std::string>& inputs, const std::string& spec,
                                               size_t* total) {
  VK_TRY(shard, criu::resolve_shard(spec, [](const char* name) { return std::getenv(name); }));
  return criu::shard_units(inputs, shard, total);
}

std::vector<std::string> unit_paths(const std::vector<criu::Unit>& units) {
  std::vector<std::string> paths;
  for (const auto& u : units) paths.push_back(u.path);
  return paths;
}

}  // namespace vk::cli
