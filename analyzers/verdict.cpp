#include "analyzers/verdict.h"

#include "analyzers/deploy.h"   // shell_quote: one quoting for remedies and job scripts

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

namespace vk::analyze {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Inplace: return "inplace";
    case Verdict::Proxy: return "proxy";
    case Verdict::Retargetable: return "retargetable";
    default: return "blocked";
  }
}

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    default: return "error";
  }
}

Severity Outcome::worst() const {
  Severity w = Severity::Info;
  for (const auto& f : findings) w = std::max(w, f.severity);
  return w;
}

int Outcome::exit_code() const {
  if (verdict == Verdict::Blocked) return kExitBlocked;
  return worst() == Severity::Info ? kExitOk : kExitFindings;
}


std::string old_code_effect(const std::string& name) {
  if (name == "__vdso_clock_getres" || name == "__vdso_clock_getres_time64")
    return "runs the old code against the empty old vvar: clock_getres returns a zero resolution";
  // Real restores (corpora/truth: 6.12.117+deb13-cloud -> this host and -> 6.16.12 cloud, CRIU 4.2.1): the
  // old code reads the empty vvar's "RNG ready" flag as 0 and takes its system-call fallback.
  if (name == "__vdso_getrandom")
    return "reads the empty old vvar, whose RNG-ready flag is 0, and falls back to the getrandom system call: keeps working";
  if (reads_vvar(name)) return "runs the old code against the empty old vvar: returns wrong times";
  return "keeps the old code, which reads no vvar data: keeps working";
}


void fill_remedies(std::vector<Finding>& findings, const std::string& input, const std::string& target) {
  auto replace = [](std::string& s, const std::string& what, const std::string& with) {
    for (size_t p = 0; (p = s.find(what, p)) != std::string::npos; p += with.size()) s.replace(p, what.size(), with);
  };
  for (auto& f : findings) {
    if (!input.empty()) replace(f.remedy, "INPUT", shell_quote(input));
    if (!target.empty()) replace(f.remedy, "TARGET", shell_quote(target));
  }
}

namespace {

const vdso::Symbol* exported(const vdso::Vdso& v, const std::string& name) {
  const auto* s = v.find(name);
  // CRIU's lookup counts st_value 0 as not found (vdso-restore.md §7 step 5).
  return s && s->is_function() && s->offset != 0 ? s : nullptr;
}

const catalog::Symbol* exported(const catalog::Entry& e, const std::string& name) {
  const auto* s = e.find(name);
  return s && s->type == "FUNC" && s->offset != 0 ? s : nullptr;
}

struct EntryPoint {
  std::string name;                 // preferred
  std::vector<std::string> aliases;
  uint64_t offset = 0;

