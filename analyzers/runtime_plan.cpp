#include "analyzers/runtime_plan.h"

#include "analyzers/verdict.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

namespace vk::analyze {

using nlohmann::ordered_json;

namespace {

constexpr uint64_t kPage = VK_RT_PAGE;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The spelling CRIU and libc look up first (§4.5): __vdso_* and __kernel_* beat weak aliases.
bool preferred(std::string_view n) { return starts_with(n, "__vdso_") || starts_with(n, "__kernel_"); }

std::string base_name(std::string_view n) {
  return std::string(starts_with(n, "__vdso_") ? n.substr(7) : n);
}

const vdso::Symbol* func(const vdso::Vdso& v, std::string_view name) {
  for (const auto& s : v.symbols)
    if (s.is_function() && s.name == name) return &s;
  return nullptr;
}

// The new kernel's function for an old entry. Exact names first (in the entry's preferred order),
// then the other spelling of the same function: "__vdso_x" for a weak "x" and the weak "x" when a
// kernel exports no "__vdso_x" (an alias is as good as the symbol: same offset).
const vdso::Symbol* resolve(const vdso::Vdso& target, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (const auto* s = func(target, n)) return s;
  for (const auto& n : names) {
    std::string b = base_name(n);
    if (const auto* s = func(target, "__vdso_" + b)) return s;
    if (const auto* s = func(target, b)) return s;
  }
  return nullptr;
}

// Report the preferred spelling of a target symbol (a weak alias hit names its __vdso_ twin).
std::string preferred_at(const vdso::Vdso& v, const vdso::Symbol& s) {
  for (const auto& o : v.symbols)
    if (o.is_function() && o.offset == s.offset && preferred(o.name)) return o.name;
  return s.name;
}

uint64_t rd(const std::vector<uint8_t>& b, uint64_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + i];
  return v;
}

// The executable section holding image offset `off` (its end and name), from the section headers
// the kernel's vDSO keeps (vdso.h: elf_size covers them). A function's trampoline must not spill
// past .text into .altinstructions and friends. Bounds-checked: the bytes may be hostile.
struct SectionEnd {
  uint64_t end = 0;
  std::string name;
};
std::optional<SectionEnd> code_section_end(const vdso::Vdso& v, uint64_t off) {
  const auto& b = v.bytes;
  if (!v.elf || b.size() < 52) return std::nullopt;
  bool is64 = b[4] == 2;
  uint64_t shoff = is64 ? rd(b, 0x28, 8) : rd(b, 0x20, 4);
  uint64_t shentsize = rd(b, is64 ? 0x3a : 0x2e, 2);
  uint64_t shnum = rd(b, is64 ? 0x3c : 0x30, 2);
  uint64_t shstrndx = rd(b, is64 ? 0x3e : 0x32, 2);
  uint64_t need = is64 ? 64 : 40;
  if (!shoff || shentsize < need || shnum == 0 || shoff > b.size() || shnum * shentsize > b.size() - shoff)
    return std::nullopt;
  struct Sh {
    uint64_t name, type, flags, addr, offset, size;
  };
  auto sh = [&](uint64_t i) {
    uint64_t p = shoff + i * shentsize;
    if (is64) return Sh{rd(b, p, 4), rd(b, p + 4, 4), rd(b, p + 8, 8), rd(b, p + 16, 8), rd(b, p + 24, 8), rd(b, p + 32, 8)};
    return Sh{rd(b, p, 4), rd(b, p + 4, 4), rd(b, p + 8, 4), rd(b, p + 12, 4), rd(b, p + 16, 4), rd(b, p + 20, 4)};
  };
  constexpr uint64_t kShfAlloc = 2, kShfExec = 4;
  for (uint64_t i = 1; i < shnum; ++i) {
    Sh s = sh(i);
    if ((s.flags & (kShfAlloc | kShfExec)) != (kShfAlloc | kShfExec) || s.addr < v.load_vaddr) continue;
    uint64_t start = s.addr - v.load_vaddr;
    if (off < start || off - start >= s.size) continue;
    SectionEnd r{start + s.size, "section end"};
    if (shstrndx < shnum) {
      Sh str = sh(shstrndx);
      if (str.offset < b.size() && s.name < str.size && str.offset + s.name < b.size()) {
        const char* p = reinterpret_cast<const char*>(b.data() + str.offset + s.name);
        size_t max = b.size() - (str.offset + s.name);
        r.name = std::string(p, strnlen(p, max)) + " end";
      }
    }
    return r;
  }
  return std::nullopt;
}

std::string hexs(uint64_t v) { return hex(v); }

ordered_json range_json(uint64_t addr, uint64_t size) {
  ordered_json j;
  j["addr"] = hexs(addr);
  j["size"] = size;
  return j;
}

ordered_json layout_json(const vk_rt_layout& l) {
  ordered_json j = ordered_json::object();
  auto r = [](const vk_rt_range& x) {
    ordered_json o;
    o["start"] = hexs(x.start);
    o["end"] = hexs(x.end);
    o["pages"] = (x.end - x.start) / kPage;
    return o;
  };
  if (l.vvar.end) j["vvar"] = r(l.vvar);
  if (l.vvar_vclock.end) j["vvar_vclock"] = r(l.vvar_vclock);
  j["vdso"] = r(l.vdso);
  j["order"] = !l.vvar.end ? "vdso-only" : l.vdso_before_vvar ? "vdso-before-vvar" : "vvar-before-vdso";
  return j;
}

std::string pages_str(uint64_t bytes) { return std::to_string(bytes / kPage) + (bytes == kPage ? " page" : " pages"); }

}  // namespace

