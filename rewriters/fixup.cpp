#include "rewriters/fixup.h"
#include "formats/common/text.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analyzers/restorer.h"
#include "formats/common/sha256.h"
#include "formats/procmaps/maps.h"

namespace vk::rewrite {

namespace {

std::string proc(uint32_t pid, const std::string& rest) { return "/proc/" + std::to_string(pid) + "/" + rest; }

// /proc files report size 0: read them to the end (bounded).
Expected<std::string> read_proc(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return bad_input(path, std::string("cannot open: ") + std::strerror(errno));
  std::string s;
  char buf[8192];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    s.append(buf, size_t(f.gcount()));
    if (s.size() > (64u << 20)) return bad_input(path, "more than 64 MiB");
  }
  return s;
}

std::vector<uint32_t> numbers_in(const std::string& text) {
  std::vector<uint32_t> out;
  std::istringstream in(text);
  uint32_t v;
  while (in >> v) out.push_back(v);
  return out;
}

std::vector<uint32_t> tasks_of(uint32_t pid) {
  std::vector<uint32_t> out;
  if (DIR* d = ::opendir(proc(pid, "task").c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(uint32_t(std::strtoul(e->d_name, nullptr, 10)));
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// /proc/PID/mem through one descriptor; reads and writes are exact or fail.
class Mem {
 public:
  explicit Mem(uint32_t pid) : path_(proc(pid, "mem")) {}
  ~Mem() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status open(bool write) {
    fd_ = ::open(path_.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd_ < 0) return bad_input(path_, std::string("cannot open: ") + std::strerror(errno));
    return Status::ok();
  }
  Expected<std::vector<uint8_t>> read(uint64_t addr, size_t len) const {
    std::vector<uint8_t> b(len);
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd_, b.data() + done, len - done, off_t(addr + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return bad_input_at(path_, addr + done, std::string("read failed: ") + (n ? std::strerror(errno) : "end of mapping"));
      done += size_t(n);
    }
    return b;
  }
  Status write(uint64_t addr, const uint8_t* p, size_t len) const {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(fd_, p + done, len - done, off_t(addr + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return bad_input_at(path_, addr + done, std::string("write failed: ") + (n ? std::strerror(errno) : "nothing written"));
      done += size_t(n);
    }
    return Status::ok();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

struct Range {
  uint64_t lo, hi;   // offsets in the proxy
};

std::vector<Range> changed(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<Range> out;
  for (uint64_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (!out.empty() && out.back().hi == i) out.back().hi = i + 1;
    else out.push_back({i, i + 1});
  }
  return out;
}

void fail(FixupProcess& r, Error e, int code) {
  r.status = "failed";
  e.exit_code = code;
  r.detail = e.str();
  r.error = std::move(e);
  r.exit_code = code;
}

}  // namespace

int FixupReport::exit_code() const {
  int c = kExitOk;
  for (const auto& p : processes) c = std::max(c, p.exit_code);
  return c;
}

Expected<std::vector<uint32_t>> process_tree(uint32_t root) {
  if (::access(proc(root, "").c_str(), F_OK) != 0) return bad_input(proc(root, ""), "no such process");
  std::vector<uint32_t> out;
  std::set<uint32_t> seen;
  std::vector<uint32_t> todo{root};
  while (!todo.empty()) {
    uint32_t pid = todo.back();
    todo.pop_back();
    if (!seen.insert(pid).second) continue;
    out.push_back(pid);
    for (uint32_t tid : tasks_of(pid)) {
      auto kids = read_proc(proc(pid, "task/" + std::to_string(tid) + "/children"));
      if (!kids) continue;   // the thread exited meanwhile
      for (uint32_t c : numbers_in(*kids)) todo.push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

FixupProcess fixup_process(uint32_t pid, const analyze::RtTarget& host64, const analyze::RtTarget* host32, const FixupOptions& o) {
  FixupProcess r;
  r.pid = pid;
  r.threads = tasks_of(pid);
  if (auto c = read_proc(proc(pid, "comm"))) {
    r.comm = *c;
    while (!r.comm.empty() && r.comm.back() == '\n') r.comm.pop_back();
  }
  auto text = read_proc(proc(pid, "maps"));
  if (!text) return fail(r, text.error(), kExitBadInput), r;
  auto lines = procmaps::parse(*text, proc(pid, "maps"));
  if (!lines) return fail(r, lines.error(), kExitBadInput), r;
  vk_rt_layout layout{};
  if (!procmaps::find(*lines, "[vdso]")) {
    r.status = "no-vdso";
    r.detail = "no [vdso] mapping: nothing to redirect";
    return r;
  }
  if (int rc = vk_rt_parse_maps(text->data(), text->size(), &layout))
    return fail(r, bad_input(proc(pid, "maps"), std::string("kernel mappings: ") + vk_rt_strerror(rc)), kExitBadInput), r;
  r.rt_vdso = layout.vdso.start;

  Mem mem(pid);
  if (auto st = mem.open(!o.dry_run); !st) return fail(r, st.error(), kExitBlocked), r;
  uint64_t vdso_size = layout.vdso.end - layout.vdso.start;
  auto rt = mem.read(layout.vdso.start, vdso_size);
  if (!rt) return fail(r, rt.error(), kExitBadInput), r;
  auto mark = vdso::find_mark(*rt);
  if (!mark) {
    // CRIU writes its mark only when it builds a proxy (vdso-restore.md §5.1): without one the
    // kernel's vDSO was remapped in place, and every export is the running kernel's own code.
    r.status = "in-place";
    r.detail = "[vdso] at " + hex(layout.vdso.start) + " carries no CRIU mark: the restore was in place, nothing to do";
    return r;
  }
  r.proxy = mark->orig_vdso;
  const procmaps::Line* pv = nullptr;
  for (const auto& l : *lines)
    if (l.start == mark->orig_vdso) pv = &l;
  if (!pv) return fail(r, bad_input(proc(pid, "maps"), "CRIU's mark names the proxy at " + hex(mark->orig_vdso) + ", but nothing is mapped there"), kExitBadInput), r;
  r.proxy_size = pv->end - pv->start;
  auto before = mem.read(pv->start, r.proxy_size);
  if (!before) return fail(r, before.error(), kExitBadInput), r;
  auto old = vdso::parse(proc(pid, "mem") + "@" + hex(pv->start), *before);
  if (!old) return fail(r, old.error(), kExitBadInput), r;
  // The running kernel's vDSO of the task's ABI (the proxy's: an i386 task kept its 32-bit vDSO). It
  // must equal the task's [vdso] beyond CRIU's 40-byte mark.
  const analyze::RtTarget* host = old->abi == vdso::Abi::X86_64 ? &host64 : old->abi == vdso::Abi::I386 ? host32 : nullptr;
  if (!host)
    return fail(r, bad_input(proc(pid, "mem"), std::string("no running ") + vdso::abi_name(old->abi) + " vDSO to redirect to" +
                                                   (old->abi == vdso::Abi::I386 && !o.i386_why.empty() ? " (" + o.i386_why + ")" : "") +
                                                   ": nothing written"),
                kExitBlocked),
           r;
  if (host->vdso.bytes.size() != rt->size() ||
      !std::equal(rt->begin() + VK_RT_MARK_SIZE, rt->end(), host->vdso.bytes.begin() + VK_RT_MARK_SIZE))
    return fail(r, bad_input(proc(pid, "mem"), "the task's [vdso] at " + hex(layout.vdso.start) + " is not this kernel's " +
                                                   vdso::abi_name(host->vdso.abi) + " vDSO: nothing written"),
                kExitBlocked),
           r;

  analyze::RtTarget target;
  target.label = "pid " + std::to_string(pid) + " [vdso]@" + hex(layout.vdso.start);
  target.layout = layout;
  target.vdso = host->vdso;
  analyze::PlanRequest req;
  req.old = &*old;
  req.proxy_addr = pv->start;
  req.proxy_size = r.proxy_size;
  req.mark = false;   // CRIU's mark is already there
  auto plan = analyze::plan_runtime(req, target);
  if (!plan) return fail(r, plan.error(), kExitBadInput), r;
  if (plan->check_code)
    return fail(r, bad_input(proc(pid, "maps"), std::string("the plan does not fit the task's mappings: ") + vk_rt_strerror(plan->check_code)),
                kExitBlocked),
           r;
  // The bytes: the runtime's own trampolines, rendered into a copy of the proxy.
  std::vector<uint8_t> after = *before;
  int n = vk_rt_render_tramps(&plan->plan, after.data(), after.size());
  if (n < 0) return fail(r, bad_input(proc(pid, "mem"), std::string("trampolines: ") + vk_rt_strerror(n)), kExitBlocked), r;
  // Record what the fixup overwrites in a vdsokit mark (formats/vdso/stub.h) in the proxy's padding:
  // CRIU drops the runtime vDSO at the next dump (vdso-restore.md §5.3), so in a second-generation image
  // these trampolines are stale, and CRIU re-patches only its own names. With the original bytes kept,
  // `rewrite exports` (or identify) can put them back. An older mark (stubs) is folded in.
  std::vector<uint8_t> base = old->stub_mark ? vdso::without_stubs(*before, *old->stub_mark) : *before;
  if (old->stub_mark)
    std::fill(after.begin() + long(old->stub_mark->offset), after.begin() + long(old->stub_mark->offset + old->stub_mark->size), 0);
  std::vector<vdso::MarkEntry> entries;
  for (const auto& g : changed(base, after)) {
    if (!entries.empty() && g.lo - (entries.back().at + entries.back().original.size()) <= 8 &&
        g.hi - entries.back().at <= 255) {
      uint64_t at = entries.back().at;
      entries.back().original.assign(base.begin() + long(at), base.begin() + long(g.hi));
    } else {
      for (uint64_t lo = g.lo; lo < g.hi; lo += 255)
        entries.push_back({lo, std::vector<uint8_t>(base.begin() + long(lo), base.begin() + long(std::min<uint64_t>(g.hi, lo + 255)))});
    }
  }
  if (!entries.empty()) {
    auto mk = vdso::encode_stub_mark(sha256_hex(base), "fixup", entries);
    uint64_t at = mk.size() <= after.size() ? after.size() - mk.size() : 0;
    bool room = mk.size() <= after.size() && at >= old->elf_size &&
                std::all_of(base.begin() + long(at), base.end(), [](uint8_t b) { return b == 0; }) &&
                std::all_of(after.begin() + long(at), after.end(), [](uint8_t b) { return b == 0; });
    if (room) std::copy(mk.begin(), mk.end(), after.begin() + long(at));
    else r.left.push_back("(no room for the vdsokit mark after the ELF image: the original bytes under these trampolines are not kept)");
  }

  bool left_vvar = false;
  for (const auto& e : plan->entries) {
    std::string name = e.names.front() + " +" + hex(e.offset);
    if (e.fate == analyze::Fate::Trampoline) {
      bool same = std::equal(before->begin() + long(e.offset), before->begin() + long(e.offset + plan->tramp_len), after.begin() + long(e.offset));
      (same ? r.by_restorer : r.redirected).push_back(name + " -> " + hex(e.to) + " (" + e.target_name + ")");
    } else {
      r.left.push_back(name + ": " + analyze::fate_name(e.fate) + (e.reason.empty() ? "" : " (" + e.reason + ")"));
      left_vvar = left_vvar || analyze::reads_vvar(e.names.front());
    }
  }
  auto ranges = changed(*before, after);
  if (ranges.empty()) {
    r.status = "unchanged";
    r.detail = "every export already jumps to the running vDSO";
    return r;
  }
  for (const auto& g : ranges) r.bytes_written += g.hi - g.lo;
  // Only stopped tasks are written (CRIU's pre-resume: ptrace-stopped 't'; --leave-stopped: 'T'): a
  // running thread could be executing the very bytes being replaced.
  for (uint32_t tid : r.threads) {
    auto st = read_proc(proc(pid, "task/" + std::to_string(tid) + "/stat"));
    size_t close = st ? st->rfind(')') : std::string::npos;
    char state = close != std::string::npos && close + 2 < st->size() ? (*st)[close + 2] : '?';
    if (state != 't' && state != 'T' && !o.dry_run) {
      r.bytes_written = 0;
      return fail(r, bad_input(proc(pid, "task/" + std::to_string(tid) + "/stat"),
                               std::string("task ") + std::to_string(tid) + " is not stopped (state " + state +
                                   "): fixup writes only into stopped tasks (CRIU's pre-resume action, or criu restore "
                                   "--leave-stopped); nothing written"),
                  kExitBlocked),
             r;
    }
  }
  if (o.dry_run) {
    r.status = "dry-run";
    r.detail = "would write " + std::to_string(r.bytes_written) + " bytes into the proxy at " + hex(pv->start);
    return r;
  }
  // Write, read back, and on any failure put back what was written.
  size_t done = 0;
  Status st = Status::ok();
  for (; done < ranges.size(); ++done) {
    const auto& g = ranges[done];
    st = mem.write(pv->start + g.lo, after.data() + g.lo, g.hi - g.lo);
    if (!st) break;
    auto back = mem.read(pv->start + g.lo, g.hi - g.lo);
    if (!back) {
      st = back.error();
      ++done;   // the write itself went through: undo it too
      break;
    }
    if (!std::equal(back->begin(), back->end(), after.begin() + long(g.lo))) {
      st = bad_input_at(proc(pid, "mem"), pv->start + g.lo, "read back differs from what was written");
      ++done;
      break;
    }
  }
  if (!st) {
    bool undone = true;
    for (size_t i = 0; i < done && i < ranges.size(); ++i) {
      const auto& g = ranges[i];
      if (!mem.write(pv->start + g.lo, before->data() + g.lo, g.hi - g.lo)) undone = false;
      auto back = mem.read(pv->start + g.lo, g.hi - g.lo);
      if (!back || !std::equal(back->begin(), back->end(), before->begin() + long(g.lo))) undone = false;
    }
    r.rolled_back = undone;
    Error e = st.error();
    e.message += undone ? "; every byte written was put back" : "; PUTTING BACK THE WRITTEN BYTES FAILED: the process is half-patched";
    r.bytes_written = 0;
    return fail(r, e, kExitBlocked), r;
  }
  r.status = "patched";
  r.detail = std::to_string(r.redirected.size()) + " export(s) redirected to the running vDSO at " + hex(layout.vdso.start) + ", " +
             std::to_string(r.bytes_written) + " bytes written into the proxy at " + hex(pv->start);
  if (left_vvar) r.exit_code = kExitFindings;   // something still reads the empty old vvar
  return r;
}

FixupReport fixup_tree(uint32_t root, const FixupOptions& o, std::string trigger) {
  FixupReport rep;
  rep.root = root;
  rep.trigger = std::move(trigger);
  rep.dry_run = o.dry_run;
  auto host = analyze::host_target();
  auto pids = process_tree(root);
  if (!pids || !host) {
    FixupProcess p;
    p.pid = root;
    fail(p, pids ? host.error() : pids.error(), kExitBadInput);
    rep.processes.push_back(p);
    return rep;
  }
  // The i386 vDSO only when a compat task needs it (a -m32 helper process, FixupOptions::i386_target).
  std::optional<analyze::RtTarget> host32;
  bool tried32 = false;
  FixupOptions oo = o;
  for (uint32_t pid : *pids) {
    FixupProcess p = fixup_process(pid, *host, host32 ? &*host32 : nullptr, oo);
    if (p.status == "failed" && !tried32 && oo.i386_target && p.detail.find("no running i386 vDSO") != std::string::npos) {
      tried32 = true;
      auto t = oo.i386_target();
      if (t) host32 = t.take();
      else oo.i386_why = t.error().str();
      p = fixup_process(pid, *host, host32 ? &*host32 : nullptr, oo);
    }
    rep.processes.push_back(std::move(p));
  }
  return rep;
}

std::string render_text(const FixupReport& r) {
  std::string s;
  for (const auto& p : r.processes) {
    s += "process " + std::to_string(p.pid) + " (" + p.comm + ")";
    if (p.threads.size() > 1) s += ", " + std::to_string(p.threads.size()) + " threads";
    s += ": " + p.status + ": " + p.detail + "\n";
    for (const auto& x : p.redirected) s += "  redirected " + x + "\n";
    for (const auto& x : p.by_restorer) s += "  already    " + x + "\n";
    for (const auto& x : p.left) s += "  left       " + x + "\n";
  }
  std::map<std::string, size_t> counts;
  for (const auto& p : r.processes) ++counts[p.status];
  s += "fixup (" + r.trigger + (r.dry_run ? ", dry run" : "") + ") of the tree at " + std::to_string(r.root) + ": " +
       std::to_string(r.processes.size()) + " process" + (r.processes.size() == 1 ? "" : "es");
  for (const auto& [k, v] : counts) s += ", " + std::to_string(v) + " " + k;
  return s + "\n";
}

std::string render_json(const FixupReport& r) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["schema"] = "vdsokit.fixup/1";
  j["root"] = r.root;
  j["trigger"] = r.trigger;
  j["dry_run"] = r.dry_run;
  j["exit_code"] = r.exit_code();
  ordered_json ps = ordered_json::array();
  for (const auto& p : r.processes) {
    ordered_json o;
    o["pid"] = p.pid;
    o["comm"] = p.comm;
    o["threads"] = p.threads;
    o["status"] = p.status;
    o["detail"] = p.detail;
    o["proxy"] = p.proxy ? ordered_json(hex(p.proxy)) : ordered_json(nullptr);
    o["rt_vdso"] = p.rt_vdso ? ordered_json(hex(p.rt_vdso)) : ordered_json(nullptr);
    o["redirected"] = p.redirected;
    o["already_redirected"] = p.by_restorer;
    o["left"] = p.left;
    o["bytes_written"] = p.bytes_written;
    o["rolled_back"] = p.rolled_back;
    o["exit_code"] = p.exit_code;
    ps.push_back(o);
  }
  j["processes"] = ps;
  return dump_json(j, 2) + "\n";
}

}  // namespace vk::rewrite
