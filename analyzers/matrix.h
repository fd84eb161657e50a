// The cross-kernel matrix: the verdict for every ordered pair of catalog builds of one ABI, per
// restorer. The CI regression against the kernel corpus (tests/golden/matrix.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/truth.h"
#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"

namespace vk::analyze {

struct MatrixCell {
  Verdict verdict = Verdict::Blocked;
  Severity worst = Severity::Info;
  std::vector<std::string> codes;     // distinct finding codes, sorted
  std::string reason;                 // the first non-info finding, or the verdict's own
  // A real restore of this pair with this restorer (corpora/truth): "" none, "agrees", "disagrees: ..."
  std::string truth;
  std::string remedy;                 // that finding's fix (docs/findings.md "Remedies"), "" for info
};

struct Matrix {
  std::string restorer;
  std::string abi;
  std::vector<std::string> ids;       // rows = dumped on, columns = restored on
  std::vector<std::vector<MatrixCell>> cells;
};

// `truth` (may be empty): real restores; a cell whose pair and restorer one of them covers is marked.
Expected<std::vector<Matrix>> build_matrices(const catalog::Catalog& cat, const std::vector<std::string>& abis,
                                             const std::vector<std::string>& restorers,
                                             const std::vector<TruthRecord>& truth = {});

std::string cell_symbol(const MatrixCell& c);   // I, I!, P, P*, P!, R, B; + "✓" verified, "✗" contradicted
std::string render_matrix_md(const std::vector<Matrix>& ms);
std::string render_matrix_json(const std::vector<Matrix>& ms);
std::string render_matrix_html(const std::vector<Matrix>& ms);
std::string render_matrix_svg(const std::vector<Matrix>& ms);

}  // namespace vk::analyze
