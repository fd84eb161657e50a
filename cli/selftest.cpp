// vdsokit selftest [--format text|json] [--catalog PATH]... [--only TEXT] [--helper32 PATH]
//
// Proves the restore-time path on the running kernel (docs/cli.md "selftest"): every case runs in
// a child process (a fork of vdsokit for x86_64, the -m32 helper vdsokit-selftest32 for i386), so a
// fault in vDSO code or a bad remap only kills that child; the parent reports a signal death as a
// failure. The parent computes every plan with analyzers/runtime_plan from the child's own
// /proc/PID/maps and [vdso] bytes and sends its text form; the child executes it with vk_rt_apply
// (cli/selftest_child.c). Cases:
//   inplace  move the live [vvar]/[vvar_vclock]/[vdso] to a free range and call every exported
//            function at its new place against the raw syscalls (vdso-restore.md §6.3);
//   proxy    map an old vDSO build as a restored process holds it, trampoline every exported
//            function into the (moved) live vDSO and call them through the OLD entry points (§6.4);
//   mark     read the stopped child from outside and show that CRIU's next dump would find the V3
//            mark and drop the runtime pair (analyzers/mark, §5.3).
#include <fcntl.h>
#include "formats/common/text.h"
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analyzers/mark.h"
#include "analyzers/runtime_plan.h"
#include "cli/common.h"
#include "cli/selftest.h"
#include "cli/selftest_child.h"
#include "formats/catalog/catalog.h"

namespace vk::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using analyze::Fate;

// ---- a running child ----

class Child {
 public:
  ~Child() { finish(); }
  pid_t pid = -1;
  int to = -1, from = -1;
  std::string buf;
  int status = 0;
  bool reaped = false;

