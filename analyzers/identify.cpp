// vDSO -> catalog build (docs/catalog.md "Identification"). The order of the tests is the order of
// confidence: whole-image hashes, byte equality outside the sites that legitimately differ (kernel
// alternatives patched at boot, kernel-corpus.md "Carving"; CRIU trampolines, vdso-restore.md §6.4),
// then symbol-layout similarity.
#include "analyzers/identify.h"
#include "formats/common/text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "analyzers/inspect.h"
#include "formats/common/sha256.h"
#include "formats/common/source.h"
#include "formats/criu/inputs.h"
#include "formats/kernel/carve.h"

namespace vk::analyze {

using catalog::Entry;

const char* match_kind_name(MatchKind k) {
  switch (k) {
    case MatchKind::Exact: return "exact";
    case MatchKind::ProxiedFrom: return "proxied-from";
    case MatchKind::Nearest: return "nearest";
    case MatchKind::Unknown: return "unknown";
  }
  return "?";
}

namespace {

struct Range {
  uint64_t begin, end;
};

// "5.10.0-46-amd64" -> "amd64", "6.12.117+deb13-cloud-amd64" -> "cloud-amd64": the dash-separated
// words from the first one that starts with a letter.
std::string flavour_of(const std::string& release) {
  size_t pos = 0;
  while (pos < release.size()) {
    size_t dash = release.find('-', pos);
    if (dash == std::string::npos) return "";
    pos = dash + 1;
    if (pos < release.size() && std::isalpha(static_cast<unsigned char>(release[pos]))) return release.substr(pos);
  }
  return "";
}

}  // namespace

struct Identifier::Index {
  struct Item {
    const Entry* e = nullptr;
    // The ELF image: where the catalog holds it (the built-in arrays: no copy), or read into `owned`
    // (a moved vector keeps its buffer, so the view survives the items vector growing).
    std::vector<uint8_t> owned;
    std::span<const uint8_t> bytes;
    std::vector<Range> alt;              // .altinstructions sites, sorted
    std::vector<uint64_t> keys;          // sorted (name id << 32 | offset)
  };
  std::vector<Item> items;
  // sha256 of the image padded to whole pages: from the catalog (the compiled built-in catalog carries
  // it, hashed at build time) or, for entries without it (YAML catalogs), hashed on first use.
  std::unordered_map<std::string, size_t> by_pages_sha;
  bool pages_complete = true;     // every item's hash came from the catalog: slow_index adds none
  // Needed only when the ELF hash (the catalog's own index) does not match: built on first use, so a
  // run whose vDSOs are all exact catalog builds parses no catalog ELF (issue 11, start-up).
  std::once_flag slow_once;
  std::unordered_map<uint64_t, std::vector<size_t>> by_abi_size;   // abi << 32 | ELF size
  std::unordered_map<std::string, uint32_t> name_ids;

  static uint64_t abi_size(vdso::Abi a, uint64_t size) { return uint64_t(a) << 40 | size; }

