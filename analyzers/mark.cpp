#include "analyzers/mark.h"

#include <algorithm>
#include <sstream>

namespace vk::analyze {

using nlohmann::ordered_json;

namespace {

bool is_file(const procmaps::Line& m) { return m.inode != 0 || (!m.name.empty() && m.name[0] == '/'); }

// CRIU's "could this be a vdso or vvar" test (§4.2): regular, anonymous, below task_size, not a
// stack (GROWSDOWN; maps shows it as [stack]), readable.
bool vdso_candidate(const DumpVma& v, const procmaps::Line& m, uint64_t task_size) {
  return m.name != "[vsyscall]" && !is_file(m) && v.start <= task_size && m.name != "[stack]" && m.perms[0] == 'r';
}

}  // namespace

std::vector<const DumpVma*> NextDump::kept_vdso() const {
  std::vector<const DumpVma*> r;
  for (const auto& v : vmas)
    if (v.kept && v.vdso) r.push_back(&v);
  return r;
}
std::vector<const DumpVma*> NextDump::kept_vvar() const {
  std::vector<const DumpVma*> r;
  for (const auto& v : vmas)
    if (v.kept && v.vvar) r.push_back(&v);
  return r;
}
std::vector<const DumpVma*> NextDump::dropped() const {
  std::vector<const DumpVma*> r;
  for (const auto& v : vmas)
    if (!v.kept) r.push_back(&v);
  return r;
}

NextDump predict_next_dump(const std::vector<procmaps::Line>& maps, const MemReader& read, uint64_t task_size) {
  NextDump d;
  // 1. The VMA list, with [vvar]+[vvar_vclock] as one VMA.
  std::vector<const procmaps::Line*> src;   // parallel to d.vmas: the (first) maps line
  std::vector<bool> candidate;
  for (const auto& m : maps) {
    if (m.name == "[vvar_vclock]" && !d.vmas.empty() && d.vmas.back().name == "[vvar]" && d.vmas.back().end == m.start) {
      d.vmas.back().end = m.end;
      d.vmas.back().name = "[vvar]+[vvar_vclock]";
      continue;
    }
    DumpVma v;
    v.start = m.start;
    v.end = m.end;
    v.perms = m.perms;
    v.name = m.name;
    v.vdso = m.name == "[vdso]";
    v.vvar = m.name == "[vvar]" || m.name == "[vvar_vclock]";
    if (v.vdso || v.vvar) v.why = "named " + m.name + " (CRIU trusts the name since Linux 3.16)";
    d.vmas.push_back(std::move(v));
    src.push_back(&m);
  }
  for (size_t i = 0; i < d.vmas.size(); ++i) candidate.push_back(vdso_candidate(d.vmas[i], *src[i], task_size));

  // 2. The mark probe on every r-x candidate.
  size_t marked = d.vmas.size();
  for (size_t i = 0; i < d.vmas.size(); ++i) {
    auto& v = d.vmas[i];
    if (!candidate[i] || v.perms[2] != 'x') continue;
    auto head = read(v.start, std::min<uint64_t>(40, v.end - v.start));
    if (!head) {
      d.warnings.push_back("cannot read " + hex(v.start) + " for the mark probe");
      continue;
    }
    auto m = vdso::find_mark(*head);
    if (!m) continue;
    if (marked != d.vmas.size()) {
      d.errors.push_back("Second vdso mark at " + hex(v.start) + " (first at " + hex(d.vmas[marked].start) + ")");
      continue;
    }
    marked = i;
    d.mark = m;
  }
  if (!d.mark) return d;

  auto& rt = d.vmas[marked];
  d.rt_vdso = rt.start;
  d.rt_vdso_end = rt.end;
  d.orig_vdso = d.mark->orig_vdso;
  // V1 and V2 marks are upgraded in place to V3 before use (§5.3.1).
  d.orig_vvar = d.mark->version >= 2 ? d.mark->orig_vvar : ~0ull;
  d.rt_vvar = d.mark->version == 3 ? d.mark->rt_vvar : ~0ull;
  if (d.mark->version == 3 && d.mark->stored_version != 3) {
    d.errors.push_back("Mark version mismatch: stored version " + std::to_string(d.mark->stored_version));
    return d;
  }

  // 3. drop_rt_vdso.
  auto at = [&](uint64_t a) -> DumpVma* {
    for (auto& v : d.vmas)
      if (v.start == a) return &v;
    return nullptr;
  };
  if (auto* p = at(d.orig_vdso)) {
    p->vdso = true;
    p->role = "proxy";
    p->why = "starts at the mark's orig_vdso";
  } else {
    d.warnings.push_back("no VMA starts at orig_vdso " + hex(d.orig_vdso));
  }
  if (d.orig_vvar != ~0ull) {
    if (auto* p = at(d.orig_vvar)) {
      p->vvar = true;
      p->role = "orig-vvar";
      p->why = "starts at the mark's orig_vvar";
    } else {
      d.warnings.push_back("no VMA starts at orig_vvar " + hex(d.orig_vvar));
    }
  }
  if (d.rt_vvar != ~0ull) {
    DumpVma* p = nullptr;
    size_t idx = 0;
    for (; idx < d.vmas.size(); ++idx)
      if (d.vmas[idx].start == d.rt_vvar) {
        p = &d.vmas[idx];
        break;
      }
    if (!p) {
      d.warnings.push_back("no VMA starts at rt_vvar " + hex(d.rt_vvar));
    } else if (!candidate[idx]) {
      d.warnings.push_back("the VMA at rt_vvar " + hex(d.rt_vvar) + " cannot be a vvar: kept");
    } else {
      p->kept = false;
      p->role = "rt-vvar";
      p->why = "starts at the mark's rt_vvar: dropped";
    }
  }
  rt.kept = false;
  rt.role = "rt-vdso";
  rt.why = "carries a CRIU V" + std::to_string(d.mark->version) + " mark: dropped";

  // The proxy's trampolines, as vdsokit's own vDSO parser finds them.
  if (auto* p = at(d.orig_vdso)) {
    auto bytes = read(p->start, p->end - p->start);
    if (!bytes) {
      d.proxy_error = "cannot read the proxy at " + hex(p->start);
    } else {
      auto v = vdso::parse("proxy@" + hex(p->start), std::move(*bytes));
      if (!v) {
        d.proxy_error = v.error().str();
      } else {
        for (const auto& t : v->trampolines)
          if (t.target >= d.rt_vdso && t.target < d.rt_vdso_end) ++d.tramps_into_rt;
        d.proxy = v.take();
      }
    }
  }
  return d;
}

std::string render_text(const NextDump& d) {
  std::string s;
  if (!d.mark) {
    s += "no CRIU mark in any r-x anonymous VMA: nothing to drop\n";
  } else {
    s += "mark V" + std::to_string(d.mark->version) + " at " + hex(d.rt_vdso) + ": orig_vdso " + hex(d.orig_vdso) +
         ", orig_vvar " + (d.orig_vvar == ~0ull ? std::string("none") : hex(d.orig_vvar)) + ", rt_vvar " +
         (d.rt_vvar == ~0ull ? std::string("none") : hex(d.rt_vvar)) + "\n";
    if (d.proxy)
      s += "proxy at " + hex(d.orig_vdso) + ": " + std::to_string(d.proxy->trampolines.size()) + " trampolines, " +
           std::to_string(d.tramps_into_rt) + " into the runtime vDSO\n";
    else if (!d.proxy_error.empty())
      s += "proxy: " + d.proxy_error + "\n";
  }
  for (const auto& v : d.vmas) {
    if (v.role.empty() && !v.vdso && !v.vvar) continue;
    s += "  " + hex(v.start) + "-" + hex(v.end) + " " + v.perms + " " + (v.name.empty() ? "(anon)" : v.name) + ": " +
         (v.kept ? std::string(v.vdso ? "VDSO" : "VVAR") : std::string("dropped")) +
         (v.role.empty() ? "" : " [" + v.role + "]") + (v.why.empty() ? "" : " - " + v.why) + "\n";
  }
  for (const auto& e : d.errors) s += "error: " + e + "\n";
  for (const auto& w : d.warnings) s += "warning: " + w + "\n";
  return s;
}

ordered_json to_json(const NextDump& d) {
  ordered_json j;
  if (d.mark) {
    ordered_json m;
    m["version"] = d.mark->version;
    m["at"] = hex(d.rt_vdso);
    m["orig_vdso"] = hex(d.orig_vdso);
    m["orig_vvar"] = d.orig_vvar == ~0ull ? ordered_json() : ordered_json(hex(d.orig_vvar));
    m["rt_vvar"] = d.rt_vvar == ~0ull ? ordered_json() : ordered_json(hex(d.rt_vvar));
    j["mark"] = m;
  } else {
    j["mark"] = nullptr;
  }
  if (d.proxy) {
    j["proxy_trampolines"] = d.proxy->trampolines.size();
    j["proxy_trampolines_into_rt"] = d.tramps_into_rt;
  }
  ordered_json vs = ordered_json::array();
  for (const auto& v : d.vmas) {
    if (v.role.empty() && !v.vdso && !v.vvar) continue;
    ordered_json o;
    o["start"] = hex(v.start);
    o["end"] = hex(v.end);
    o["perms"] = v.perms;
    o["name"] = v.name;
    o["status"] = !v.kept ? "dropped" : v.vdso ? "VDSO" : "VVAR";
    o["role"] = v.role;
    o["why"] = v.why;
    vs.push_back(o);
  }
  j["vmas"] = vs;
  j["errors"] = d.errors;
  j["warnings"] = d.warnings;
  return j;
}

}  // namespace vk::analyze
