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

#include <cstring>
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

  auto dry = rewrite::fixup_process(uint32_t(ch.pid), *host, {true});
  CHECK(dry.status == "dry-run");
  CHECK(mem(ch.pid, kProxy, old.size()) == old);

  auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, {});
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
    REQUIRE(rewrite::fixup_process(uint32_t(ch.pid), *host, {}).status == "patched");
    auto again = rewrite::fixup_process(uint32_t(ch.pid), *host, {});
    CHECK(again.status == "unchanged");
    CHECK(again.by_restorer.size() == 5);
    CHECK(again.bytes_written == 0);
  }
  {
    Child ch;
    start(ch, old, false);
    auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, {});
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
    auto r = rewrite::fixup_process(uint32_t(ch.pid), *host, {});
    CHECK(r.status == "failed");
    CHECK(r.exit_code == kExitBlocked);
    CHECK(r.detail.find("not stopped") != std::string::npos);
    CHECK(mem(ch.pid, kProxy, old.size()) == old);
  }
  auto gone = rewrite::fixup_tree(0x7ffffff0u, {}, "--pid");
  CHECK(gone.exit_code() == kExitBadInput);
}