  std::vector<uint64_t> keys_of(const std::vector<vdso::Symbol>& syms) const {
    std::vector<uint64_t> k;
    k.reserve(syms.size());
    for (const auto& s : syms) {
      auto it = name_ids.find(s.name);
      // Unknown names cannot match anything: give them ids no entry has.
      uint64_t id = it == name_ids.end() ? 0xffffffffull : it->second;
      k.push_back(id << 32 | (s.offset & 0xffffffffull));
    }
    std::sort(k.begin(), k.end());
    return k;
  }
};

Identifier::Identifier(const catalog::Catalog& cat) : cat_(cat), ix_(std::make_unique<Index>()) {
  for (const auto& e : cat.entries()) {
    if (e.synthetic) continue;
    Index::Item it;
    it.e = &e;
    it.bytes = cat.held(e);
    if (it.bytes.empty()) {
      auto b = cat.bytes(e);
      if (!b) continue;
      it.owned = b.take();
      it.bytes = it.owned;
    }
    if (it.bytes.size() != e.size) continue;   // unusable entry: `catalog verify` reports it
    for (const auto& s : e.symbols) {
      auto [n, fresh] = ix_->name_ids.emplace(s.name, uint32_t(ix_->name_ids.size()));
      it.keys.push_back(uint64_t(n->second) << 32 | (s.offset & 0xffffffffull));
    }
    std::sort(it.keys.begin(), it.keys.end());
    size_t idx = ix_->items.size();
    ix_->by_abi_size[Index::abi_size(e.abi, e.size)].push_back(idx);
    if (!e.sha256_pages.empty()) ix_->by_pages_sha.emplace(e.sha256_pages, idx);
    else ix_->pages_complete = false;
    ix_->items.push_back(std::move(it));
  }
}

Identifier::~Identifier() = default;

void Identifier::slow_index() const {
  std::call_once(ix_->slow_once, [&] {
    for (size_t idx = 0; idx < ix_->items.size(); ++idx) {
      auto& it = ix_->items[idx];
      const Entry& e = *it.e;
      if (auto alt = kernel::alt_patch_sites(it.bytes, e.file)) {
        for (const auto& s : alt->sites) it.alt.push_back({s.offset, s.offset + s.length});
        std::sort(it.alt.begin(), it.alt.end(), [](const Range& a, const Range& b2) { return a.begin < b2.begin; });
      }
      if (e.sha256_pages.empty()) ix_->by_pages_sha.emplace(catalog::pages_sha256(e, it.bytes), idx);
    }
  });
}

namespace {

bool in_ranges(const std::vector<Range>& rs, uint64_t off) {
  for (const auto& r : rs) {
    if (off < r.begin) return false;   // sorted
    if (off < r.end) return true;
  }
  return false;
}

// Equal on [0, ref.size()) except inside `alt` and `tramp`; counts the bytes differing inside each.
struct Compare {
  bool equal = false;
  size_t in_alt = 0, in_tramp = 0;
};
Compare compare(std::span<const uint8_t> ref, const std::vector<uint8_t>& got, const std::vector<Range>& alt,
                const std::vector<Range>& tramp) {
  Compare c;
  if (got.size() < ref.size()) return c;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == got[i]) continue;
    if (in_ranges(tramp, i)) ++c.in_tramp;
    else if (in_ranges(alt, i)) ++c.in_alt;
    else return c;
  }
  c.equal = true;
  return c;
}

}  // namespace

