// Which catalog build is this vDSO? (docs/catalog.md "Identification")
//   exact         the bytes are a catalog build's: sha256 of the ELF-size prefix or of all pages, or
//                 equal outside the .altinstructions sites the kernel patches at boot
//   proxied-from  a CRIU-proxied vDSO (trampolines at symbol entries, docs/vdso-restore.md §6.4)
//                 whose bytes equal a build's outside the trampoline (and patch) sites
//   nearest       no byte match: the builds with the most similar symbol layout, scored
//   unknown       nothing comparable (no ELF, no symbols, empty catalog)
// An Identifier precomputes per-entry indices once; identify() is then well under a millisecond.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/catalog/catalog.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

enum class MatchKind { Exact, ProxiedFrom, Nearest, Unknown };
const char* match_kind_name(MatchKind k);   // exact | proxied-from | nearest | unknown

struct Candidate {
  const catalog::Entry* entry = nullptr;
  double score = 0;                 // 1.0 for exact/proxied-from; (0, 1) for nearest
  std::string why;                  // e.g. "sha256 of the ELF image", "18/20 (name, offset) pairs"
  size_t matched = 0, compared = 0; // nearest: (name, offset) pairs in common / compared
};

struct Identification {
  std::string input;
  MatchKind kind = MatchKind::Unknown;
  std::vector<Candidate> candidates;   // best first
  std::string explanation;
  // A nearest match where fewer than half of the (name, offset) pairs agree: not a source kernel,
  // only the closest known build ("unknown build, closest ...").
  bool weak = false;
  // What was looked at.
  vdso::Abi abi = vdso::Abi::Unknown;
  std::string version;              // from the Linux note, "" when absent
  uint64_t elf_size = 0, bytes = 0;
  std::string sha256_elf, sha256_all;
  size_t trampolines = 0;
  size_t stubs = 0;                 // vdsokit system-call stubs (rewrite exports); identified without them
};

class Identifier {
 public:
  // `cat` must outlive the Identifier. Synthetic entries are never matched (they have no real bytes).
  explicit Identifier(const catalog::Catalog& cat);
  ~Identifier();
  Identifier(const Identifier&) = delete;
  Identifier& operator=(const Identifier&) = delete;

  Identification identify(const vdso::Vdso& v, size_t top = 5) const;
  // Parses `bytes` first (a mark or garbage gives kind unknown, not an error).
  Identification identify_bytes(const std::string& name, std::vector<uint8_t> bytes, size_t top = 5) const;
  const catalog::Catalog& catalog() const { return cat_; }

 private:
  struct Index;
  void slow_index() const;   // .altinstructions sites and the pages hashes the catalog lacks, once, on first need (thread-safe)
  const catalog::Catalog& cat_;
  std::unique_ptr<Index> ix_;
};

nlohmann::ordered_json to_json(const Identification& id);
// One line for reports: "exact 6.1.0-18-amd64/x86_64", "unknown build, closest 6.18.12... (0/13 symbols
// match, score 0.17)".
std::string summary_line(const Identification& id);
// A score as a JSON number with three decimals and no float noise (0.96, not 0.9600000000000001).
double round_score(double s);
// Every vDSO of one input: a vDSO file (ELF, or a CRIU mark), or each process of the image sets of a
// folder or archive (labelled "SET: pid N (comm)"). A malformed vDSO file is bad input, not "unknown".
Expected<std::vector<Identification>> identify_input(const Identifier& ident, const std::string& path, size_t top);

std::string render_text(const std::vector<Identification>& ids);
std::string render_json(const std::vector<Identification>& ids);
std::string render_yaml(const std::vector<Identification>& ids);

}  // namespace vk::analyze
