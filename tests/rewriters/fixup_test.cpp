// vdsokit fixup on live processes without CRIU (label live): a forked child is put in the state a CRIU
// proxy restore leaves (vdso-restore.md §6.4, §5): an old vDSO (the corpus's 5.10.0-32 x86_64 build,
// a real kernel's bytes) mapped anonymous r-x as the proxy, and CRIU's V3 mark at offset 0 of the
// child's own [vdso] naming it. The fixup must find the proxy through the mark, write trampolines into
// the running vDSO, leave nothing else changed, and the child's calls through the OLD entry points must
// then give the system calls' results. The real thing, with CRIU 4.2.1, is tests/e2e/fix_test.cpp.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ctime>

#include "analyzers/exports.h"
#include "analyzers/runtime_plan.h"
#include "rewriters/fixup.h"
#include "support/fixtures.h"

using namespace vk;

namespace {

constexpr uint64_t kProxy = 0x7e0000000000ull;   // where the child maps the old vDSO

struct Child {
  pid_t pid = -1;
  int go = -1, done = -1;   // parent -> child "call now", child -> parent "ready" / result
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (go >= 0) ::close(go);
    if (done >= 0) ::close(done);
  }
};

using res_fn = int (*)(clockid_t, struct timespec*);
using time_fn = int (*)(clockid_t, struct timespec*);

// The child: sets up the proxy state, says ready, waits, then calls clock_getres and clock_gettime
// through the old entry points and reports 1 (all equal to the system calls) or 0.
void child_main(const std::vector<uint8_t>& old, bool mark, bool stop, int go, int done) {
  void* p = ::mmap(reinterpret_cast<void*>(kProxy), old.size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != reinterpret_cast<void*>(kProxy)) ::_exit(2);
  std::memcpy(p, old.data(), old.size());
  if (::mprotect(p, old.size(), PROT_READ | PROT_EXEC)) ::_exit(3);
  vk_rt_layout l{};
  if (vk_rt_read_layout(&l, nullptr, 0)) ::_exit(4);
  if (mark && vk_rt_write_mark(l.vdso.start, l.vdso.end - l.vdso.start, kProxy, VK_RT_NO_ADDR, l.vvar.start)) ::_exit(5);
  char c = 'r';
  if (::write(done, &c, 1) != 1) ::_exit(6);
  if (stop) ::raise(SIGSTOP);   // as CRIU leaves a restored task: the fixup writes only into stopped tasks
  if (::read(go, &c, 1) != 1) ::_exit(7);
  struct timespec a {}, b {}, t1 {}, t2 {};
  auto res = reinterpret_cast<res_fn>(kProxy + 0xb70);      // 5.10.0-32's __vdso_clock_getres
  auto get = reinterpret_cast<time_fn>(kProxy + 0x900);     // and __vdso_clock_gettime
  bool ok = res(CLOCK_MONOTONIC, &a) == 0 && ::syscall(SYS_clock_getres, CLOCK_MONOTONIC, &b) == 0 && a.tv_sec == b.tv_sec &&
            a.tv_nsec == b.tv_nsec && a.tv_nsec > 0;
  ok = ok && get(CLOCK_MONOTONIC, &t1) == 0 && ::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t2) == 0 &&
       (t2.tv_sec - t1.tv_sec) * 1000000000L + (t2.tv_nsec - t1.tv_nsec) >= 0 && t2.tv_sec - t1.tv_sec < 2;
  c = ok ? '1' : '0';
  if (::write(done, &c, 1) != 1) ::_exit(8);
  ::_exit(0);
}

void start(Child& ch, const std::vector<uint8_t>& old, bool mark, bool stop = true) {
  int a[2], b[2];
  REQUIRE(::pipe(a) == 0);
  REQUIRE(::pipe(b) == 0);
  ch.pid = ::fork();
  REQUIRE(ch.pid >= 0);
  if (ch.pid == 0) {
    ::close(a[1]);
    ::close(b[0]);
    child_main(old, mark, stop, a[0], b[1]);
  }
  ::close(a[0]);
  ::close(b[1]);
  ch.go = a[1];
  ch.done = b[0];
  char c = 0;
  REQUIRE(::read(ch.done, &c, 1) == 1);
  REQUIRE(c == 'r');
  int status = 0;
  if (stop) REQUIRE(::waitpid(ch.pid, &status, WUNTRACED) == ch.pid);
}

std::vector<uint8_t> mem(pid_t pid, uint64_t addr, size_t len) {
  int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> b(len);
  REQUIRE(::pread(fd, b.data(), len, off_t(addr)) == ssize_t(len));
  ::close(fd);
  return b;
}