  bool send(const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t n = ::write(to, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += size_t(n);
    }
    return true;
  }
  bool send(const std::vector<uint8_t>& b) { return send(std::string(b.begin(), b.end())); }
  // One line without '\n'; nullopt at EOF.
  std::optional<std::string> line() {
    for (;;) {
      auto nl = buf.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return l;
      }
      char tmp[4096];
      ssize_t n = ::read(from, tmp, sizeof(tmp));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buf.append(tmp, size_t(n));
    }
  }
  // Lets the child go (EOF on its input) and reaps it.
  void finish() {
    if (to >= 0) ::close(to), to = -1;
    if (from >= 0) ::close(from), from = -1;
    if (pid > 0 && !reaped) {
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      reaped = true;
    }
  }
  std::string death() const {
    if (!reaped) return "";
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                    strsignal(WTERMSIG(status)) + ")";
    if (WIFEXITED(status) && WEXITSTATUS(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    return "";
  }
};

// x86_64: a fork of this process runs the case; i386: the -m32 helper, exec'd on the same pipes.
Expected<std::unique_ptr<Child>> spawn(vdso::Abi abi, const std::string& helper32) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC)) return bad_input("pipe", std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = fork();
  if (pid < 0) return bad_input("fork", std::strerror(errno));
  if (pid == 0) {
    if (abi == vdso::Abi::I386) {
      dup2(down[0], 0);
      dup2(up[1], 1);
      execl(helper32.c_str(), helper32.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(down[1]);
    ::close(up[0]);
    _exit(vk_st_child(down[0], up[1]));
  }
  ::close(down[0]);
  ::close(up[1]);
  auto c = std::make_unique<Child>();
  c->pid = pid;
  c->to = down[1];
  c->from = up[0];
  return c;
}

Expected<std::string> read_proc_text(pid_t pid, const char* what) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + what;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return bad_input(path, std::strerror(errno));
  std::string s;
  char tmp[8192];
  ssize_t n;
  while ((n = ::read(fd, tmp, sizeof(tmp))) > 0) s.append(tmp, size_t(n));
  ::close(fd);
  return s;
}

analyze::MemReader proc_mem(pid_t pid) {
  return [pid](uint64_t addr, uint64_t len) -> std::optional<std::vector<uint8_t>> {
    std::string path = "/proc/" + std::to_string(pid) + "/mem";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::vector<uint8_t> b(len);
    ssize_t n = pread(fd, b.data(), len, off_t(addr));
    ::close(fd);
    if (n != ssize_t(len)) return std::nullopt;
    return b;
  };
}

// ---- results ----

struct CaseResult {
  std::string status = "skip";     // pass | fail | skip | n/a
  std::string detail;
  std::vector<std::string> log;    // the child's call lines, steps, notes
  double ms = 0;
  int64_t apply_ns = -1;
  int64_t call_ns = -1, syscall_ns = -1;   // clock_gettime(CLOCK_MONOTONIC) through the entry vs the syscall
  ordered_json extra;
  void fail(std::string d) {
    status = "fail";
    detail = std::move(d);
  }
};

struct Row {
  std::string build, abi, version;
  CaseResult inplace, proxy, mark;
  size_t tramps = 0;
  std::vector<std::string> unresolved, skipped, too_short, short_fns;
};

// The target as the child sees it: its maps and its [vdso] bytes, read from outside.
Expected<analyze::RtTarget> child_target(pid_t pid) {
  VK_TRY(maps, read_proc_text(pid, "maps"));
  vk_rt_layout l{};
  int rc = vk_rt_parse_maps(maps.data(), maps.size(), &l);
  if (rc) return bad_input("/proc/" + std::to_string(pid) + "/maps", vk_rt_strerror(rc));
  auto bytes = proc_mem(pid)(l.vdso.start, l.vdso.end - l.vdso.start);
  if (!bytes) return bad_input("/proc/" + std::to_string(pid) + "/mem", "cannot read the [vdso] at " + hex(l.vdso.start));
  return analyze::explicit_target("host", maps, std::move(*bytes));
}

struct Ready {
  uint64_t free = 0, proxy = 0, vvar = 0;
};

std::optional<Ready> wait_ready(Child& c, CaseResult& r) {
  auto l = c.line();
  Ready rd;
  unsigned long long a, b, d;
  if (!l || std::sscanf(l->c_str(), "ready %llx %llx %llx", &a, &b, &d) != 3) {
    c.finish();
    r.fail("child not ready: " + (l ? *l : c.death().empty() ? std::string("no answer") : c.death()));
    return std::nullopt;
  }
  rd.free = a, rd.proxy = b, rd.vvar = d;
  return rd;
}

// Sends the plan and the calls, collects the child's report up to "end".
void run_plan(Child& c, const std::string& text, const std::vector<std::pair<std::string, uint64_t>>& calls,
              CaseResult& r) {
  std::string msg = "plan " + std::to_string(text.size()) + "\n" + text + "calls " + std::to_string(calls.size()) + "\n";
  for (const auto& [n, a] : calls) msg += n + " " + hex(a).substr(2) + "\n";
  if (!c.send(msg)) {
    c.finish();
    r.fail("cannot send the plan: " + c.death());
    return;
  }
  int fails = 0, passes = 0;
  for (;;) {
    auto l = c.line();
    if (!l) {
      c.finish();
      r.fail("child ended without a verdict: " + (c.death().empty() ? "no report" : c.death()));
      return;
    }
    if (l->rfind("apply ", 0) == 0) {
      long long ns = -1;
      if (auto p = l->find("ns="); p != std::string::npos) ns = std::atoll(l->c_str() + p + 3);
      r.apply_ns = ns;
      r.log.push_back(*l);
    } else if (l->rfind("call ", 0) == 0) {
      std::istringstream ls(*l);
      std::string kw, name, st;
      ls >> kw >> name >> st;
      fails += st == "fail";
      passes += st == "pass";
      r.log.push_back(*l);
    } else if (l->rfind("bench ", 0) == 0) {
      char name[80];
      long long a = 0, b = 0;
      if (std::sscanf(l->c_str(), "bench %79s %lld syscall %lld", name, &a, &b) == 3) r.call_ns = a, r.syscall_ns = b;
      r.log.push_back(*l);
    } else if (l->rfind("end ", 0) == 0) {
      if (*l == "end pass") {
        r.status = "pass";
        r.detail = std::to_string(passes) + " functions agree with the syscalls";
      } else {
        r.fail(fails ? std::to_string(fails) + " of " + std::to_string(calls.size()) + " calls disagree"
                     : l->substr(4));
      }
      return;
    } else {
      r.log.push_back(*l);
    }
  }
}

void finish_child(Child& c, CaseResult& r) {
  c.finish();
  if (r.status == "pass" && !c.death().empty()) r.fail("child " + c.death() + " after passing");
}

// ---- the cases ----

// A move as a signed distance ("-0x2a000"): free ranges usually lie below the live block.
std::string signed_hex(uint64_t d) { return d >> 63 ? "-" + hex(0 - d) : "+" + hex(d); }

void case_inplace(vdso::Abi abi, const std::string& helper32, Row& row, std::vector<uint8_t>* live_bytes) {
  auto t0 = std::chrono::steady_clock::now();
  CaseResult& r = row.inplace;
  auto spawned = spawn(abi, helper32);
  if (!spawned) return r.fail(spawned.error().str());
  Child& c = **spawned;
  if (!c.send(std::string("case inplace\n"))) return r.fail("cannot start: " + (c.finish(), c.death()));
  auto rd = wait_ready(c, r);
  if (!rd) return;
  auto target = child_target(c.pid);
  if (!target) return c.finish(), r.fail(target.error().str());
  if (target->vdso.abi != abi) return c.finish(), r.fail(std::string("the child's vDSO is ") + vdso::abi_name(target->vdso.abi));
  row.version = target->vdso.version_string();
  if (live_bytes) *live_bytes = target->vdso.bytes;
  auto placement = analyze::plan_placement(target->layout, abi, rd->free);
  if (!placement) return c.finish(), r.fail(placement.error().str());
  std::vector<char> text(64 * 1024);
  long n = vk_rt_plan_format(&*placement, text.data(), text.size());
  if (n <= 0) return c.finish(), r.fail("vk_rt_plan_format failed");
  std::vector<std::pair<std::string, uint64_t>> calls;
  for (const auto* s : target->vdso.entry_points())
    if (s->name != "__kernel_vsyscall") calls.emplace_back(s->name, placement->vdso_addr + s->offset);
  run_plan(c, std::string(text.data(), size_t(n)), calls, r);
  finish_child(c, r);
  if (r.status == "pass")
    r.detail = "moved by " + signed_hex(placement->vdso_addr - target->layout.vdso.start) + "; " + r.detail;
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The mark case: what CRIU's next dump makes of the stopped child (§5.3).
void check_mark(Child& c, const vk_rt_plan& plan, const Ready& rd, CaseResult& r) {
  auto maps_text = read_proc_text(c.pid, "maps");
  if (!maps_text) return r.fail(maps_text.error().str());
  auto maps = procmaps::parse(*maps_text, "/proc/" + std::to_string(c.pid) + "/maps");
  if (!maps) return r.fail(maps.error().str());
  auto d = analyze::predict_next_dump(*maps, proc_mem(c.pid));
  r.extra = analyze::to_json(d);
  std::istringstream ts(analyze::render_text(d));
  for (std::string l; std::getline(ts, l);) r.log.push_back(l);

  uint64_t rt_vvar = plan.vvar_size ? plan.vvar_addr : VK_RT_NO_ADDR;
  uint64_t rt_end = plan.vclock_size ? plan.vclock_addr + plan.vclock_size : plan.vvar_addr + plan.vvar_size;
  auto kv = d.kept_vdso();
  auto kr = d.kept_vvar();
  auto dr = d.dropped();
  std::vector<std::string> bad;
  if (!d.ok()) bad.push_back(d.errors.front());
  if (!d.mark) bad.push_back("no mark found");
  else if (d.mark->version != 3) bad.push_back("mark version " + std::to_string(d.mark->version));
  if (d.rt_vdso != plan.vdso_addr) bad.push_back("marked VMA at " + hex(d.rt_vdso) + ", the runtime vDSO is at " + hex(plan.vdso_addr));
  if (d.orig_vdso != rd.proxy) bad.push_back("orig_vdso " + hex(d.orig_vdso) + " is not the proxy " + hex(rd.proxy));
  if (d.orig_vvar != (rd.vvar ? rd.vvar : VK_RT_NO_ADDR)) bad.push_back("orig_vvar " + hex(d.orig_vvar));
  if (d.rt_vvar != rt_vvar) bad.push_back("rt_vvar " + hex(d.rt_vvar) + ", want " + hex(rt_vvar));
  if (kv.size() != 1 || kv[0]->start != rd.proxy) bad.push_back(std::to_string(kv.size()) + " VDSO VMAs kept, want the proxy alone");
  if (rd.vvar && (kr.size() != 1 || kr[0]->start != rd.vvar)) bad.push_back(std::to_string(kr.size()) + " VVAR VMAs kept, want the old vvar alone");
  bool drops_vvar = !plan.vvar_size, drops_vdso = false;
  for (const auto* v : dr) {
    if (v->start == plan.vvar_addr && v->end == rt_end) drops_vvar = true;
    if (v->start == plan.vdso_addr && v->end == plan.vdso_addr + plan.vdso_size) drops_vdso = true;
  }
  if (!drops_vvar) bad.push_back("the runtime [vvar]" + std::string(plan.vclock_size ? "+[vvar_vclock]" : "") + " is not dropped");
  if (!drops_vdso) bad.push_back("the runtime [vdso] is not dropped");
  if (dr.size() != size_t(plan.vvar_size ? 2 : 1)) bad.push_back(std::to_string(dr.size()) + " VMAs dropped");
  if (!d.proxy) bad.push_back("proxy not parsed: " + d.proxy_error);
  else if (d.proxy->trampolines.size() != plan.nr_tramps || d.tramps_into_rt != plan.nr_tramps)
    bad.push_back(std::to_string(d.tramps_into_rt) + " of " + std::to_string(d.proxy->trampolines.size()) +
                  " proxy trampolines aim into the runtime vDSO, the plan has " + std::to_string(plan.nr_tramps));
  if (!bad.empty()) return r.fail(bad.front());
  r.status = "pass";
  r.detail = "V3 mark at " + hex(d.rt_vdso) + "; proxy " + hex(d.orig_vdso) + " with " +
             std::to_string(d.tramps_into_rt) + " trampolines into it; next dump keeps VDSO " + hex(rd.proxy) +
             (rd.vvar ? " and VVAR " + hex(rd.vvar) : std::string()) + ", drops " +
             (plan.vvar_size ? "[vvar]" + std::string(plan.vclock_size ? "+[vvar_vclock]" : "") + " " + hex(plan.vvar_addr) + " and " : "") +
             "[vdso] " + hex(plan.vdso_addr);
}

// The old build's layout: the image's VVAR VMA (vvar + vclock pages) and vdso VMA sizes, from the
// catalog's (qemu-observed) facts when there is an entry, else from the version rule.
struct OldLayout {
  uint64_t vvar_pages = 0, vdso_pages = 0;
};

void case_proxy(vdso::Abi abi, const std::string& helper32, const std::string& label, const std::vector<uint8_t>& blob,
                std::optional<OldLayout> layout, Row& row) {
  auto t0 = std::chrono::steady_clock::now();
  CaseResult& r = row.proxy;
  auto old_probe = vdso::parse(label, blob);
  if (!old_probe) return r.fail(old_probe.error().str());
  row.version = old_probe->version_string();
  uint64_t psize = (blob.size() + VK_RT_PAGE - 1) / VK_RT_PAGE * VK_RT_PAGE;
  if (!layout) layout = OldLayout{analyze::vvar_pages_for(*old_probe), psize / VK_RT_PAGE};
  psize = std::max(psize, layout->vdso_pages * VK_RT_PAGE);

  auto spawned = spawn(abi, helper32);
  if (!spawned) return r.fail(spawned.error().str());
  Child& c = **spawned;
  if (!c.send("case proxy " + std::to_string(blob.size()) + " " + std::to_string(layout->vvar_pages) + " " +
              std::to_string(psize / VK_RT_PAGE) + "\n") ||
      !c.send(blob))
    return r.fail("cannot start: " + (c.finish(), c.death()));
  auto rd = wait_ready(c, r);
  if (!rd) return;
  auto target = child_target(c.pid);
  if (!target) return c.finish(), r.fail(target.error().str());

  // The old bytes as the restored process holds them: the whole proxy VMA, read back.
  auto held = proc_mem(c.pid)(rd->proxy, psize);
  if (!held) return c.finish(), r.fail("cannot read the proxy back at " + hex(rd->proxy));
  auto old = vdso::parse(label + "@" + hex(rd->proxy), std::move(*held));
  if (!old) return c.finish(), r.fail(old.error().str());

  analyze::PlanRequest req;
  req.old = &*old;
  req.proxy_addr = rd->proxy;
  req.proxy_size = psize;
  if (rd->vvar) req.orig_vvar = rd->vvar;
  req.at = rd->free;
  auto plan = analyze::plan_runtime(req, *target);
  if (!plan) return c.finish(), r.fail(plan.error().str());
  if (plan->check_code) return c.finish(), r.fail(std::string("plan check: ") + vk_rt_strerror(plan->check_code));
  std::vector<std::pair<std::string, uint64_t>> calls;
  for (const auto& e : plan->entries) {
    switch (e.fate) {
      case Fate::Trampoline:
        calls.emplace_back(e.names.front(), e.from);   // through the OLD entry point
        ++row.tramps;
        if (e.shorter_than_tramp) row.short_fns.push_back(e.names.front());
        break;
      case Fate::Unresolved: row.unresolved.push_back(e.names.front()); break;
      case Fate::Skipped: row.skipped.push_back(e.names.front()); break;
      case Fate::TooShort: row.too_short.push_back(e.names.front()); break;
    }
  }
  r.log.push_back("plan: " + std::to_string(plan->plan.nr_tramps) + " trampolines, " +
                  std::to_string(plan->plan.nr_unresolved) + " unresolved, block moved by " + signed_hex(plan->delta));
  run_plan(c, analyze::render_text(*plan), calls, r);
  if (r.status == "pass") {
    r.detail += " through the old entry points";   // run_plan counted the passing calls
    if (!row.unresolved.empty()) r.detail += "; unresolved, not called: " + std::to_string(row.unresolved.size());
    check_mark(c, plan->plan, *rd, row.mark);
  } else {
    row.mark.status = "skip";
    row.mark.detail = "proxy case failed";
  }
  finish_child(c, r);
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string default_helper32() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (exe.parent_path() / "vdsokit-selftest32").string();
}

ordered_json case_json(const CaseResult& c) {
  ordered_json j;
  j["status"] = c.status;
  j["detail"] = c.detail;
  if (c.ms > 0) j["ms"] = std::round(c.ms * 100) / 100;
  if (c.apply_ns >= 0) j["apply_ns"] = c.apply_ns;
  if (c.call_ns >= 0) {
    j["clock_gettime_ns"] = c.call_ns;
    j["syscall_ns"] = c.syscall_ns;
  }
  j["log"] = c.log;
  if (!c.extra.is_null()) j["next_dump"] = c.extra;
  return j;
}

std::string layout_line(const vk_rt_layout& l) {
  auto pages = [](const vk_rt_range& r) { return std::to_string((r.end - r.start) / VK_RT_PAGE); };
  std::string s;
  if (l.vvar.end) s += "[vvar] " + pages(l.vvar) + " + ";
  if (l.vvar_vclock.end) s += "[vvar_vclock] " + pages(l.vvar_vclock) + " + ";
  return s + "[vdso] " + pages(l.vdso) + " pages";
}

int run_selftest(const std::string& format, const std::vector<std::string>& catalogs, const std::string& only,
                 std::string helper32) {
  signal(SIGPIPE, SIG_IGN);   // a dead child must not kill the run through its pipe
  // The corpus: every real (non-synthetic) build of the catalog (docs/catalog.md), built-in plus extras.
  auto cat = catalog::effective_catalog(catalogs);
  if (!cat) return report(cat.error());
  auto host = analyze::host_target();
  if (!host) return report(host.error());
  struct utsname u {};
  uname(&u);

  std::string why32;
  if (helper32.empty()) helper32 = default_helper32();
  if (helper32.empty() || access(helper32.c_str(), X_OK) != 0)
    why32 = "no i386 helper at '" + helper32 +
            "' (it is built when gcc -m32 can link: apt-get install gcc-multilib, then build again)";

  auto want = [&](const std::string& name) { return only.empty() || name.find(only) != std::string::npos; };
  std::vector<Row> rows;
  for (vdso::Abi abi : {vdso::Abi::X86_64, vdso::Abi::I386}) {
    const std::string abi_s = vdso::abi_name(abi);
    bool skip = abi == vdso::Abi::I386 && !why32.empty();
    auto skipped_row = [&](Row& row) {
      for (CaseResult* c : {&row.inplace, &row.proxy, &row.mark}) {
        c->status = "skip";
        c->detail = why32;
      }
    };
    if (want("host")) {
      Row row{"host", abi_s, ""};
      std::vector<uint8_t> live;
      if (skip) {
        skipped_row(row);
      } else {
        case_inplace(abi, helper32, row, &live);
        // The host's own vDSO as the old one: offsets match, the proxy must still work (fault 127).
        if (!live.empty()) case_proxy(abi, helper32, "host [vdso]", live, std::nullopt, row);
        else row.proxy.detail = row.mark.detail = "no live vDSO bytes (inplace case failed)";
      }
      if (row.mark.status == "skip" && row.mark.detail.empty()) row.mark.detail = "needs a passing proxy case";
      rows.push_back(std::move(row));
    }
    std::vector<const catalog::Entry*> entries;
    for (const auto& e : cat->entries())
      if (e.abi == abi && !e.synthetic && e.distribution != "host" && want(e.release)) entries.push_back(&e);
    std::sort(entries.begin(), entries.end(),
              [](const catalog::Entry* a, const catalog::Entry* b) { return a->release < b->release; });
    for (const auto* e : entries) {
      Row row{e->release, abi_s, e->version};
      row.inplace.status = "n/a";
      if (skip) {
        skipped_row(row);
        row.inplace.status = "n/a";
      } else {
        auto bytes = cat->bytes(*e);
        if (!bytes) row.proxy.fail(bytes.error().str());
        else case_proxy(abi, helper32, e->id, *bytes, OldLayout{e->vvar_total() / VK_RT_PAGE, e->vdso_pages}, row);
      }
      if (row.mark.status == "skip" && row.mark.detail.empty()) row.mark.detail = "needs a passing proxy case";
      rows.push_back(std::move(row));
    }
  }

  // A filter that matches nothing ran nothing: that is a mistake in the command, not a green run.
  if (rows.empty())
    return report(usage_error("selftest: --only '" + only + "' matches no build (try 'host' or a release that `vdsokit catalog list` shows)"));

  size_t pass = 0, fail = 0, skip = 0;
  std::vector<int64_t> applies, vcalls, scalls;
  for (const auto& r : rows)
    for (const CaseResult* c : {&r.inplace, &r.proxy, &r.mark}) {
      pass += c->status == "pass";
      fail += c->status == "fail";
      skip += c->status == "skip";
      if (c->apply_ns >= 0 && c->status == "pass") applies.push_back(c->apply_ns);
      if (c->call_ns >= 0) vcalls.push_back(c->call_ns), scalls.push_back(c->syscall_ns);
    }
  auto median = [](std::vector<int64_t> v) -> int64_t {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };

  if (format == "json") {
    ordered_json j;
    j["schema"] = "vdsokit.selftest/1";
    ordered_json h;
    h["release"] = u.release;
    h["layout"] = layout_line(host->layout);
    h["vdso_version"] = host->vdso.version_string();
    h["i386"] = why32.empty() ? ordered_json("available") : ordered_json(why32);
    j["host"] = h;
    j["catalog_entries"] = cat->entries().size();
    ordered_json rs = ordered_json::array();
    for (const auto& r : rows) {
      ordered_json o;
      o["build"] = r.build;
      o["abi"] = r.abi;
      o["version"] = r.version;
      o["cases"]["inplace"] = case_json(r.inplace);
      o["cases"]["proxy"] = case_json(r.proxy);
      o["cases"]["mark"] = case_json(r.mark);
      o["trampolines"] = r.tramps;
      o["unresolved"] = r.unresolved;
      o["skipped"] = r.skipped;
      o["too_short"] = r.too_short;
      o["shorter_than_trampoline"] = r.short_fns;
      rs.push_back(o);
    }
    j["rows"] = rs;
    ordered_json s;
    s["pass"] = pass;
    s["fail"] = fail;
    s["skip"] = skip;
    s["apply_ns_median"] = median(applies);
    s["clock_gettime_ns_median"] = median(vcalls);
    s["syscall_ns_median"] = median(scalls);
    j["summary"] = s;
    std::cout << dump_json(j, 2) << "\n";
  } else {
    std::ostringstream o;
    o << "vdsokit selftest on Linux " << u.release << " (" << layout_line(host->layout) << ")\n";
    if (!why32.empty()) o << "i386: skipped: " << why32 << "\n";
    char hdr[256];
    std::snprintf(hdr, sizeof(hdr), "%-28s %-7s %-8s %-6s %-6s %-6s %s\n", "build", "abi", "inplace", "proxy", "mark",
                  "tramps", "unresolved (not called)");
    o << hdr;
    for (const auto& r : rows) {
      std::string un;
      for (const auto& n : r.unresolved) un += (un.empty() ? "" : " ") + n;
      char line[512];
      std::snprintf(line, sizeof(line), "%-28s %-7s %-8s %-6s %-6s %-6zu %s\n", r.build.c_str(), r.abi.c_str(),
                    r.inplace.status.c_str(), r.proxy.status.c_str(), r.mark.status.c_str(), r.tramps,
                    un.empty() ? "-" : un.c_str());
      o << line;
    }
    bool header = false;
    for (const auto& r : rows)
      for (const auto& [name, c] : {std::pair<const char*, const CaseResult*>{"inplace", &r.inplace},
                                    {"proxy", &r.proxy}, {"mark", &r.mark}}) {
        if (c->status != "fail") continue;
        if (!header) o << "\nfailures:\n", header = true;
        o << "  " << r.build << " " << r.abi << " " << name << ": " << c->detail << "\n";
        for (const auto& l : c->log) o << "    " << l << "\n";
      }
    o << "\n" << pass << " pass, " << fail << " fail, " << skip << " skip";
    if (!applies.empty()) o << "; vk_rt_apply median " << median(applies) / 1000.0 << " us";
    if (!vcalls.empty())
      o << "; clock_gettime through the entry point median " << median(vcalls) << " ns (syscall " << median(scalls)
        << " ns)";
    o << "\n";
    std::cout << o.str();
  }
  return fail ? kExitFindings : kExitOk;
}

}  // namespace

Expected<analyze::RtTarget> host_target_for(vdso::Abi abi, std::string helper32) {
  if (abi == vdso::Abi::X86_64) return analyze::host_target();
  if (abi != vdso::Abi::I386) return bad_input("", std::string("no runtime support for the ") + vdso::abi_name(abi) + " ABI");
  if (helper32.empty()) helper32 = default_helper32();
  if (helper32.empty() || access(helper32.c_str(), X_OK) != 0)
    return bad_input(helper32, "the i386 helper is missing (built when gcc -m32 can link: apt-get install gcc-multilib, then build again)");
  signal(SIGPIPE, SIG_IGN);
  VK_TRY(c, spawn(abi, helper32));
  CaseResult r;
  if (!c->send(std::string("case inplace\n")) || !wait_ready(*c, r))
    return bad_input(helper32, "the helper did not start: " + r.detail);
  auto t = child_target(c->pid);
  c->finish();   // EOF before a plan: the helper exits untouched
  if (t) t->label = "host (i386)";
  return t;
}

void add_selftest(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string format, only, helper32;
    std::vector<std::string> catalogs;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("selftest",
                                 "Move the live vDSO, proxy every corpus vDSO build into it and check the calls and "
                                 "the CRIU mark, each case in a child process");
  add_format(*cmd, opts->format, {"text", "json"});
  add_catalogs(*cmd, opts->catalogs, "Extra catalog YAML merged over the built-in one (repeatable)");
  cmd->add_option("--only", opts->only, "Run only builds whose name contains this text ('host' for the live vDSO)");
  cmd->add_option("--helper32", opts->helper32, "The i386 helper (default: vdsokit-selftest32 next to vdsokit)");
  cmd->callback([opts, &ctx] { ctx.exit_code = run_selftest(opts->format, opts->catalogs, opts->only, opts->helper32); });
}

}  // namespace vk::cli