  std::vector<std::string> names() const {
    std::vector<std::string> all{name};
    all.insert(all.end(), aliases.begin(), aliases.end());
    return all;
  }
};

std::vector<EntryPoint> entry_points(const vdso::Vdso& v) {
  std::vector<EntryPoint> out;
  for (const auto* s : v.entry_points()) {
    EntryPoint ep{s->name, {}, s->offset};
    for (const auto& o : v.symbols)
      if (o.offset == s->offset && o.is_function() && o.name != s->name) ep.aliases.push_back(o.name);
    out.push_back(ep);
  }
  return out;
}

// The names the in-place decision compares: CRIU's fixed list, or every export for vdsokit-runtime.
std::vector<std::string> compared_names(const vdso::Vdso& v, const Restorer& r) {
  if (!r.patches_every_export) return r.symbols;
  std::vector<std::string> names;
  for (const auto& s : v.symbols)
    if (s.is_function()) names.push_back(s.name);
  return names;
}

// How a target is named in messages: its release, or its id when it has none (a vDSO file in diff).
std::string name_of(const catalog::Entry& t) { return t.release.empty() ? t.id : t.release; }

bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

void add(Outcome& o, const char* code, Severity s, std::string msg) { o.findings.push_back({code, s, std::move(msg)}); }

bool blocked(const Subject& s, const catalog::Entry& t, const Restorer& r, Outcome& o) {
  size_t before = o.findings.size();
  if (!s.vdso_vma && s.vvar_vma)
    add(o, "VK012", Severity::Error, "the image has a vvar VMA but no vdso VMA: CRIU fails with \"Can't find vDSO area in image\"");
  if (r.is_criu && !r.knows_vvar_vclock && t.vvar_vclock_pages.value > 0)
    add(o, "VK010", Severity::Error,
        r.name + " does not know [vvar_vclock] (Linux >= 6.13, target " + name_of(t) + "): its kerndat fails, so no restore runs; needs CRIU >= 4.1");
  if (s.pagemap_schema == "4.2" && !r.reads_pagemap_field5)
    add(o, "VK011", Severity::Error,
        "the pagemap keeps page counts in field 5 (CRIU >= 4.2); " + r.name + " reads them as 0 pages and restores no memory");
  if (s.compat && !t.arch_map_vdso.value)
    add(o, "VK013", Severity::Error, "a 32-bit (compat) task needs ARCH_MAP_VDSO (Linux >= 4.9) on the target, which " + name_of(t) + " lacks");
  // MAP_DROPPABLE (0x08, criu-images.md: mm flags) exists since Linux 6.11 (vgetrandom's state pages).
  // Real restore: corpora/truth/7.3.4+deb13-amd64__6.1.0-50-amd64.json, CRIU's restorer fails with
  // "Can't restore ... mapping with 0xffffffffffffffea" (-EINVAL) on 6.1.
  constexpr uint32_t kMapDroppable = 0x08;
  if (t.version_code > 0 && t.version_code < catalog::version_code(6, 11, 0))
    for (const auto& v : s.vmas)
      if (v.flags & kMapDroppable) {
        add(o, "VK022", Severity::Error, "VMA " + hex(v.start) + "-" + hex(v.end) + " is MAP_DROPPABLE (a vgetrandom state), which " +
                                             name_of(t) + " (< 6.11) cannot map: the restore fails with EINVAL");
        break;
      }
  if (s.vdso_vma && !s.vdso)
    add(o, "VK015", Severity::Error, "the vDSO cannot be read from the images: " + s.vdso_error);
  if (s.vdso && s.vdso->mark)
    add(o, "VK015", Severity::Error, "the dumped vDSO is a marked CRIU runtime vDSO (V" + std::to_string(s.vdso->mark->version) +
                                         "), not ELF: CRIU never dumps one, the images are inconsistent");
  if (s.vdso && s.vdso->elf) {
    if (s.vdso->osabi != 0 && !r.accepts_osabi_linux)
      add(o, "VK016", Severity::Error, "the vDSO's EI_OSABI is " + std::to_string(s.vdso->osabi) + "; " + r.name + " accepts only 0 (fixed in CRIU 4.2)");
    if (r.requires_dt_hash && !s.vdso->has_hash)
      add(o, "VK016", Severity::Error, "the vDSO has no DT_HASH; " + r.name + " requires it");
    if (!s.vdso->has_hash && !s.vdso->has_gnu_hash)
      add(o, "VK016", Severity::Error, "the vDSO has neither DT_HASH nor DT_GNU_HASH: no restorer can look up its symbols");
  }
  if (s.vdso_vma && s.vvar_vma && overlaps(s.vdso_vma->start, s.vdso_vma->end, s.vvar_vma->start, s.vvar_vma->end))
    add(o, "VK014", Severity::Error, "the vdso and vvar VMAs of the image overlap");
  for (const auto& v : s.vmas) {
    for (const auto* own : {&s.vdso_vma, &s.vvar_vma}) {
      if (!*own || (v.start == (*own)->start && v.end == (*own)->end)) continue;
      if (overlaps(v.start, v.end, (*own)->start, (*own)->end))
        add(o, "VK014", Severity::Error, "VMA " + hex(v.start) + "-" + hex(v.end) + " collides with the image's " +
                                             (own == &s.vdso_vma ? "vdso" : "vvar") + " VMA");
    }
  }
  return o.findings.size() > before;
}

// Where the target's vvar would sit if the image's vdso stayed where it is.
Retarget wanted_vvar(const Subject& s, const catalog::Entry& t) {
  uint64_t size = t.vvar_total();
  if (t.order.value == catalog::Order::VdsoBeforeVvar) return {s.vdso_vma->end, size};
  if (s.vdso_vma->start < size) return {0, 0};   // would wrap below address 0
  return {s.vdso_vma->start - size, size};
}

bool range_free(const Subject& s, uint64_t start, uint64_t end) {
  for (const auto& v : s.vmas) {
    bool own = (s.vvar_vma && v.start == s.vvar_vma->start && v.end == s.vvar_vma->end) ||
               (v.start == s.vdso_vma->start && v.end == s.vdso_vma->end);
    if (!own && overlaps(v.start, v.end, start, end)) return false;
  }
  return true;
}

void proxy_fates(const Subject& s, const catalog::Entry& t, const Restorer& r, Outcome& o) {
  std::map<uint64_t, const vdso::Trampoline*> stale;
  for (const auto& tr : s.vdso->trampolines) stale[tr.offset] = &tr;
  std::map<uint64_t, const vdso::Stub*> stubs;
  for (const auto& st : s.vdso->stubs) stubs[st.offset] = &st;
  for (const auto& ep : entry_points(*s.vdso)) {
    SymbolFate f{ep.name, ep.aliases, ep.offset, std::nullopt, "", ""};
    std::string covered;
    for (const auto& n : ep.names())
      if (covered.empty() && r.covers(n)) covered = n;
    const catalog::Symbol* ts = nullptr;
    if (!covered.empty()) ts = exported(t, covered);
    if (ts) f.new_offset = ts->offset;
    bool has_stale = stale.count(ep.offset) > 0;
    if (!covered.empty() && ts) {
      f.fate = "redirected";
      f.effect = "jumps to the target's " + covered + " at " + hex(ts->offset);
    } else if (!covered.empty() && !r.guards_missing_symbols) {
      f.fate = "missing";
      f.effect = "the target kernel does not export it: CRIU's trampoline jumps to the runtime vDSO base - 1, so a call crashes";
      add(o, "VK004", Severity::Error, ep.name + " is exported by the checkpoint's vDSO but not by " + name_of(t) + ": a call crashes after a proxy restore");
    } else if (stubs.count(ep.offset)) {
      // A vdsokit stub (`rewrite exports`, formats/vdso/stub.h): the old code stays, but its entry
      // enters the kernel directly, so the empty old vvar is never read.
      const auto* st = stubs[ep.offset];
      f.fate = "stub";
      f.effect = "enters the kernel directly (system call " + std::to_string(st->nr) + ", same arguments" +
                 (st->query_guard ? ", the state-size query answers -ENOSYS" : "") + "): correct, at system-call cost";
    } else if (has_stale) {
      f.fate = "stale-trampoline";
      f.effect = "keeps a trampoline from an earlier proxy restore into a runtime vDSO that no longer exists: a call crashes";
      add(o, "VK019", Severity::Error, ep.name + " still holds a trampoline to " + hex(stale[ep.offset]->target) + " from an earlier restore, and " + r.name + " does not re-patch it: a call crashes");
    } else {
      f.fate = "old-code";
      f.effect = old_code_effect(ep.name);
      bool missing_on_target = !exported(t, ep.name);
      if (ep.name == "__vdso_getrandom")
        add(o, "VK008", Severity::Info, ep.name + " stays on the old code (" + r.name + " does not patch it): " + f.effect);
      else if (reads_vvar(ep.name))
        add(o, "VK003", Severity::Warning, ep.name + " stays on the old code (" + r.name + " does not patch it): " + f.effect);
      else
        add(o, "VK008", Severity::Info, ep.name + " stays on the old code" + std::string(missing_on_target ? " (the target does not export it)" : "") + "; it reads no vvar data");
    }
    o.symbols.push_back(f);
  }
}

// An exported function the in-place remap leaves pointing elsewhere: CRIU compares only its own
// names (vdso-restore.md §6.2 "Not compared"), so the others may have moved.
std::string moved_message(const Restorer& r, const EntryPoint& ep, const catalog::Symbol* ts) {
  return r.name + " remaps in place because its " + std::to_string(r.symbols.size()) + " compared symbols match, but " +
         ep.name + " " + (ts ? "moved from " + hex(ep.offset) + " to " + hex(ts->offset) : "is gone") + ": a call jumps into other code";
}

void inplace_fates(const Subject& s, const catalog::Entry& t, const Restorer& r, Outcome& o) {
  for (const auto& ep : entry_points(*s.vdso)) {
    SymbolFate f{ep.name, ep.aliases, ep.offset, std::nullopt, "", ""};
    const auto* ts = exported(t, ep.name);
    if (ts) f.new_offset = ts->offset;
    if (ts && ts->offset == ep.offset) {
      f.fate = "same";
      f.effect = "the remapped target vDSO has it at the same offset";
    } else {
      f.fate = "moved";
      f.effect = ts ? "the target has it at " + hex(ts->offset) + ": callers holding the old address jump into other code"
                    : "the target does not export it: callers holding the old address jump into other code";
      add(o, "VK005", Severity::Error, moved_message(r, ep, ts));
    }
    o.symbols.push_back(f);
  }
}

// What the in-place remap a retarget enables would leave broken.
void after_retarget(const Subject& s, const catalog::Entry& t, const Restorer& r, Outcome& o) {
  for (const auto& ep : entry_points(*s.vdso)) {
    const auto* ts = exported(t, ep.name);
    if (!ts || ts->offset != ep.offset) add(o, "VK005", Severity::Error, "after the vvar rewrite, " + moved_message(r, ep, ts));
  }
}

void predict_clocks(Outcome& o) {
  for (const auto& f : o.symbols) {
    bool ok = f.fate == "same" || f.fate == "redirected" || f.fate == "stub";
    if (f.name == "__vdso_clock_getres") o.clock_getres_ok = ok;
    else if (f.name == "__vdso_clock_gettime" || f.name == "__vdso_gettimeofday" || f.name == "__vdso_time" || f.name == "__vdso_getcpu")
      o.clocks_ok = o.clocks_ok && (ok || (f.fate == "old-code" && f.name == "__vdso_getcpu"));
  }
}

// The fix for each warning and error (docs/findings.md "Remedies"), with the restorer and target
// of this evaluation; INPUT and TARGET are filled by fill_remedies() where the caller knows them.
std::string remedy(const Finding& f, const Subject& s, const Restorer& r) {
  const std::string runtime = "restore with vdsokit-runtime (check again with --restorer vdsokit-runtime)";
  if (f.code == "VK003")
    return "vdsokit rewrite exports --restorer " + r.name + " INPUT, or restore with criu restore --action-script vdsokit-fixup";
  if (f.code == "VK004")
    return runtime + ": it leaves a function the target lacks unpatched instead of jumping into nothing; or pick a target that exports it";
  if (f.code == "VK005") return runtime + ": it compares every exported function and builds a proxy instead";
  if (f.code == "VK006") return "vdsokit rewrite vvar --target TARGET INPUT (then " + r.name + " remaps in place)";
  if (f.code == "VK010") return "restore with CRIU >= 4.1 (--restorer criu-4.1 or criu-4.2) or vdsokit-runtime";
  if (f.code == "VK011") return "vdsokit rewrite pagemap --to 4.1 INPUT for " + r.name + ", or restore with CRIU >= 4.2";
  if (f.code == "VK012") return "none in vdsokit: the images hold a vvar without a vdso; dump the process again";
  if (f.code == "VK013") return "restore on a target with Linux >= 4.9 (ARCH_MAP_VDSO)";
  if (f.code == "VK014") return "none in vdsokit: the images' VMAs overlap; dump the process again";
  if (f.code == "VK015")
    return "make the vDSO pages readable: keep the parent image set beside an incremental dump, dump without --lazy-pages, or dump again";
  if (f.code == "VK016") {
    if (s.vdso && !s.vdso->has_hash && !s.vdso->has_gnu_hash) return "none: a vDSO without a hash table cannot be restored";
    if (s.vdso && s.vdso->osabi != 0 && !r.accepts_osabi_linux) return "restore with CRIU >= 4.2 (--restorer criu-4.2) or vdsokit-runtime";
    return "restore with CRIU >= 4.1 (--restorer criu-4.1), which accepts a GNU hash table alone, or vdsokit-runtime";
  }
  if (f.code == "VK019")
    return "vdsokit rewrite exports --restorer " + r.name + " INPUT, or restore with criu restore --action-script vdsokit-fixup";
  if (f.code == "VK022") return "restore on a target with Linux >= 6.11 (it maps MAP_DROPPABLE)";
  if (f.code == "VK021") return "dump again while no thread is inside the vDSO, or restore on a target whose vDSO matches (in place)";
  return "";
}

Outcome evaluate_findings(const Subject& s, const catalog::Entry& t, const Restorer& r) {
  Outcome o;
  o.restorer = r.name;
  o.target = t.id;
  if (blocked(s, t, r, o)) {
    o.verdict = Verdict::Blocked;
    o.clocks_ok = o.clock_getres_ok = false;
    return o;
  }
  if (!s.vdso_vma) {
    o.verdict = Verdict::Inplace;
    add(o, "VK009", Severity::Info, "the process has no vDSO (it unmapped it): nothing to remap or proxy");
    return o;
  }
  const auto& v = *s.vdso;
  bool size_ok = s.vdso_vma->size() == t.vdso_size();
  std::vector<std::string> mismatched;
  for (const auto& name : compared_names(v, r)) {
    const auto* a = exported(v, name);
    const auto* b = exported(t, name);
    if (bool(a) != bool(b) || (a && a->offset != b->offset)) mismatched.push_back(name);
  }
  bool offsets_ok = mismatched.empty();
  bool vvar_checked = s.vvar_vma && t.vvar_total() > 0;
  bool vvar_size_ok = !vvar_checked || s.vvar_vma->size() == t.vvar_total();
  bool image_vvar_first = s.vvar_vma && s.vvar_vma->start < s.vdso_vma->start;
  bool order_ok = !vvar_checked || image_vvar_first == (t.order.value == catalog::Order::VvarBeforeVdso);

  if (size_ok && offsets_ok && vvar_size_ok && order_ok) {
    o.verdict = Verdict::Inplace;
    add(o, "VK001", Severity::Info, r.name + " remaps " + name_of(t) + "'s vdso" + (vvar_checked ? "/vvar" : "") +
                                        " in place: vdso size, symbol offsets" + (vvar_checked ? ", vvar size and order" : "") + " match");
    inplace_fates(s, t, r, o);
  } else {
    std::string why;
    auto pages = [](uint64_t bytes) { return std::to_string(bytes / criu::kPageSize) + (bytes == criu::kPageSize ? " page" : " pages"); };
    if (!size_ok) why += "vdso " + pages(s.vdso_vma->size()) + " vs " + pages(t.vdso_size()) + "; ";
    if (!offsets_ok) {
      why += "offsets differ for ";
      for (size_t i = 0; i < mismatched.size() && i < 4; ++i) why += (i ? ", " : "") + mismatched[i];
      if (mismatched.size() > 4) why += ", ...";
      why += "; ";
    }
    if (!vvar_size_ok) why += "vvar " + pages(s.vvar_vma->size()) + " vs " + pages(t.vvar_total()) + "; ";
    if (!order_ok) why += "vvar/vdso order differs; ";
    why.resize(why.size() - 2);
    if (size_ok && offsets_ok && vvar_checked) {
      auto want = wanted_vvar(s, t);
      bool fits = want.vvar_start + want.vvar_size > want.vvar_start && want.vvar_start % criu::kPageSize == 0;
      if (fits && range_free(s, want.vvar_start, want.vvar_start + want.vvar_size)) {
        o.verdict = Verdict::Retargetable;
        // A catalog pair has no real addresses (subject_from_bytes places it): say where, not an address.
        std::string to = s.placed ? std::string("the ") + std::to_string(want.vvar_size / criu::kPageSize) + " pages " +
                                        (t.order.value == catalog::Order::VdsoBeforeVvar ? "after" : "before") + " the vdso"
                                  : hex(want.vvar_start) + "-" + hex(want.vvar_start + want.vvar_size);
        o.retarget = want;
        o.retarget->placed = s.placed;
        add(o, "VK006", Severity::Warning, "only the vvar differs (" + why + "): rewriting the vvar VMA to " + to + " turns " + r.name +
                                               "'s proxy into an in-place remap");
        after_retarget(s, t, r, o);
      } else {
        add(o, "VK007", Severity::Info, "only the vvar differs (" + why + "), but the range the target's vvar needs is occupied: no retarget");
      }
    }
    if (o.verdict != Verdict::Retargetable) o.verdict = Verdict::Proxy;
    add(o, "VK002", Severity::Info, r.name + " builds a proxy: " + why);
    proxy_fates(s, t, r, o);
    if (s.ip_in_vdso) add(o, "VK021", Severity::Warning, "a thread was stopped inside the vDSO; after a proxy restore it resumes in old code against an empty vvar (CRIU issue #512)");
  }
  predict_clocks(o);
  return o;
}

}  // namespace

