#include "analyzers/diff.h"

#include <filesystem>
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
  const auto& [label, set] = sets.front();
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

DiffReport diff(const Side& a, const Side& b) {
  DiffReport d{a, b, {}, {}, {}};
  std::map<std::string, const catalog::Symbol*> sa, sb;
  for (const auto& s : a.entry.symbols) sa[s.name] = &s;
  for (const auto& s : b.entry.symbols) sb[s.name] = &s;
  std::set<std::string> names;
  for (auto& [n, s] : sa) names.insert(n);
  for (auto& [n, s] : sb) names.insert(n);
  for (const auto& n : names) {
    auto ia = sa.find(n), ib = sb.find(n);
    if (ia == sa.end()) d.symbols.push_back({n, "added", "", hex(ib->second->offset)});
    else if (ib == sb.end()) d.symbols.push_back({n, "removed", hex(ia->second->offset), ""});
    else {
      if (ia->second->offset != ib->second->offset) d.symbols.push_back({n, "moved", hex(ia->second->offset), hex(ib->second->offset)});
      if (ia->second->size != ib->second->size)
        d.symbols.push_back({n, "resized", std::to_string(ia->second->size), std::to_string(ib->second->size)});
      if (ia->second->version != ib->second->version) d.symbols.push_back({n, "version", ia->second->version, ib->second->version});
    }
  }
  auto line = [&](const std::string& what, const std::string& x, const std::string& y) {
    d.layout.push_back(what + ": " + x + (x == y ? " (same)" : " -> " + y));
  };
  line("vdso pages", std::to_string(a.entry.vdso_pages), std::to_string(b.entry.vdso_pages));
  line("vvar pages", std::to_string(a.entry.vvar_pages.value), std::to_string(b.entry.vvar_pages.value));
  line("vvar_vclock pages", std::to_string(a.entry.vvar_vclock_pages.value), std::to_string(b.entry.vvar_vclock_pages.value));
  line("order", catalog::order_name(a.entry.order.value), catalog::order_name(b.entry.order.value));
  for (const auto& r : restorers()) d.outcomes.push_back(evaluate(a.subject, b.entry, r));
  return d;
}

ordered_json diff_json(const DiffReport& d) {
  ordered_json j{{"schema", "vdsokit.diff/1"}, {"a", {{"label", d.a.label}, {"kind", d.a.kind}}}, {"b", {{"label", d.b.label}, {"kind", d.b.kind}}}};
  ordered_json syms = ordered_json::array();
  for (const auto& s : d.symbols) syms.push_back(ordered_json{{"name", s.name}, {"change", s.change}, {"from", s.from}, {"to", s.to}});
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
  for (const auto& s : d.symbols) o << "  " << s.change << " " << s.name << (s.from.empty() ? "" : " " + s.from) << (s.to.empty() ? "" : " -> " + s.to) << "\n";
  o << "\nlayout:\n";
  for (const auto& l : d.layout) o << "  " << l << "\n";
  o << "\na checkpoint dumped on A, restored on B:\n";
  for (const auto& out : d.outcomes) {
    o << "  " << out.restorer << ": " << verdict_name(out.verdict) << "\n";
    for (const auto& f : out.findings)
      if (f.severity != Severity::Info || out.verdict == Verdict::Blocked) o << "    " << f.code << " " << f.message << "\n";
  }
  return o.str();
}

}  // namespace vk::analyze
