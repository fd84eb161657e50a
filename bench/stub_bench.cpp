// The cost of one clock_getres call through each way a restored process can reach it
// (docs/fix-a-restore.md): the running kernel's vDSO directly (in place, or vdsokit-runtime), a
// `vdsokit fixup` trampoline into it (the runtime's 16-byte form, vk_rt_encode_tramp), a
// `rewrite exports` system-call stub (formats/vdso/stub.h), and the bare system call for reference.
// Each form is the real byte sequence in an executable page, called like the vDSO function.
// Usage: stub_bench [calls]. Prints nanoseconds per call.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "analyzers/runtime_plan.h"
#include "formats/vdso/stub.h"
#include "formats/vdso/vdso.h"

namespace {

using res_fn = int (*)(clockid_t, struct timespec*);

double ns_per_call(res_fn f, long n) {
  struct timespec ts {};
  long sum = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    f(CLOCK_MONOTONIC, &ts);
    sum += ts.tv_nsec;
  }
  auto t1 = std::chrono::steady_clock::now();
  if (sum != n * ts.tv_nsec) std::fprintf(stderr, "clock_getres changed during the run\n");
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(n);
}

int raw_syscall(clockid_t c, struct timespec* ts) { return int(::syscall(SYS_clock_getres, c, ts)); }

// An executable page holding `bytes`.
res_fn page_with(const std::vector<uint8_t>& bytes) {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::memcpy(p, bytes.data(), bytes.size());
  if (::mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0) return nullptr;
  return reinterpret_cast<res_fn>(p);
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 2000000;
  auto host = vk::analyze::host_target();
  if (!host) {
    std::fprintf(stderr, "stub_bench: %s\n", host.error().str().c_str());
    return 1;
  }
  const auto* sym = host->vdso.find("__vdso_clock_getres");
  if (!sym) {
    std::fprintf(stderr, "stub_bench: the running vDSO exports no __vdso_clock_getres\n");
    return 1;
  }
  uint64_t entry = host->layout.vdso.start + sym->offset;
  auto direct = reinterpret_cast<res_fn>(uintptr_t(entry));

  uint8_t tramp[16];
  if (vk_rt_encode_tramp(VK_RT_ABI_X86_64, entry, tramp, sizeof tramp) != 16) return 1;
  res_fn via_tramp = page_with(std::vector<uint8_t>(tramp, tramp + 16));
  auto form = vk::vdso::syscall_form(vk::vdso::Abi::X86_64, "__vdso_clock_getres");
  res_fn via_stub = form ? page_with(vk::vdso::encode_stub(vk::vdso::Abi::X86_64, *form)) : nullptr;
  if (!via_tramp || !via_stub) {
    std::fprintf(stderr, "stub_bench: cannot map an executable page\n");
    return 1;
  }
  // Every form must give the same answer before it is timed.
  struct timespec a {}, b {}, c {}, d {};
  direct(CLOCK_MONOTONIC, &a);
  via_tramp(CLOCK_MONOTONIC, &b);
  via_stub(CLOCK_MONOTONIC, &c);
  raw_syscall(CLOCK_MONOTONIC, &d);
  if (a.tv_nsec != b.tv_nsec || a.tv_nsec != c.tv_nsec || a.tv_nsec != d.tv_nsec) {
    std::fprintf(stderr, "stub_bench: the forms disagree\n");
    return 1;
  }
  ns_per_call(direct, n / 10);   // warm-up
  double t_direct = ns_per_call(direct, n);
  double t_tramp = ns_per_call(via_tramp, n);
  double t_stub = ns_per_call(via_stub, n);
  double t_sys = ns_per_call(raw_syscall, n);
  std::printf("clock_getres(CLOCK_MONOTONIC), %ld calls each (resolution %ld ns):\n", n, long(a.tv_nsec));
  std::printf("  running vDSO directly:                 %7.1f ns/call\n", t_direct);
  std::printf("  fixup trampoline -> running vDSO:      %7.1f ns/call\n", t_tramp);
  std::printf("  rewrite-exports system-call stub:      %7.1f ns/call\n", t_stub);
  std::printf("  syscall(SYS_clock_getres) via libc:    %7.1f ns/call\n", t_sys);
  std::printf("  stub / trampoline: %.1fx\n", t_stub / t_tramp);
  return 0;
}