const char* fate_name(Fate f) {
  switch (f) {
    case Fate::Trampoline: return "trampoline";
    case Fate::Unresolved: return "unresolved";
    case Fate::Skipped: return "skipped";
    case Fate::TooShort: return "too-short";
  }
  return "?";
}

size_t RuntimePlan::count(Fate f) const {
  return size_t(std::count_if(entries.begin(), entries.end(), [f](const PlanEntry& e) { return e.fate == f; }));
}

const PlanEntry* RuntimePlan::find(std::string_view name) const {
  for (const auto& e : entries)
    for (const auto& n : e.names)
      if (n == name) return &e;
  return nullptr;
}

uint64_t vvar_pages_for(const vdso::Vdso& v) {
  // LINUX_VERSION_CODE 6.13.0 = 0x060d00.
  return v.linux_version && *v.linux_version >= 0x060d00 ? 6 : 4;
}

Expected<RtTarget> host_target() {
  RtTarget t;
  t.label = "host";
  int rc = vk_rt_read_layout(&t.layout, nullptr, 0);
  if (rc) return bad_input("/proc/self/maps", std::string("vk_rt_read_layout: ") + vk_rt_strerror(rc));
  uint64_t n = t.layout.vdso.end - t.layout.vdso.start;
  std::vector<uint8_t> bytes(n);
  std::memcpy(bytes.data(), reinterpret_cast<const void*>(uintptr_t(t.layout.vdso.start)), n);
  VK_TRY(v, vdso::parse("host [vdso]@" + hex(t.layout.vdso.start), std::move(bytes)));
  t.vdso = std::move(v);
  return t;
}

Expected<RtTarget> explicit_target(std::string label, const std::string& maps_text, std::vector<uint8_t> vdso_bytes) {
  RtTarget t;
  t.label = std::move(label);
  int rc = vk_rt_parse_maps(maps_text.data(), maps_text.size(), &t.layout);
  if (rc) return bad_input(t.label, std::string("maps: ") + vk_rt_strerror(rc));
  VK_TRY(v, vdso::parse(t.label + " [vdso]", std::move(vdso_bytes)));
  t.vdso = std::move(v);
  return t;
}