std::vector<uint8_t> old_vdso() {
  auto b = test::read_bytes(test::source("corpora/kernels/5.10.0-32-amd64/x86_64.so"));
  b.resize((b.size() + 4095) / 4096 * 4096, 0);
  return b;
}

}  // namespace

TEST_CASE("fixup: a child in CRIU's proxy state gets every export redirected to the running vDSO; old entry points then work") {
  auto host = analyze::host_target();
  REQUIRE(host);
  auto old = old_vdso();
  Child ch;
  start(ch, old, true);

  auto dry = rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {true});
  CHECK(dry.status == "dry-run");
  CHECK(mem(ch.pid, kProxy, old.size()) == old);

  auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {});
  INFO(r.detail);
  REQUIRE(r.status == "patched");
  CHECK(r.exit_code == kExitOk);
  CHECK(r.proxy == kProxy);
  CHECK(r.rt_vdso == host->layout.vdso.start);   // a forked child keeps the parent's [vdso] address
  CHECK(r.redirected.size() == 5);               // 5.10 exports 5 functions, the running vDSO has all of them
  CHECK(r.by_restorer.empty());
  // Only the trampoline bytes changed, and each aims at the same function of the running vDSO.
  auto now = mem(ch.pid, kProxy, old.size());
  size_t changed = 0;
  for (size_t i = 0; i < old.size(); ++i) changed += now[i] != old[i];
  CHECK(changed == r.bytes_written);
  CHECK(changed <= 5 * 16 + 512);   // five trampolines and the vdsokit mark
  auto v = vdso::parse("proxy", now);
  REQUIRE(v);
  CHECK(v->trampolines.size() == 5);
  // The mark keeps what the trampolines overwrote: a later `rewrite exports` (second generation, when
  // these trampolines are stale) starts from the original bytes and stubs what CRIU will not patch.
  REQUIRE(v->stub_mark);
  CHECK(v->stub_mark->restorer == "fixup");
  CHECK(vdso::without_stubs(now, *v->stub_mark) == old);
  auto ex = analyze::plan_exports(*v, *analyze::find_restorer("criu-4.2"));
  REQUIRE(ex);
  CHECK(ex->before == old);
  auto w = vdso::parse("rewritten", ex->after);
  REQUIRE(w);
  CHECK(w->trampolines.empty());
  REQUIRE(w->stubs.size() == 1);
  CHECK(w->stubs[0].nr == 229);
  for (const auto& t : v->trampolines) {
    CAPTURE(t.symbols.front());
    const auto* s = host->vdso.find(t.symbols.front());
    REQUIRE(s);
    CHECK(t.target == host->layout.vdso.start + s->offset);
  }
  // The child calls through the old entry points.
  ::kill(ch.pid, SIGCONT);
  char c = 'g';
  REQUIRE(::write(ch.go, &c, 1) == 1);
  REQUIRE(::read(ch.done, &c, 1) == 1);
  CHECK(c == '1');
}

TEST_CASE("fixup: a second run is unchanged; without CRIU's mark the restore was in place; a running task is refused; nothing written") {
  auto host = analyze::host_target();
  REQUIRE(host);
  auto old = old_vdso();
  {
    Child ch;
    start(ch, old, true);
    REQUIRE(rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {}).status == "patched");
    auto again = rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {});
    CHECK(again.status == "unchanged");
    CHECK(again.by_restorer.size() == 5);
    CHECK(again.bytes_written == 0);
  }
  {
    Child ch;
    start(ch, old, false);
    auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {});
    CHECK(r.status == "in-place");
    CHECK(r.exit_code == kExitOk);
    CHECK(mem(ch.pid, kProxy, old.size()) == old);
    // The tree walk finds the child as its own root; the report names it.
    auto tree = rewrite::fixup_tree(uint32_t(ch.pid), {}, "--pid");
    REQUIRE(tree.processes.size() == 1);
    CHECK(rewrite::render_text(tree).find("in-place") != std::string::npos);
  }
  {
    // A running task is never written: refused, nothing changed.
    Child ch;
    start(ch, old, true, false);
    auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, nullptr, {});
    CHECK(r.status == "failed");
    CHECK(r.exit_code == kExitBlocked);
    CHECK(r.detail.find("not stopped") != std::string::npos);
    CHECK(mem(ch.pid, kProxy, old.size()) == old);
  }
  auto gone = rewrite::fixup_tree(0x7ffffff0u, {}, "--pid");
  CHECK(gone.exit_code() == kExitBadInput);
}