Identification Identifier::identify(const vdso::Vdso& v, size_t top) const {
  Identification r;
  r.input = v.name;
  r.abi = v.abi;
  r.version = v.version_string();
  r.elf_size = v.elf_size;
  r.bytes = v.bytes.size();
  r.trampolines = v.trampolines.size();
  r.sha256_all = sha256_hex(v.bytes);
  if (!v.elf) {
    r.explanation = v.mark ? "a CRIU vdso mark at offset 0 overwrote the ELF header: not a dumpable vDSO"
                           : "not an ELF vDSO";
    return r;
  }
  // A vDSO rewritten by `vdsokit rewrite exports` carries a mark with the original bytes under every
  // stub (formats/vdso/stub.h): identify the vDSO as it was, and say so.
  if (v.stub_mark) {
    auto orig = vdso::parse(v.name, vdso::without_stubs(v.bytes, *v.stub_mark));
    if (orig && !orig->stub_mark) {
      Identification o = identify(*orig, top);
      o.stubs = v.stubs.size();
      o.sha256_all = r.sha256_all;
      o.explanation = (v.stub_mark->restorer == "fixup"
                           ? "vdsokit-fixed (" + std::to_string(v.stub_mark->entries.size()) + " ranges redirected by vdsokit fixup)"
                           : "vdsokit-stubbed (" + std::to_string(o.stubs) + " system-call stubs, rewrite exports --restorer " +
                                 v.stub_mark->restorer + ")") +
                      "; without them: " + o.explanation;
      return o;
    }
  }
  uint64_t elf_len = std::min<uint64_t>(v.elf_size, v.bytes.size());
  r.sha256_elf = sha256_hex(std::span<const uint8_t>(v.bytes.data(), elf_len));

  // (a) whole-image hashes, O(1).
  if (v.trampolines.empty()) {
    if (const Entry* e = cat_.by_sha256(r.sha256_elf)) {
      r.kind = MatchKind::Exact;
      r.candidates.push_back({e, 1.0, "sha256 of the ELF image (" + std::to_string(elf_len) + " bytes)"});
      r.explanation = "the ELF image is byte for byte the catalog build " + e->id;
      return r;
    }
    if (!ix_->pages_complete) slow_index();
    if (auto it = ix_->by_pages_sha.find(r.sha256_all); it != ix_->by_pages_sha.end()) {
      const Entry* e = ix_->items[it->second].e;
      r.kind = MatchKind::Exact;
      r.candidates.push_back({e, 1.0, "sha256 of all " + std::to_string(v.pages()) + " pages"});
      r.explanation = "the dumped pages are byte for byte the catalog build " + e->id;
      return r;
    }
  }

  // (a') and (b): same ABI and ELF size, equal outside patch sites and trampolines.
  std::vector<Range> tramp;
  for (const auto& t : v.trampolines) tramp.push_back({t.offset, t.offset + uint64_t(t.length)});
  std::sort(tramp.begin(), tramp.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  if (auto it = ix_->by_abi_size.find(Index::abi_size(v.abi, v.elf_size)); it != ix_->by_abi_size.end()) {
    slow_index();   // the .altinstructions sites, only when a build of this ABI and size exists
    for (size_t idx : it->second) {
      const auto& item = ix_->items[idx];
      Compare c = compare(item.bytes, v.bytes, item.alt, tramp);
      if (!c.equal) continue;
      std::string why;
      if (c.in_tramp) why = std::to_string(tramp.size()) + " trampoline site(s) differ";
      if (c.in_alt) why += (why.empty() ? "" : ", ") + std::to_string(c.in_alt) + " byte(s) in .altinstructions sites differ";
      if (why.empty()) why = "equal bytes";
      if (!tramp.empty()) {
        r.kind = MatchKind::ProxiedFrom;
        r.candidates.push_back({item.e, 1.0, why});
        r.explanation = "a CRIU proxy vDSO: the bytes of " + item.e->id + " with trampolines at " +
                        std::to_string(tramp.size()) + " symbol entries";
      } else {
        r.kind = MatchKind::Exact;
        r.candidates.push_back({item.e, 1.0, why + " (the kernel patches those at boot)"});
        r.explanation = "the catalog build " + item.e->id + " as the kernel patched it for its CPU";
      }
      return r;
    }
  }

  // (c) nearest by symbol layout.
  if (v.symbols.empty() || ix_->items.empty()) {
    r.explanation = v.symbols.empty() ? "no dynamic symbols to compare" : "the catalog has no usable builds";
    return r;
  }
  std::vector<uint64_t> keys = ix_->keys_of(v.symbols);
  std::string salt_flavour = flavour_of(v.build_salt);
  uint32_t code = v.linux_version.value_or(0);
  struct Scored {
    size_t idx;
    double score;
    size_t common;
  };
  std::vector<Scored> scored;
  scored.reserve(ix_->items.size());
  for (size_t i = 0; i < ix_->items.size(); ++i) {
    const auto& item = ix_->items[i];
    size_t common = 0;
    for (size_t a = 0, b = 0; a < keys.size() && b < item.keys.size();) {
      if (keys[a] == item.keys[b]) ++common, ++a, ++b;
      else if (keys[a] < item.keys[b]) ++a;
      else ++b;
    }
    const Entry& e = *item.e;
    double pairs = double(common) / double(std::max(keys.size(), item.keys.size()));
    double size_sim = 1.0 - double(e.size > v.elf_size ? e.size - v.elf_size : v.elf_size - e.size) /
                                double(std::max<uint64_t>({e.size, v.elf_size, 1}));
    double s = 0.75 * pairs + 0.10 * (e.abi == v.abi) + 0.05 * size_sim;
    if (code && e.version_code == code) s += 0.05;
    else if (code && (e.version_code >> 8) == (code >> 8)) s += 0.02;
    if (!v.build_salt.empty() && v.build_salt == e.release) s += 0.04;
    else if (!salt_flavour.empty() && salt_flavour == e.flavour) s += 0.02;
    if (!v.compiler.empty() && v.compiler == e.compiler) s += 0.02;
    scored.push_back({i, s, common});
  }
  size_t n = std::min(top ? top : 1, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + long(n), scored.end(), [&](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    return ix_->items[a.idx].e->id < ix_->items[b.idx].e->id;
  });
  for (size_t i = 0; i < n; ++i) {
    const auto& item = ix_->items[scored[i].idx];
    std::string why = std::to_string(scored[i].common) + "/" + std::to_string(std::max(keys.size(), item.keys.size())) +
                      " (name, offset) pairs";
    if (item.e->abi != v.abi) why += ", other abi";
    r.candidates.push_back({item.e, scored[i].score, why, scored[i].common, std::max(keys.size(), item.keys.size())});
  }
  r.kind = MatchKind::Nearest;
  r.weak = r.candidates[0].matched * 2 < r.candidates[0].compared;
  r.explanation = r.weak ? "unknown build: no catalog build has these bytes and fewer than half of the symbols match the closest, " +
                               r.candidates[0].entry->id
                         : "no catalog build has these bytes; nearest by symbol layout: " + r.candidates[0].entry->id;
  if (!tramp.empty()) r.explanation += " (the vDSO carries " + std::to_string(tramp.size()) + " CRIU trampolines)";
  return r;
}

Identification Identifier::identify_bytes(const std::string& name, std::vector<uint8_t> bytes, size_t top) const {
  auto v = vdso::parse(name, std::move(bytes));
  if (!v) {
    Identification r;
    r.input = name;
    r.explanation = v.error().str();
    return r;
  }
  return identify(*v, top);
}

// ---- rendering --------------------------------------------------------------------------------

double round_score(double s) { return std::round(s * 1000.0) / 1000.0; }

std::string summary_line(const Identification& id) {
  if (id.candidates.empty()) return match_kind_name(id.kind);
  const auto& c = id.candidates.front();
  char score[16];
  std::snprintf(score, sizeof score, "%.2f", c.score);
  if (id.weak)
    return "unknown build, closest " + c.entry->id + " (" + std::to_string(c.matched) + "/" + std::to_string(c.compared) +
           " symbols match, score " + score + ")";
  std::string s = std::string(match_kind_name(id.kind)) + " " + c.entry->id;
  if (id.kind == MatchKind::Nearest)
    s += " (" + std::to_string(c.matched) + "/" + std::to_string(c.compared) + " symbols match, score " + score + ")";
  return s;
}

nlohmann::ordered_json to_json(const Identification& id) {
  nlohmann::ordered_json j;
  j["input"] = id.input;
  j["kind"] = match_kind_name(id.kind);
  j["weak"] = id.weak;
  j["explanation"] = id.explanation;
  j["abi"] = vdso::abi_name(id.abi);
  j["version"] = id.version;
  j["elf_size"] = id.elf_size;
  j["bytes"] = id.bytes;
  j["sha256_elf"] = id.sha256_elf;
  j["sha256_all"] = id.sha256_all;
  j["trampolines"] = id.trampolines;
  j["stubs"] = id.stubs;
  auto cands = nlohmann::ordered_json::array();
  for (const auto& c : id.candidates) {
    cands.push_back({{"id", c.entry->id},
                     {"release", c.entry->release},
                     {"score", round_score(c.score)},
                     {"why", c.why}});
  }
  j["candidates"] = cands;
  return j;
}

std::string render_text(const std::vector<Identification>& ids) {
  std::ostringstream o;
  for (const auto& id : ids) {
    o << id.input << ": " << summary_line(id);
    o << "\n  " << id.explanation << "\n";
    o << "  abi " << vdso::abi_name(id.abi) << ", version " << (id.version.empty() ? "?" : id.version) << ", ELF "
      << id.elf_size << " bytes in " << id.bytes << ", " << id.trampolines << " trampolines\n";
    for (const auto& c : id.candidates) {
      char score[16];
      std::snprintf(score, sizeof score, "%.3f", c.score);
      o << "    " << score << "  " << c.entry->id << "  (" << c.why << ")\n";
    }
  }
  return o.str();
}

std::string render_json(const std::vector<Identification>& ids) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& id : ids) a.push_back(to_json(id));
  return dump_json(nlohmann::ordered_json{{"schema", "vdsokit.identify/1"}, {"results", a}}, 2) + "\n";
}

