// plan_bench: analyzers/runtime_plan speed. For every real x86_64 build of the built-in catalog,
// parse its vDSO and compute + print the plan against the running kernel (host_target), many times.
// Prints the time per parse, per plan and per text rendering; asserts nothing but "under 1 ms".
#include <chrono>
#include <cstdio>

#include "analyzers/runtime_plan.h"
#include "formats/catalog/catalog.h"

using namespace vk;
using clk = std::chrono::steady_clock;

static double us_since(clk::time_point t, int n) {
  return std::chrono::duration<double, std::micro>(clk::now() - t).count() / n;
}

int main() {
  auto host = analyze::host_target();
  if (!host) {
    std::printf("plan_bench: %s\n", host.error().str().c_str());
    return 1;
  }
  const auto& cat = catalog::Catalog::builtin();
  std::vector<std::vector<uint8_t>> blobs;
  for (const auto& e : cat.entries())
    if (e.abi == vdso::Abi::X86_64 && !e.synthetic)
      if (auto b = cat.bytes(e)) blobs.push_back(*b);
  if (blobs.empty()) return 1;
  const int n = 2000;
  std::vector<vdso::Vdso> olds;
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i) {
    auto v = vdso::parse("bench", blobs[size_t(i) % blobs.size()]);
    if (!v) return 1;
    if (olds.size() < blobs.size()) olds.push_back(v.take());
  }
  double parse_us = us_since(t0, n);
  size_t tramps = 0, chars = 0;
  std::vector<analyze::RuntimePlan> plans;
  auto t1 = clk::now();
  for (int i = 0; i < n; ++i) {
    analyze::PlanRequest req;
    req.old = &olds[size_t(i) % olds.size()];
    req.proxy_addr = 0x7f0000000000;
    auto p = analyze::plan_runtime(req, *host);
    if (!p || p->check_code) return 1;
    tramps += p->plan.nr_tramps;
    if (plans.size() < olds.size()) plans.push_back(p.take());
  }
  double plan_us = us_since(t1, n);
  auto t2 = clk::now();
  for (int i = 0; i < n; ++i) chars += analyze::render_text(plans[size_t(i) % plans.size()]).size();
  double text_us = us_since(t2, n);
  std::printf("plan_bench: %zu x86_64 builds -> host; vdso::parse %.1f us, plan_runtime %.1f us (%.1f trampolines), "
              "render_text %.1f us (%zu bytes)\n",
              blobs.size(), parse_us, plan_us, double(tramps) / n, text_us, chars / size_t(n));
  return parse_us + plan_us + text_us < 1000.0 ? 0 : 1;
}