Expected<vk_rt_plan> plan_placement(const vk_rt_layout& l, vdso::Abi abi, std::optional<uint64_t> at) {
  vk_rt_plan p;
  vk_rt_plan_init(&p);
  if (abi == vdso::Abi::X86_64) p.abi = VK_RT_ABI_X86_64;
  else if (abi == vdso::Abi::I386) p.abi = VK_RT_ABI_I386;
  else return bad_input("", std::string("no runtime trampolines for the ") + vdso::abi_name(abi) + " ABI");
  if (!l.vdso.end) return bad_input("", "the target has no [vdso]");
  // One delta for the whole block (runtime/README.md "One shift for all"): vDSO code reaches
  // vvar PC-relatively. The block starts at the lower of [vvar] and [vdso], whatever the order.
  uint64_t lo = l.vdso.start;
  if (l.vvar.end && l.vvar.start < lo) lo = l.vvar.start;
  uint64_t to = at.value_or(lo);
  if (to % kPage) return usage_error("--at " + hex(to) + " is not page aligned");
  uint64_t d = to - lo;
  p.vdso_addr = l.vdso.start + d;
  p.vdso_size = l.vdso.end - l.vdso.start;
  if (l.vvar.end) {
    p.vvar_addr = l.vvar.start + d;
    p.vvar_size = l.vvar.end - l.vvar.start;
  }
  if (l.vvar_vclock.end) {
    p.vclock_addr = l.vvar_vclock.start + d;
    p.vclock_size = l.vvar_vclock.end - l.vvar_vclock.start;
  }
  return p;
}