std::string render_yaml(const std::vector<Identification>& ids) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& id : ids) a.push_back(to_json(id));
  return json_to_yaml(nlohmann::ordered_json{{"schema", "vdsokit.identify/1"}, {"results", a}});
}

namespace {

// A file starting with the ELF magic, or with a CRIU mark, is a vDSO blob; anything else is a
// checkpoint input (image directory or archive).
bool looks_like_vdso(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char m[8] = {};
  in.read(m, sizeof m);
  return std::string(m, 4) == "\x7f" "ELF" || std::string(m, 4) == "CRIU" || std::string(m, 4) == "criu";
}

}  // namespace

Expected<std::vector<Identification>> identify_input(const Identifier& ident, const std::string& path, size_t top) {
  std::vector<Identification> out;
  if (looks_like_vdso(path)) {
    // A vDSO is a few pages; anything larger is refused instead of read whole.
    VK_TRY(bytes, read_file(path, 1 << 20));
    VK_TRY(v, vdso::parse(path, std::move(bytes)));
    auto id = ident.identify(v, top);
    id.input = path;
    out.push_back(std::move(id));
    return out;
  }
  VK_TRY(sets, criu::open_sets({path}));
  for (const auto& in : sets) {
    VK_TRY(r, inspect(in.set, in.label));
    for (const auto& p : r.processes) {
      std::string label = in.label + ": pid " + std::to_string(p.pid) + " (" + p.comm + ")";
      if (!p.vdso) {
        Identification id;
        id.input = label;
        id.explanation = p.vdso_error ? *p.vdso_error : "no vDSO in this process's images";
        out.push_back(std::move(id));
        continue;
      }
      auto id = ident.identify(*p.vdso, top);
      id.input = label;
      out.push_back(std::move(id));
    }
  }
  return out;
}

}  // namespace vk::analyze
