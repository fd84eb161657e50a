// The truth corpus (corpora/truth/*.json, `make -f Makefile.kernels truth`): what real CRIU restores did
// across kernels, and whether a predicted outcome agrees with one. `matrix --truth` marks verified cells.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analyzers/verdict.h"
#include "formats/common/error.h"

namespace vk::analyze {

struct TruthRecord {
  std::string file;
  std::string dumped_id, restored_id;   // catalog ids ("6.1.0-47-amd64/x86_64")
  std::string restorer;                 // criu-4.2
  std::string status;                   // restored | failed
  std::string decision;                 // inplace | proxy | none (CRIU's restore.log)
  std::vector<std::string> trampolined; // exports CRIU wrote a trampoline over
  std::map<std::string, std::string> functions;   // vdsoprobe's results: clock_getres -> ok | wrong | absent
};

// Every *.json record of `dir` (schema vdsokit.truth/1), sorted by file name.
Expected<std::vector<TruthRecord>> load_truth(const std::string& dir);

// Empty when the outcome predicts what the record shows; else what differs, one item each.
std::vector<std::string> truth_disagreements(const TruthRecord& r, const Outcome& o);

}  // namespace vk::analyze