Expected<RuntimePlan> plan_runtime(const PlanRequest& req, const RtTarget& target) {
  if (!req.old) return bad_input("", "no old vDSO");
  const vdso::Vdso& old = *req.old;
  const vdso::Vdso& nv = target.vdso;
  if (old.mark)
    return bad_input(old.name, "the bytes start with a CRIU vdso mark: a runtime vDSO, not one to restore");
  if (!old.elf) return bad_input(old.name, "not an ELF vDSO");
  if (old.abi != nv.abi)
    return bad_input(old.name, std::string("the old vDSO is ") + vdso::abi_name(old.abi) + ", the target's is " +
                                   vdso::abi_name(nv.abi) + ": a process keeps its ABI across restore");
  if (req.proxy_addr % kPage) return usage_error("proxy address " + hex(req.proxy_addr) + " is not page aligned");

  RuntimePlan r;
  r.abi = old.abi;
  r.old_label = old.name;
  r.old_version = old.version_string();
  r.target_label = target.label;
  r.target_version = nv.version_string();
  r.target_layout = target.layout;
  VK_TRY(pl, plan_placement(target.layout, old.abi, req.at));
  r.plan = pl;
  r.tramp_len = vk_rt_tramp_len(r.plan.abi);
  r.delta = r.plan.vdso_addr - target.layout.vdso.start;

  vk_rt_plan& p = r.plan;
  p.proxy_addr = req.proxy_addr;
  p.proxy_size = req.proxy_size ? req.proxy_size : (old.bytes.size() + kPage - 1) / kPage * kPage;
  if (p.proxy_size % kPage) return usage_error("proxy size " + hex(p.proxy_size) + " is not a page multiple");
  if (req.mark) {
    p.flags |= VK_RT_PLAN_MARK;
    p.orig_vdso_addr = req.proxy_addr;        // the mark names the proxy as "the" vdso (§5.2)
    p.orig_vvar_addr = req.orig_vvar.value_or(VK_RT_NO_ADDR);
  }

  // Group the old vDSO's functions by offset: aliases share an entry and one trampoline covers
  // all of them (§6.4 "Weak aliases share the address").
  std::map<uint64_t, std::vector<const vdso::Symbol*>> at_off;
  for (const auto& s : old.symbols)
    if (s.is_function()) at_off[s.offset].push_back(&s);
  for (auto& [off, syms] : at_off) {
    std::stable_sort(syms.begin(), syms.end(), [](const vdso::Symbol* a, const vdso::Symbol* b) {
      if (preferred(a->name) != preferred(b->name)) return preferred(a->name);
      if (a->bind != b->bind) return a->bind == "GLOBAL";
      return a->name < b->name;
    });
    PlanEntry e;
    e.offset = off;
    for (const auto* s : syms) {
      e.names.push_back(s->name);
      e.size = std::max(e.size, s->size);
    }

    // Room: up to the next symbol of any kind, and never past the end of the code section.
    e.room = old.bytes.size() - off;
    e.room_limit = "end of the image";
    for (const auto& s : old.symbols)
      if (s.offset > off && s.offset - off < e.room) {
        e.room = s.offset - off;
        e.room_limit = "next symbol " + s.name;
      }
    if (auto se = code_section_end(old, off); se && se->end - off < e.room) {
      e.room = se->end - off;
      e.room_limit = se->name;
    }

    bool vsyscall = std::find(e.names.begin(), e.names.end(), "__kernel_vsyscall") != e.names.end();
    const vdso::Symbol* hit = vsyscall ? nullptr : resolve(nv, e.names);
    if (vsyscall) {
      // Not a time function: it takes the syscall number in eax, which the trampoline clobbers, and
      // it is too short (CRIU ee6412fa2, issue #512; §4.5). Its old code needs no vvar: left as is.
      e.fate = Fate::Skipped;
      e.reason = "entry syscall path: eax carries the syscall number, which the trampoline clobbers; "
                 "too short to patch; needs no vvar";
    } else if (!hit) {
      e.fate = Fate::Unresolved;
      // One truth with check (VK003/VK008): only the clock and random functions read the vvar.
      bool vvar = std::any_of(e.names.begin(), e.names.end(), [](const std::string& n) { return reads_vvar(n); });
      e.reason = std::string("not exported by the target vDSO; left unpatched: ") +
                 (vvar ? "calling it runs the old code against the stale old vvar" : "it reads no vvar data, so its old code keeps working");
      if (e.room < r.tramp_len)
        e.reason += "; a trampoline would not fit either (" + std::to_string(e.room) + " bytes up to " + e.room_limit + ")";
    } else if (e.room < r.tramp_len) {
      e.fate = Fate::TooShort;
      e.target_name = preferred_at(nv, *hit);
      e.target_offset = hit->offset;
      e.reason = std::to_string(e.room) + " bytes up to " + e.room_limit + ", a trampoline needs " +
                 std::to_string(r.tramp_len) + ": left unpatched";
    } else if (hit->offset >= p.vdso_size) {
      return bad_input(nv.name, "symbol " + hit->name + " at " + hex(hit->offset) + " lies outside the " +
                                    pages_str(p.vdso_size) + " [vdso]");
    } else {
      e.fate = Fate::Trampoline;
      e.target_name = preferred_at(nv, *hit);
      e.target_offset = hit->offset;
      e.from = p.proxy_addr + off;
      e.to = p.vdso_addr + hit->offset;
      if (e.size < r.tramp_len) {
        e.shorter_than_tramp = true;
        e.reason = "function is " + std::to_string(e.size) + " bytes, the trampoline " + std::to_string(r.tramp_len) +
                   ": it also covers " + std::to_string(r.tramp_len - e.size) +
                   (r.tramp_len - e.size == 1 ? " byte" : " bytes") + " of padding (" +
                   std::to_string(e.room) + " bytes up to " + e.room_limit + ")";
      }
    }
    r.entries.push_back(std::move(e));
  }

  for (const auto& e : r.entries) {
    if (e.fate == Fate::Trampoline) {
      if (p.nr_tramps >= VK_RT_MAX_TRAMPS)
        return bad_input(old.name, "more than " + std::to_string(VK_RT_MAX_TRAMPS) + " trampolines");
      auto& t = p.tramps[p.nr_tramps++];
      t.from = e.from;
      t.to = e.to;
      std::snprintf(t.name, sizeof(t.name), "%s", e.names.front().c_str());
    } else if (e.fate == Fate::Unresolved) {
      if (p.nr_unresolved >= VK_RT_MAX_UNRESOLVED)
        return bad_input(old.name, "more than " + std::to_string(VK_RT_MAX_UNRESOLVED) + " unresolved functions");
      std::snprintf(p.unresolved[p.nr_unresolved++], VK_RT_NAME_MAX, "%s", e.names.front().c_str());
    }
  }

  if (!old.trampolines.empty())
    r.notes.push_back("the old vDSO already carries " + std::to_string(old.trampolines.size()) +
                      " CRIU trampolines (restored through a proxy before); they are overwritten");
  // CRIU's blobs_matches (§6.2): vdso size, the offsets of its seven names (absent == absent), and,
  // when both sides have one, the vvar size (vclock included) and the order.
  auto why_not = [&]() -> std::string {
    if (p.proxy_size != p.vdso_size)
      return "vdso size " + hex(p.proxy_size) + " != " + hex(p.vdso_size);
    for (const auto& n : vdso::criu_proxy_symbols()) {
      const auto* a = func(old, n);
      const auto* b = func(nv, n);
      if (!a != !b || (a && a->offset != b->offset))
        return n + " at " + (a ? hex(a->offset) : std::string("absent")) + " vs " + (b ? hex(b->offset) : std::string("absent"));
    }
    const auto& l = target.layout;
    if (req.orig_vvar && l.vvar.end) {
      uint64_t total = (l.vvar.end - l.vvar.start) + (l.vvar_vclock.end - l.vvar_vclock.start);
      if (req.orig_vvar_size && *req.orig_vvar_size != total)
        return "vvar size " + hex(*req.orig_vvar_size) + " != " + hex(total);
      if ((*req.orig_vvar > req.proxy_addr) != (l.vdso_before_vvar != 0)) return "vvar/vdso order differs";
    }
    return "";
  };
  r.criu_remap_why = why_not();
  r.criu_remaps = r.criu_remap_why.empty();
  r.notes.push_back(r.criu_remaps ? "CRIU would remap in place here, no proxy (size, its seven symbol offsets and the vvar match)"
                                  : "CRIU would proxy too (" + r.criu_remap_why + ")");
  r.check_code = vk_rt_check_plan(&p, &target.layout);
  return r;
}