// An i386 (compat) task: the -m32 helper of `vdsokit selftest` (vdsokit-selftest32) maps the corpus's
// 5.10.0-32 i386 vDSO as a restored process holds it (its "case proxy"), CRIU's mark is written into its
// [vdso] from outside, and `vdsokit fixup --pid` must redirect it with i386 trampolines to the running
// i386 vDSO (which it gets from another helper); the helper then calls every function through the old
// entry points against the i386 system calls.
TEST_CASE("fixup: an i386 task in CRIU's proxy state gets i386 trampolines into the running i386 vDSO; the old entry points work") {
  std::string helper = (std::filesystem::path(VK_BINARY).parent_path() / "vdsokit-selftest32").string();
  if (!std::filesystem::exists(helper)) {
    MESSAGE("skipped: no " << helper << " (the toolchain cannot link -m32 programs)");
    return;
  }
  auto blob = test::read_bytes(test::source("corpora/kernels/5.10.0-32-amd64/i386.so"));
  auto old = vdso::parse("i386.so", blob);
  REQUIRE(old);
  uint64_t pages = (blob.size() + 4095) / 4096;
  int down[2], up[2];
  REQUIRE(::pipe(down) == 0);
  REQUIRE(::pipe(up) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(down[0], 0);
    ::dup2(up[1], 1);
    ::execl(helper.c_str(), helper.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(down[0]);
  ::close(up[1]);
  Child ch;   // kills and reaps the helper at the end
  ch.pid = pid;
  ch.go = down[1];
  ch.done = up[0];
  FILE* in = ::fdopen(::dup(up[0]), "r");
  REQUIRE(in);
  auto send = [&](const std::string& s) { REQUIRE(::write(ch.go, s.data(), s.size()) == ssize_t(s.size())); };
  auto line = [&]() {
    char buf[512] = {};
    REQUIRE(std::fgets(buf, sizeof buf, in));
    return std::string(buf);
  };
  send("case proxy " + std::to_string(blob.size()) + " 4 " + std::to_string(pages) + "\n");
  send(std::string(blob.begin(), blob.end()));
  unsigned long long fr = 0, proxy = 0, ovvar = 0;
  std::string ready = line();
  REQUIRE(std::sscanf(ready.c_str(), "ready %llx %llx %llx", &fr, &proxy, &ovvar) == 3);

  // CRIU's mark at offset 0 of the helper's [vdso], naming the proxy (vdso-restore.md §5).
  std::string maps = test::read_text("/proc/" + std::to_string(pid) + "/maps");
  vk_rt_layout l{};
  REQUIRE(vk_rt_parse_maps(maps.data(), maps.size(), &l) == 0);
  uint8_t m[VK_RT_MARK_SIZE];
  vk_rt_mark_encode(m, proxy, ovvar, l.vvar.start);
  {
    int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, m, sizeof m, off_t(l.vdso.start)) == ssize_t(sizeof m));
    ::close(fd);
  }
  ::kill(pid, SIGSTOP);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);

  auto r = test::run_vdsokit({"fixup", "--pid", std::to_string(pid), "--format", "json"});
  INFO("fixup: " << r.out << r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["processes"].size() >= 1);
  CHECK(j["processes"][0]["status"] == "patched");
  auto held = mem(pid, proxy, pages * 4096);
  auto v = vdso::parse("held", held);
  REQUIRE(v);
  CHECK(v->abi == vdso::Abi::I386);
  CHECK(v->trampolines.size() >= 5);
  for (const auto& t : v->trampolines) {
    CHECK(t.length == 11);
    CHECK(t.target >= l.vdso.start);
    CHECK(t.target < l.vdso.end);
  }

  // Resume and let the helper call every function through the OLD entry points (a no-op plan: nothing
  // moves, the helper only calls).
  ::kill(pid, SIGCONT);
  auto pl = analyze::plan_placement(l, vdso::Abi::I386, std::nullopt);
  REQUIRE(pl);
  std::vector<char> text(8192);
  long n = vk_rt_plan_format(&*pl, text.data(), text.size());
  REQUIRE(n > 0);
  std::string msg = "plan " + std::to_string(n) + "\n" + std::string(text.data(), size_t(n));
  std::vector<std::string> calls;
  for (const auto* s : old->entry_points())
    if (s->name.rfind("__vdso_", 0) == 0) calls.push_back(s->name + " " + hex(proxy + s->offset).substr(2) + "\n");
  msg += "calls " + std::to_string(calls.size()) + "\n";
  for (const auto& c : calls) msg += c;
  send(msg);
  size_t pass = 0, fail = 0;
  for (std::string l2 = line(); l2.rfind("end ", 0) != 0; l2 = line()) {
    INFO(l2);
    if (l2.rfind("call ", 0) == 0) {
      if (l2.find(" pass") != std::string::npos) ++pass;
      else if (l2.find(" fail") != std::string::npos) ++fail;
    }
  }
  CHECK(pass >= 4);
  CHECK(fail == 0);
  std::fclose(in);
}
