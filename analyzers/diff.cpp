#include "analyzers/diff.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <map>
#include <set>
#include <sstream>

#include "analyzers/check.h"
#include "formats/criu/inputs.h"

namespace vk::analyze {

using nlohmann::ordered_json;

namespace {

// An image set's process as a restore target: its vDSO and the layout its VMAs show.
Expected<Side> side_from_image(const std::string& spec) {
  VK_TRY(sets, criu::open_sets({spec}));
  const auto& label = sets.front().label;
  const auto& set = sets.front().set;
  VK_TRY(report, inspect(set, label));
  const Process* p = nullptr;
  for (const auto& proc : report.processes)
    if (proc.vdso && proc.vdso->elf) {
      p = &proc;
      break;
    }
  if (!p) return bad_input(spec, "no process with a readable vDSO in this image set");
  Side side;
  side.kind = "image";
  side.label = label + " pid " + std::to_string(p->pid);
  std::vector<uint8_t> elf(p->vdso->bytes.begin(), p->vdso->bytes.begin() + long(p->vdso->elf_size));
  VK_TRY(entry, catalog::entry_from_vdso(side.label, elf));
  const Vma& vdso_vma = p->vdso_vmas.back();
  entry.id = side.label;
  entry.vdso_pages = vdso_vma.pages();
  if (!p->vvar_vmas.empty()) {
    const Vma& vv = p->vvar_vmas.back();
    // CRIU >= 4.1 merges [vvar]+[vvar_vclock]; a 6-page entry is 4 + 2 (criu-images.md §3.4).
    bool merged = vv.pages() == 6;
    entry.vvar_pages = {merged ? 4 : vv.pages(), catalog::Source::User};
    entry.vvar_vclock_pages = {merged ? 2u : 0u, catalog::Source::User};
    entry.order = {vv.start < vdso_vma.start ? catalog::Order::VvarBeforeVdso : catalog::Order::VdsoBeforeVvar, catalog::Source::User};
  } else {
    entry.vvar_pages = {0, catalog::Source::User};
    entry.vvar_vclock_pages = {0, catalog::Source::User};
    entry.order = {catalog::Order::SingleZone, catalog::Source::User};
  }
  side.entry = entry;
  side.subject = subject_from_process(*p, report.pagemap_schema);
  return side;
}

Expected<Side> side_from_file(const std::string& spec) {
  VK_TRY(bytes, read_file(spec, 1 << 20));
  VK_TRY(entry, catalog::entry_from_vdso(spec, bytes));
  Side side;
  side.kind = "file";
  side.label = spec;
  entry.id = spec;
  side.entry = entry;
  VK_TRY(subject, subject_from_bytes(entry, bytes));
  side.subject = std::move(subject);
  return side;
}

}  // namespace

Expected<Side> resolve_side(const catalog::Catalog& cat, const std::string& spec, const std::string& abi) {
  const catalog::Entry* e = cat.find(spec);
  if (!e) e = cat.find(spec + "/" + abi);
  if (e) {
    Side side;
    side.kind = "catalog";
    side.label = e->id;
    side.entry = *e;
    VK_TRY(subject, subject_from_entry(cat, *e));
    side.subject = std::move(subject);
    return side;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(spec, ec)) return side_from_image(spec);
  if (std::filesystem::is_regular_file(spec, ec)) {
    VK_TRY(blob, open_file(spec));
    uint8_t magic[4] = {};
    if (blob->size() >= 4) VK_CHECK(blob->read(0, magic, 4));
    if (magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F') return side_from_file(spec);
    return side_from_image(spec);   // a checkpoint archive
  }
  return usage_error("'" + spec + "' is neither a catalog id, a vDSO file nor an image set");
}

namespace {

// The name CRIU and libc look up first: __vdso_* and __kernel_* beat weak aliases.
bool preferred(const std::string& a, const std::string& b) {
  auto rank = [](const std::string& n) { return n.rfind("__vdso_", 0) == 0 || n.rfind("__kernel_", 0) == 0 ? 0 : 1; };
  return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
}

}  // namespace

DiffReport diff(const Side& a, const Side& b) {
  DiffReport d{a, b, {}, {}, {}};
  std::map<std::string, const catalog::Symbol*> sa, sb;
  for (const auto& s : a.entry.symbols) sa[s.name] = &s;
  for (const auto& s : b.entry.symbols) sb[s.name] = &s;
  std::set<std::string> names;
  for (auto& [n, s] : sa) names.insert(n);
  for (auto& [n, s] : sb) names.insert(n);
  // Aliases (clock_gettime and __vdso_clock_gettime) share an address and change together: one line
  // each, keyed by the change, both addresses and the values.
  std::map<std::tuple<std::string, uint64_t, uint64_t, std::string, std::string>, SymbolChange> grouped;
  auto add = [&](const std::string& n, const std::string& change, uint64_t at_a, uint64_t at_b, std::string from, std::string to) {
    auto& c = grouped[{change, at_a, at_b, from, to}];
    if (c.name.empty()) {
      c = SymbolChange{n, {}, change, std::move(from), std::move(to)};
    } else if (preferred(n, c.name)) {
      c.aliases.push_back(c.name);
      c.name = n;
    } else {
      c.aliases.push_back(n);
    }
  };
  constexpr uint64_t kNone = ~0ull;
  for (const auto& n : names) {
    auto ia = sa.find(n), ib = sb.find(n);
    if (ia == sa.end()) add(n, "added", kNone, ib->second->offset, "", hex(ib->second->offset));
    else if (ib == sb.end()) add(n, "removed", ia->second->offset, kNone, hex(ia->second->offset), "");
    else {
      const auto *x = ia->second, *y = ib->second;
      if (x->offset != y->offset) add(n, "moved", x->offset, y->offset, hex(x->offset), hex(y->offset));
      if (x->size != y->size) add(n, "resized", x->offset, y->offset, hex(x->size), hex(y->size));
      if (x->version != y->version) add(n, "version", x->offset, y->offset, x->version, y->version);
    }
  }
  for (auto& [k, c] : grouped) {
    std::sort(c.aliases.begin(), c.aliases.end());
    d.symbols.push_back(std::move(c));
  }
  std::sort(d.symbols.begin(), d.symbols.end(), [](const SymbolChange& x, const SymbolChange& y) {
    return std::tie(x.name, x.change) < std::tie(y.name, y.change);
  });
  auto line = [&](const std::string& what, const std::string& x, const std::string& y) {
    d.layout.push_back(what + ": " + x + (x == y ? " (same)" : " -> " + y));
  };
  line("vdso pages", std::to_string(a.entry.vdso_pages), std::to_string(b.entry.vdso_pages));
  line("vvar pages", std::to_string(a.entry.vvar_pages.value), std::to_string(b.entry.vvar_pages.value));
  line("vvar_vclock pages", std::to_string(a.entry.vvar_vclock_pages.value), std::to_string(b.entry.vvar_vclock_pages.value));
  line("order", catalog::order_name(a.entry.order.value), catalog::order_name(b.entry.order.value));
  for (const auto& r : restorers()) {
    d.outcomes.push_back(evaluate(a.subject, b.entry, r));
    // A catalog id names the target for `rewrite vvar`; the checkpoint is INPUT (diff has no set path).
    fill_remedies(d.outcomes.back().findings, "", b.kind == "catalog" ? b.label : "");
  }
  return d;
}

ordered_json diff_json(const DiffReport& d) {
  ordered_json j{{"schema", "vdsokit.diff/1"}, {"a", {{"label", d.a.label}, {"kind", d.a.kind}}}, {"b", {{"label", d.b.label}, {"kind", d.b.kind}}}};
  ordered_json syms = ordered_json::array();
  for (const auto& s : d.symbols)
    syms.push_back(ordered_json{{"name", s.name}, {"aliases", s.aliases}, {"change", s.change}, {"from", s.from}, {"to", s.to}});
  j["symbols"] = syms;
  j["layout"] = d.layout;
  ordered_json outs = ordered_json::array();
  for (const auto& o : d.outcomes) outs.push_back(outcome_json(o));
  j["outcomes"] = outs;
  return j;
}

std::string render_diff_text(const DiffReport& d) {
  std::ostringstream o;
  o << "A: " << d.a.label << " (" << d.a.kind << ")\nB: " << d.b.label << " (" << d.b.kind << ")\n\nsymbols:\n";
  if (d.symbols.empty()) o << "  no differences\n";
  for (const auto& s : d.symbols) {
    o << "  " << s.change << " " << s.name;
    if (!s.aliases.empty()) {
      o << " (alias";
      for (const auto& a : s.aliases) o << " " << a;
      o << ")";
    }
    o << (s.change == "resized" ? " size" : "") << (s.from.empty() ? "" : " " + s.from) << (s.to.empty() ? "" : " -> " + s.to) << "\n";
  }
  o << "\nlayout:\n";
  for (const auto& l : d.layout) o << "  " << l << "\n";
  o << "\na checkpoint dumped on A, restored on B:\n";
  for (const auto& out : d.outcomes) {
    o << "  " << out.restorer << ": " << verdict_name(out.verdict) << (out.verdict == Verdict::Blocked ? " (no restore runs)" : "") << "\n";
    for (const auto& f : out.findings) {
      o << "    " << f.code << " " << severity_name(f.severity) << ": " << f.message << "\n";
      if (!f.remedy.empty()) o << "      fix: " << f.remedy << "\n";
    }
  }
  return o.str();
}

}  // namespace vk::analyze