std::string render_text(const RuntimePlan& r) {
  std::string s;
  auto line = [&](const std::string& l) { s += "# " + l + "\n"; };
  line("vdsokit plan: " + r.old_label + (r.old_version.empty() ? "" : " (Linux " + r.old_version + ")") + " -> " +
       r.target_label + (r.target_version.empty() ? "" : " (Linux " + r.target_version + ")"));
  const auto& l = r.target_layout;
  std::string lay;
  if (l.vvar.end) lay += "[vvar] " + hex(l.vvar.start) + " " + pages_str(l.vvar.end - l.vvar.start) + ", ";
  if (l.vvar_vclock.end)
    lay += "[vvar_vclock] " + hex(l.vvar_vclock.start) + " " + pages_str(l.vvar_vclock.end - l.vvar_vclock.start) + ", ";
  lay += "[vdso] " + hex(l.vdso.start) + " " + pages_str(l.vdso.end - l.vdso.start);
  std::string move = ", not moved";
  if (r.delta) {
    bool down = r.delta >> 63;   // a move to lower addresses: show the signed distance
    uint64_t lo = l.vvar.end && l.vvar.start < l.vdso.start ? l.vvar.start : l.vdso.start;
    move = ", block moved to " + hex(lo + r.delta) + " (" + (down ? "-" + hex(0 - r.delta) : "+" + hex(r.delta)) + ")";
  }
  line("target layout: " + lay + move);
  for (const auto& e : r.entries) {
    std::string names = e.names.front();
    for (size_t i = 1; i < e.names.size(); ++i) names += (i == 1 ? " (" : ", ") + e.names[i];
    if (e.names.size() > 1) names += ")";
    std::string what = std::string(fate_name(e.fate));
    if (e.fate == Fate::Trampoline) what += " -> " + e.target_name + " +" + hex(e.target_offset);
    line(hex(e.offset) + " " + names + " size " + hex(e.size) + ": " + what +
         (e.reason.empty() ? "" : " (" + e.reason + ")"));
  }
  for (const auto& n : r.notes) line("note: " + n);
  line(std::string("check against the target layout: ") + vk_rt_strerror(r.check_code));
  std::vector<char> buf(64 * 1024);
  long n = vk_rt_plan_format(&r.plan, buf.data(), buf.size());
  if (n > 0) s.append(buf.data(), size_t(n));
  return s;
}

