// The cross-kernel matrix: the verdict for every ordered pair of catalog builds of one ABI, per
// restorer. The CI regression against the kernel corpus (tests/golden/matrix.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"

namespace vk::analyze {

struct MatrixCell {
  Verdict verdict = Verdict::Blocked;
  Severity worst = Severity::Info;
  std::vector<std::string> codes;     // distinct finding codes, sorted
  std::string reason;                 // the first non-info finding, or the verdict's own
};

struct Matrix {
  std::string restorer;
  std::string abi;
  std::vector<std::string> ids;       // rows = dumped on, columns = restored on
  std::vector<std::vector<MatrixCell>> cells;
};

Expected<std::vector<Matrix>> build_matrices(const catalog::Catalog& cat, const std::vector<std::string>& abis,
                                             const std::vector<std::string>& restorers);

std::string cell_symbol(const MatrixCell& c);   // I, I!, P, P*, P!, R, B
std::string render_matrix_md(const std::vector<Matrix>& ms);
std::string render_matrix_json(const std::vector<Matrix>& ms);
std::string render_matrix_html(const std::vector<Matrix>& ms);
std::string render_matrix_svg(const std::vector<Matrix>& ms);

}  // namespace vk::analyze
