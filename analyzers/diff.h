// `vdsokit diff A B`: how two vDSO builds differ (symbols, offsets, sizes, versions, vvar layout) and
// what happens to a checkpoint moving from A to B under each restorer.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"

namespace vk::analyze {

// One side of a diff: a catalog entry, a vDSO file, or an image set's process.
struct Side {
  std::string label;
  std::string kind;                   // catalog | file | image
  catalog::Entry entry;               // layout as a restore target
  Subject subject;                    // as a dumped checkpoint
};

// `spec` is a catalog id (or release + --abi), a path to a vDSO file, or an image set / archive.
Expected<Side> resolve_side(const catalog::Catalog& cat, const std::string& spec, const std::string& abi);

struct SymbolChange {
  std::string name;                   // the preferred name (__vdso_*, __kernel_*)
  std::vector<std::string> aliases;   // other names at the same address with the same change
  std::string change;                 // added | removed | moved | resized | version
  std::string from, to;               // hex offsets or sizes, or version names
};

struct DiffReport {
  Side a, b;
  std::vector<SymbolChange> symbols;
  std::vector<std::string> layout;    // human lines for vdso size, vvar pages, vclock pages, order
  std::vector<Outcome> outcomes;      // one per restorer, A dumped, restored on B
};

DiffReport diff(const Side& a, const Side& b);
nlohmann::ordered_json diff_json(const DiffReport& d);
std::string render_diff_text(const DiffReport& d);

}  // namespace vk::analyze