Outcome evaluate(const Subject& s, const catalog::Entry& t, const Restorer& r) {
  Outcome o = evaluate_findings(s, t, r);
  for (auto& f : o.findings)
    if (f.severity != Severity::Info && f.remedy.empty()) f.remedy = remedy(f, s, r);
  return o;
}

Subject subject_from_process(const Process& p, const std::string& pagemap_schema) {
  Subject s;
  s.label = std::to_string(p.pid) + " (" + p.comm + ")";
  s.vdso = p.vdso;
  s.vdso_error = p.vdso_error.value_or("");
  if (!p.vdso_vmas.empty()) s.vdso_vma = p.vdso_vmas.back();    // CRIU takes the last match (§6.2)
  if (!p.vvar_vmas.empty()) s.vvar_vma = p.vvar_vmas.back();
  s.vmas = p.vmas;
  s.compat = p.compat;
  for (const auto& t : p.thread_info) s.ip_in_vdso |= t.ip_in_vdso;
  s.pagemap_schema = pagemap_schema;
  return s;
}

Expected<Subject> subject_from_entry(const catalog::Catalog& cat, const catalog::Entry& e) {
  VK_TRY(bytes, cat.bytes(e));
  return subject_from_bytes(e, std::move(bytes));
}

Expected<Subject> subject_from_bytes(const catalog::Entry& e, std::vector<uint8_t> bytes) {
  Subject s;
  s.label = e.id;
  bytes.resize(std::max<uint64_t>(bytes.size(), e.vdso_size()), 0);
  VK_TRY(v, vdso::parse(e.id, std::move(bytes)));
  s.vdso = std::move(v);
  // A fixed, page-aligned place for the dumped layout; only sizes and order matter for the rules.
  const uint64_t base = 0x7f0000100000;
  uint64_t vvar = e.vvar_total();
  Vma vdso_vma{};
  Vma vvar_vma{};
  if (e.order.value == catalog::Order::VdsoBeforeVvar) {
    vdso_vma.start = base;
    vdso_vma.end = base + e.vdso_size();
    vvar_vma.start = vdso_vma.end;
    vvar_vma.end = vvar_vma.start + vvar;
  } else {
    vvar_vma.start = base;
    vvar_vma.end = base + vvar;
    vdso_vma.start = vvar_vma.end;
    vdso_vma.end = vdso_vma.start + e.vdso_size();
  }
  vdso_vma.status = criu::kVmaRegular | criu::kVmaVdso | criu::kVmaAnonPrivate;
  vvar_vma.status = criu::kVmaRegular | criu::kVmaVvar | criu::kVmaAnonPrivate;
  s.vdso_vma = vdso_vma;
  if (vvar) s.vvar_vma = vvar_vma;
  s.vmas = {vdso_vma};
  if (vvar) s.vmas.push_back(vvar_vma);
  s.compat = e.abi == vdso::Abi::I386;
  s.placed = true;
  return s;
}

}  // namespace vk::analyze