ordered_json to_json(const RuntimePlan& r) {
  const auto& p = r.plan;
  ordered_json j;
  j["schema"] = "vdsokit.plan/1";
  j["abi"] = vdso::abi_name(r.abi);
  j["tramp_len"] = r.tramp_len;
  ordered_json old;
  old["label"] = r.old_label;
  old["version"] = r.old_version;
  old["proxy"] = range_json(p.proxy_addr, p.proxy_size);
  old["orig_vvar"] = p.orig_vvar_addr == VK_RT_NO_ADDR ? ordered_json() : ordered_json(hexs(p.orig_vvar_addr));
  j["old"] = old;
  ordered_json tgt;
  tgt["label"] = r.target_label;
  tgt["version"] = r.target_version;
  tgt["layout"] = layout_json(r.target_layout);
  j["target"] = tgt;
  ordered_json place = ordered_json::object();
  if (p.vvar_size) place["vvar"] = range_json(p.vvar_addr, p.vvar_size);
  if (p.vclock_size) place["vvar_vclock"] = range_json(p.vclock_addr, p.vclock_size);
  place["vdso"] = range_json(p.vdso_addr, p.vdso_size);
  place["delta"] = hexs(r.delta);
  j["placement"] = place;
  j["mark"] = (p.flags & VK_RT_PLAN_MARK) != 0;
  ordered_json es = ordered_json::array();
  for (const auto& e : r.entries) {
    ordered_json o;
    o["names"] = e.names;
    o["offset"] = hexs(e.offset);
    o["size"] = e.size;
    o["room"] = e.room;
    o["room_limit"] = e.room_limit;
    o["fate"] = fate_name(e.fate);
    if (!e.target_name.empty()) {
      o["target"] = e.target_name;
      o["target_offset"] = hexs(e.target_offset);
    }
    if (e.fate == Fate::Trampoline) {
      o["from"] = hexs(e.from);
      o["to"] = hexs(e.to);
    }
    o["shorter_than_tramp"] = e.shorter_than_tramp;
    if (!e.reason.empty()) o["reason"] = e.reason;
    es.push_back(o);
  }
  j["entries"] = es;
  ordered_json sum;
  sum["trampolines"] = r.count(Fate::Trampoline);
  sum["unresolved"] = r.count(Fate::Unresolved);
  sum["skipped"] = r.count(Fate::Skipped);
  sum["too_short"] = r.count(Fate::TooShort);
  j["summary"] = sum;
  j["notes"] = r.notes;
  j["criu_would_remap_in_place"] = r.criu_remaps;
  ordered_json chk;
  chk["code"] = r.check_code;
  chk["name"] = vk_rt_strerror(r.check_code);
  j["check"] = chk;
  std::vector<char> buf(64 * 1024);
  long n = vk_rt_plan_format(&p, buf.data(), buf.size());
  j["plan_text"] = n > 0 ? std::string(buf.data(), size_t(n)) : std::string();
  return j;
}

}  // namespace vk::analyze
