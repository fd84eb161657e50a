// analyzers/runtime_plan and analyzers/mark on real corpus vDSO pairs, recorded maps text and the
// `vdsokit plan` command (its text must parse back with the runtime's own vk_rt_plan_parse).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <map>

#include "analyzers/mark.h"
#include "analyzers/runtime_plan.h"
#include "support/fixtures.h"

using namespace vk;
using analyze::Fate;

namespace {

std::vector<uint8_t> corpus(const std::string& release, const std::string& abi = "x86_64") {
  return test::read_bytes(test::source("corpora/kernels/" + release + "/" + abi + ".so"));
}

vdso::Vdso parsed(const std::string& release, const std::string& abi = "x86_64") {
  auto v = vdso::parse(release + "/" + abi + ".so", corpus(release, abi));
  REQUIRE(v);
  return v.take();
}

// A >= 6.13 x86_64 layout as /proc/self/maps shows it: [vvar] 4, [vvar_vclock] 2, [vdso] 2 pages.
const char* kMaps618 =
    "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:01 1234                       /usr/bin/cat\n"
    "7f30f69f5000-7f30f69f9000 r--p 00000000 00:00 0                          [vvar]\n"
    "7f30f69f9000-7f30f69fb000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
    "7f30f69fb000-7f30f69fd000 r-xp 00000000 00:00 0                          [vdso]\n"
    "7ffd2a1b4000-7ffd2a1d5000 rw-p 00000000 00:00 0                          [stack]\n";
// The same kernel seen by an i386 process.
const char* kMaps618i386 =
    "f7f4d000-f7f51000 r--p 00000000 00:00 0                                  [vvar]\n"
    "f7f51000-f7f53000 r--p 00000000 00:00 0                                  [vvar_vclock]\n"
    "f7f53000-f7f55000 r-xp 00000000 00:00 0                                  [vdso]\n";

analyze::RtTarget target(const std::string& release, const char* maps = kMaps618, const std::string& abi = "x86_64") {
  auto t = analyze::explicit_target(release, maps, corpus(release, abi));
  REQUIRE(t);
  return t.take();
}

constexpr uint64_t kProxy = 0x7ffff7fc1000;

analyze::RuntimePlan plan(const vdso::Vdso& old, const analyze::RtTarget& t, uint64_t proxy = kProxy,
                          std::optional<uint64_t> at = std::nullopt) {
  analyze::PlanRequest req;
  req.old = &old;
  req.proxy_addr = proxy;
  req.at = at;
  auto p = analyze::plan_runtime(req, t);
  REQUIRE(p);
  return p.take();
}

}  // namespace

TEST_CASE("runtime plan 5.10 -> 6.18: every export redirected, clock_getres too, aliases share a trampoline") {
  auto old = parsed("5.10.0-32-amd64");
  auto t = target("6.18.12+deb13-cloud-amd64");
  auto p = plan(old, t);
  CHECK(p.check_code == 0);
  CHECK(p.tramp_len == 16);
  CHECK(p.plan.abi == VK_RT_ABI_X86_64);
  CHECK(p.entries.size() == 5);   // 10 names at 5 offsets
  CHECK(p.count(Fate::Trampoline) == 5);
  CHECK(!p.has_findings());
  CHECK(p.plan.nr_tramps == 5);
  CHECK(p.plan.nr_unresolved == 0);
  // Not moved: the targets are the live layout; one page-aligned delta.
  CHECK(p.plan.vvar_addr == 0x7f30f69f5000);
  CHECK(p.plan.vvar_size == 0x4000);
  CHECK(p.plan.vclock_addr == 0x7f30f69f9000);
  CHECK(p.plan.vclock_size == 0x2000);
  CHECK(p.plan.vdso_addr == 0x7f30f69fb000);
  CHECK(p.plan.vdso_size == 0x2000);
  CHECK(p.plan.proxy_addr == kProxy);
  CHECK(p.plan.proxy_size == 0x2000);   // 4400 bytes -> 2 pages
  CHECK(p.plan.flags == VK_RT_PLAN_MARK);
  CHECK(p.plan.orig_vdso_addr == kProxy);
  CHECK(p.plan.orig_vvar_addr == VK_RT_NO_ADDR);

  // clock_getres is outside CRIU's seven names (§4.5) but trampolined here.
  const auto* gr = p.find("clock_getres");
  REQUIRE(gr);
  CHECK(gr == p.find("__vdso_clock_getres"));
  CHECK(gr->fate == Fate::Trampoline);
  CHECK(gr->names == std::vector<std::string>{"__vdso_clock_getres", "clock_getres"});
  CHECK(gr->offset == 0xb70);
  CHECK(gr->from == kProxy + 0xb70);
  CHECK(gr->to == 0x7f30f69fb000 + 0xf20);   // 6.18.12's __vdso_clock_getres
  CHECK(gr->target_name == "__vdso_clock_getres");
  const auto* gt = p.find("clock_gettime");
  REQUIRE(gt);
  CHECK(gt->to == 0x7f30f69fb000 + 0xb80);
  // getrandom exists only on the new side: nothing in the old vDSO can call it, nothing to plan.
  CHECK(p.find("__vdso_getrandom") == nullptr);
  // Offsets differ: CRIU would proxy too.
  CHECK(!p.criu_remaps);
  CHECK(p.criu_remap_why.find("__vdso_clock_gettime at 0x900 vs 0xb80") != std::string::npos);
  // Room: each entry up to the next symbol.
  const auto* tm = p.find("__vdso_time");
  REQUIRE(tm);
  CHECK(tm->room == 0x30);
  CHECK(tm->room_limit == "next symbol __vdso_clock_gettime");
}

TEST_CASE("runtime plan 6.12 -> 6.18: getrandom redirected") {
  auto old = parsed("6.12.95+deb13-amd64");
  auto p = plan(old, target("6.18.12+deb13-cloud-amd64"));
  const auto* rnd = p.find("getrandom");
  REQUIRE(rnd);
  CHECK(rnd->fate == Fate::Trampoline);
  CHECK(rnd->target_name == "__vdso_getrandom");
  CHECK(rnd->target_offset == 0xfe0);
  CHECK(p.count(Fate::Trampoline) == 7);
  // sgx_enter_enclave is exported by both builds (this host's own kernel has none).
  CHECK(p.find("__vdso_sgx_enter_enclave")->fate == Fate::Trampoline);
}

TEST_CASE("runtime plan 7.2 -> 6.18: futex helpers unresolved, listed, not trampolined") {
  auto old = parsed("7.2.12+deb13-amd64");
  auto t = target("6.18.12+deb13-cloud-amd64");
  auto p = plan(old, t);
  CHECK(p.check_code == 0);
  CHECK(p.has_findings());
  CHECK(p.count(Fate::Unresolved) == 2);
  CHECK(p.plan.nr_unresolved == 2);
  std::vector<std::string> un;
  for (uint32_t i = 0; i < p.plan.nr_unresolved; ++i) un.push_back(p.plan.unresolved[i]);
  CHECK(un == std::vector<std::string>{"__vdso_futex_robust_list64_try_unlock", "__vdso_futex_robust_list32_try_unlock"});
  CHECK(p.find("__vdso_getrandom")->fate == Fate::Trampoline);
  CHECK(p.find("__vdso_sgx_enter_enclave")->fate == Fate::Trampoline);
  for (uint32_t i = 0; i < p.plan.nr_tramps; ++i)
    CHECK(std::string(p.plan.tramps[i].name).find("futex") == std::string::npos);
  // The 32-bit helper is the last function of .text: 14 bytes, no room for a trampoline either.
  const auto* f32 = p.find("__vdso_futex_robust_list32_try_unlock");
  REQUIRE(f32);
  CHECK(f32->room == 14);
  CHECK(f32->room_limit == ".text end");
  CHECK(f32->reason.find("would not fit either") != std::string::npos);
}

TEST_CASE("runtime plan: a function shorter than the trampoline (7.2 -> 7.2)") {
  auto old = parsed("7.2.12+deb13-amd64");
  auto p = plan(old, target("7.2.12+deb13-amd64"));
  // futex64: 15 bytes, next symbol 16 bytes on: the trampoline fits and covers one padding byte.
  const auto* f64 = p.find("__vdso_futex_robust_list64_try_unlock");
  REQUIRE(f64);
  CHECK(f64->size == 15);
  CHECK(f64->room == 16);
  CHECK(f64->fate == Fate::Trampoline);
  CHECK(f64->shorter_than_tramp);
  CHECK(f64->reason.find("1 byte of padding") != std::string::npos);
  // futex32: 14 bytes before .altinstructions: too short, reported, not patched.
  const auto* f32 = p.find("__vdso_futex_robust_list32_try_unlock");
  REQUIRE(f32);
  CHECK(f32->fate == Fate::TooShort);
  CHECK(f32->room == 14);
  CHECK(f32->reason == "14 bytes up to .text end, a trampoline needs 16: left unpatched");
  CHECK(p.count(Fate::TooShort) == 1);
  CHECK(p.has_findings());
  for (uint32_t i = 0; i < p.plan.nr_tramps; ++i) CHECK(std::string(p.plan.tramps[i].name) != f32->names.front());
  // Same build on both sides: CRIU's own test would remap in place.
  CHECK(p.criu_remaps);
}

TEST_CASE("runtime plan i386: __kernel_vsyscall skipped, sigreturns trampolined in 11 bytes") {
  auto old = parsed("7.2.12+deb13-amd64", "i386");
  auto t = target("6.18.12+deb13-cloud-amd64", kMaps618i386, "i386");
  auto p = plan(old, t, 0x10000000);
  CHECK(p.check_code == 0);
  CHECK(p.tramp_len == 11);
  CHECK(p.plan.abi == VK_RT_ABI_I386);
  CHECK(p.plan.proxy_size == 0x3000);   // 8924 bytes
  const auto* vs = p.find("__kernel_vsyscall");
  REQUIRE(vs);
  CHECK(vs->fate == Fate::Skipped);
  CHECK(vs->reason.find("needs no vvar") != std::string::npos);   // no internal § citation in user output
  const auto* sr = p.find("__kernel_rt_sigreturn");
  REQUIRE(sr);
  CHECK(sr->fate == Fate::Trampoline);
  CHECK(sr->size == 9);
  CHECK(sr->shorter_than_tramp);
  CHECK(p.find("__vdso_clock_gettime64")->fate == Fate::Trampoline);
  CHECK(p.find("__vdso_clock_getres_time64")->fate == Fate::Unresolved);
  CHECK(p.find("__vdso_futex_robust_list32_try_unlock")->fate == Fate::Unresolved);
  CHECK(p.count(Fate::Skipped) == 1);
  // Not a finding: __kernel_vsyscall needs no vvar.
  CHECK(p.count(Fate::Unresolved) == 2);
}

TEST_CASE("runtime plan: a weak alias resolves when the target lacks the __vdso_ name") {
  auto bytes = corpus("6.18.12+deb13-cloud-amd64");
  // Rename __vdso_time in .dynstr (same length): only the weak `time` is left at that offset. The
  // linker stores "time" as the tail of "__vdso_time", so only the prefix changes.
  std::string s(bytes.begin(), bytes.end());
  auto at = s.find(std::string("__vdso_time\0", 12));
  REQUIRE(at != std::string::npos);
  std::memcpy(bytes.data() + at, "__vdsX_", 7);
  auto t = analyze::explicit_target("renamed", kMaps618, bytes);
  REQUIRE(t);
  REQUIRE(t->vdso.find("__vdso_time") == nullptr);
  auto old = parsed("5.10.0-32-amd64");
  auto p = plan(old, *t);
  const auto* tm = p.find("__vdso_time");
  REQUIRE(tm);
  CHECK(tm->fate == Fate::Trampoline);
  CHECK(tm->target_name == "time");
  CHECK(tm->target_offset == 0xb50);
}

TEST_CASE("runtime plan: placement moves the block by one delta, either order, bad input") {
  auto old = parsed("5.10.0-32-amd64");
  auto t = target("6.18.12+deb13-cloud-amd64");
  auto p = plan(old, t, kProxy, 0x7e0000000000);
  CHECK(p.check_code == 0);
  CHECK(p.plan.vvar_addr == 0x7e0000000000);
  CHECK(p.plan.vclock_addr == 0x7e0000004000);
  CHECK(p.plan.vdso_addr == 0x7e0000006000);
  CHECK(p.find("clock_gettime")->to == 0x7e0000006000 + 0xb80);

  // vdso below vvar (kernels of 2014, §4.3): the block starts at the vdso.
  const char* first = "7f0000000000-7f0000002000 r-xp 00000000 00:00 0 [vdso]\n"
                      "7f0000002000-7f0000006000 r--p 00000000 00:00 0 [vvar]\n";
  auto t2 = analyze::explicit_target("vdso-first", first, corpus("6.18.12+deb13-cloud-amd64"));
  REQUIRE(t2);
  auto pl = analyze::plan_placement(t2->layout, vdso::Abi::X86_64, 0x100000);
  REQUIRE(pl);
  CHECK(pl->vdso_addr == 0x100000);
  CHECK(pl->vvar_addr == 0x102000);
  CHECK(vk_rt_check_plan(&*pl, &t2->layout) == 0);

  CHECK(!analyze::plan_placement(t.layout, vdso::Abi::X86_64, 0x7e0000000100));   // not page aligned
  CHECK(!analyze::plan_placement(t.layout, vdso::Abi::X32, std::nullopt));
  // The proxy inside the target block: the runtime's check refuses the plan.
  auto bad = plan(old, t, 0x7f30f69f5000);
  CHECK(bad.check_code == VK_RT_E_PLAN_INVALID);

  analyze::PlanRequest req;
  auto i386 = parsed("6.1.0-47-amd64", "i386");
  req.old = &i386;
  req.proxy_addr = 0x10000000;
  auto mismatch = analyze::plan_runtime(req, t);   // i386 vDSO, x86_64 target
  REQUIRE(!mismatch);
  CHECK(mismatch.error().message.find("a process keeps its ABI") != std::string::npos);

  auto marked = corpus("5.10.0-32-amd64");
  auto m = vdso::encode_mark_v3(1, 2, 3);
  std::copy(m.begin(), m.end(), marked.begin());
  auto mv = vdso::parse("marked", marked);
  REQUIRE(mv);
  req.old = &*mv;
  CHECK(!analyze::plan_runtime(req, t));
}

TEST_CASE("runtime plan text: comments plus the runtime's own form, vk_rt_plan_parse reads it back") {
  auto old = parsed("7.2.12+deb13-amd64");
  auto p = plan(old, target("6.18.12+deb13-cloud-amd64"), kProxy, 0x7e0000000000);
  std::string text = analyze::render_text(p);
  CHECK(text.rfind("# vdsokit plan: 7.2.12+deb13-amd64/x86_64.so (Linux 7.2.12) -> 6.18.12+deb13-cloud-amd64", 0) == 0);
  CHECK(text.find("\nvdsokit-plan 1\n") != std::string::npos);
  CHECK(text.find("block moved to 0x7e0000000000 (-0x130f69f5000)") != std::string::npos);
  CHECK(text.find("unresolved __vdso_futex_robust_list64_try_unlock\n") != std::string::npos);
  vk_rt_plan back;
  int bad_line = 0;
  REQUIRE(vk_rt_plan_parse(text.data(), text.size(), &back, &bad_line) == 0);
  CHECK(std::memcmp(&back, &p.plan, sizeof(back)) == 0);

  auto j = analyze::to_json(p);
  CHECK(j["schema"] == "vdsokit.plan/1");
  CHECK(j["summary"]["trampolines"] == 7);
  CHECK(j["summary"]["unresolved"] == 2);
  CHECK(j["placement"]["vdso"]["addr"] == "0x7e0000006000");
  CHECK(j["check"]["name"] == "OK");
  std::string pt = j["plan_text"];
  REQUIRE(vk_rt_plan_parse(pt.data(), pt.size(), &back, &bad_line) == 0);
  CHECK(std::memcmp(&back, &p.plan, sizeof(back)) == 0);
}

// ---- analyzers/mark: what CRIU's next dump does, on recorded maps text and bytes ----

namespace {

struct FakeMem {
  std::map<uint64_t, std::vector<uint8_t>> at;   // mapping start -> bytes
  analyze::MemReader reader() const {
    return [this](uint64_t addr, uint64_t len) -> std::optional<std::vector<uint8_t>> {
      for (const auto& [start, b] : at)
        if (addr >= start && addr + len <= start + b.size())
          return std::vector<uint8_t>(b.begin() + long(addr - start), b.begin() + long(addr - start + len));
      return std::nullopt;
    };
  }
};

// A process restored through a proxy (§6.4): old vvar 0x7f..e000 (6 pages, anon r--), the proxy
// 0x7f..4000 (anon r-x), the runtime pair parked at 0x7e00000000000.
const char* kProxiedMaps =
    "55d0c0a00000-55d0c0a02000 r-xp 00000000 fe:01 1234   /usr/bin/sleep\n"
    "7e0000000000-7e0000004000 r--p 00000000 00:00 0      [vvar]\n"
    "7e0000004000-7e0000006000 r--p 00000000 00:00 0      [vvar_vclock]\n"
    "7e0000006000-7e0000008000 r-xp 00000000 00:00 0      [vdso]\n"
    "7ff7773c3000-7ff7773c9000 r--p 00000000 00:00 0 \n"
    "7ff7773c9000-7ff7773cb000 r-xp 00000000 00:00 0 \n"
    "7ff7773cb000-7ff7773cc000 r-xp 00000000 00:00 0 \n"
    "7ffd2a1b4000-7ffd2a1d5000 rwxp 00000000 00:00 0      [stack]\n";

FakeMem proxied_memory(std::vector<uint8_t> mark) {
  FakeMem m;
  auto proxy = corpus("6.18.12+deb13-cloud-amd64");
  proxy.resize(0x2000);
  for (uint64_t off : {0x870ull, 0xb50ull, 0xb80ull, 0xf20ull, 0xfa0ull, 0xfe0ull}) {
    auto t = vdso::encode_trampoline(vdso::Abi::X86_64, 0x7e0000006000 + off);
    std::copy(t.begin(), t.end(), proxy.begin() + long(off));
  }
  m.at[0x7ff7773c9000] = proxy;
  auto rt = corpus("6.18.12+deb13-cloud-amd64");
  rt.resize(0x2000);
  std::copy(mark.begin(), mark.end(), rt.begin());
  m.at[0x7e0000006000] = rt;
  m.at[0x7ff7773cb000] = std::vector<uint8_t>(0x1000, 0x90);   // some other r-x anon code
  m.at[0x55d0c0a00000] = std::vector<uint8_t>(0x2000, 0);
  return m;
}

}  // namespace

TEST_CASE("mark: CRIU's next dump keeps the proxy and the old vvar, drops the runtime pair (§5.3)") {
  auto maps = procmaps::parse(kProxiedMaps, "maps");
  REQUIRE(maps);
  CHECK(maps->size() == 8);
  CHECK((*maps)[4].name.empty());
  auto mem = proxied_memory(vdso::encode_mark_v3(0x7ff7773c9000, 0x7ff7773c3000, 0x7e0000000000));
  auto d = analyze::predict_next_dump(*maps, mem.reader());
  CHECK(d.ok());
  REQUIRE(d.mark);
  CHECK(d.mark->version == 3);
  CHECK(d.rt_vdso == 0x7e0000006000);
  auto kv = d.kept_vdso();
  REQUIRE(kv.size() == 1);
  CHECK(kv[0]->start == 0x7ff7773c9000);
  CHECK(kv[0]->role == "proxy");
  auto kr = d.kept_vvar();
  REQUIRE(kr.size() == 1);
  CHECK(kr[0]->start == 0x7ff7773c3000);
  auto dr = d.dropped();
  REQUIRE(dr.size() == 2);
  CHECK(dr[0]->name == "[vvar]+[vvar_vclock]");   // merged, both go
  CHECK(dr[0]->start == 0x7e0000000000);
  CHECK(dr[0]->end == 0x7e0000006000);
  CHECK(dr[1]->name == "[vdso]");
  REQUIRE(d.proxy);
  CHECK(d.proxy->trampolines.size() == 6);
  CHECK(d.tramps_into_rt == 6);
  auto text = analyze::render_text(d);
  CHECK(text.find("mark V3 at 0x7e0000006000") != std::string::npos);
  CHECK(analyze::to_json(d)["vmas"].size() == 4);
}

TEST_CASE("mark: V2 is read as V3 without rt_vvar, a second mark and a bad version fail the dump") {
  auto maps = procmaps::parse(kProxiedMaps, "maps");
  REQUIRE(maps);
  // V2: "criuvDSO", proxy_vdso, version 2, proxy_vvar. rt_vvar -1: the runtime [vvar] stays.
  std::vector<uint8_t> v2{'c', 'r', 'i', 'u', 'v', 'D', 'S', 'O'};
  for (uint64_t w : {0x7ff7773c9000ull, 2ull, 0x7ff7773c3000ull})
    for (int i = 0; i < 8; ++i) v2.push_back(uint8_t(w >> (8 * i)));
  auto d2 = analyze::predict_next_dump(*maps, proxied_memory(v2).reader());
  CHECK(d2.ok());
  CHECK(d2.rt_vvar == ~0ull);
  CHECK(d2.dropped().size() == 1);
  CHECK(d2.kept_vvar().size() == 2);   // the old vvar and the (undropped) runtime one

  auto mem = proxied_memory(vdso::encode_mark_v3(0x7ff7773c9000, 0x7ff7773c3000, 0x7e0000000000));
  auto second = vdso::encode_mark_v3(1, 2, 3);
  std::copy(second.begin(), second.end(), mem.at[0x7ff7773cb000].begin());
  auto d = analyze::predict_next_dump(*maps, mem.reader());
  REQUIRE(!d.ok());
  CHECK(d.errors.front().find("Second vdso mark") == 0);

  auto bad = vdso::encode_mark_v3(0x7ff7773c9000, 0x7ff7773c3000, 0x7e0000000000);
  bad[16] = 4;   // stored version 4
  auto d4 = analyze::predict_next_dump(*maps, proxied_memory(bad).reader());
  REQUIRE(!d4.ok());
  CHECK(d4.errors.front().find("Mark version mismatch") == 0);

  // No mark at all: nothing dropped.
  auto none = analyze::predict_next_dump(*maps, proxied_memory(std::vector<uint8_t>(40, 0)).reader());
  CHECK(!none.mark);
  CHECK(none.dropped().empty());

  CHECK(!procmaps::parse("7f00-zz r-xp 0 00:00 0\n", "m"));
  CHECK(!procmaps::parse("7f00-7e00 r-xp 0 00:00 0\n", "m"));
}

// ---- vdsokit plan ----

TEST_CASE("plan CLI: text parses back with vk_rt_plan_parse, json, exit codes") {
  test::TempDir tmp;
  test::write_bytes(tmp / "maps", std::vector<uint8_t>(kMaps618, kMaps618 + std::strlen(kMaps618)));
  auto new_so = test::source("corpora/kernels/6.18.12+deb13-cloud-amd64/x86_64.so");
  auto old510 = test::source("corpora/kernels/5.10.0-32-amd64/x86_64.so");
  auto old72 = test::source("corpora/kernels/7.2.12+deb13-amd64/x86_64.so");

  auto r = test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "0x7ffff7fc1000", "--target", new_so,
                              "--target-maps", tmp / "maps", "--at", "0x7e0000000000"});
  CHECK(r.code == 0);
  vk_rt_plan p;
  int bad_line = 0;
  REQUIRE(vk_rt_plan_parse(r.out.data(), r.out.size(), &p, &bad_line) == 0);
  CHECK(p.nr_tramps == 5);
  CHECK(p.vdso_addr == 0x7e0000006000);
  CHECK(p.proxy_addr == 0x7ffff7fc1000);
  vk_rt_layout l;
  REQUIRE(vk_rt_parse_maps(kMaps618, std::strlen(kMaps618), &l) == 0);
  CHECK(vk_rt_check_plan(&p, &l) == 0);

  // Unresolved functions: exit 1, still a complete plan.
  auto u = test::run_vdsokit({"plan", "--vdso", old72, "--proxy-at", "0x7ffff7fc1000", "--target", new_so,
                              "--target-maps", tmp / "maps", "--format", "json"});
  CHECK(u.code == 1);
  auto j = nlohmann::json::parse(u.out);
  CHECK(j["summary"]["unresolved"] == 2);
  std::string pt = j["plan_text"];
  REQUIRE(vk_rt_plan_parse(pt.data(), pt.size(), &p, &bad_line) == 0);
  CHECK(p.nr_unresolved == 2);

  // The running kernel (read-only: nothing moves).
  auto h = test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "0x10000000"});
  CHECK(h.code == 0);
  REQUIRE(vk_rt_plan_parse(h.out.data(), h.out.size(), &p, &bad_line) == 0);
  CHECK(h.out.find("-> host (Linux ") != std::string::npos);

  // An i386 vDSO against the running kernel: its 32-bit layout comes from the -m32 helper.
  bool helper = std::filesystem::exists(std::filesystem::path(VK_BINARY).parent_path() / "vdsokit-selftest32");
  auto h32 = test::run_vdsokit({"plan", "--vdso", test::source("corpora/kernels/6.1.0-47-amd64/i386.so"), "--proxy-at",
                                "0x10000000", "--format", "json"});
  if (helper) {
    INFO(h32.err);
    REQUIRE(h32.code == 0);
    auto j32 = nlohmann::json::parse(h32.out);
    CHECK(j32["abi"] == "i386");
    CHECK(j32["target"]["label"] == "host (i386)");
    CHECK(j32["summary"]["skipped"] == 1);   // __kernel_vsyscall
    CHECK(j32["check"]["name"] == "OK");
  } else {
    CHECK(h32.code == 3);
  }

  // An image set: the proxy is the dumped vdso VMA, orig_vvar its vvar VMA.
  auto im = test::run_vdsokit({"plan", "--image", test::fixture("host-vdsoloop/images"), "--target", new_so,
                               "--target-maps", tmp / "maps"});
  CHECK(im.code == 0);
  CHECK(im.out.find("mark 0x7ff7773c9000 0x7ff7773c3000\n") != std::string::npos);
  CHECK(im.out.find("proxy 0x7ff7773c9000 0x2000\n") != std::string::npos);

  CHECK(test::run_vdsokit({"plan", "--vdso", old510}).code == 2);                           // no --proxy-at
  CHECK(test::run_vdsokit({"plan", "--proxy-at", "0x1000"}).code == 2);                     // no input
  CHECK(test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "zz"}).code == 2);
  CHECK(test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "0x10000000", "--at", "0x1234"}).code == 2);
  CHECK(test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "0x10000000", "--target", new_so}).code == 2);
  auto missing = test::run_vdsokit({"plan", "--vdso", tmp / "nope.so", "--proxy-at", "0x10000000"});
  CHECK(missing.code == 3);
  CHECK(missing.err.rfind("vdsokit: ", 0) == 0);
  // The proxy on top of the target block: bad input, one line.
  auto clash = test::run_vdsokit({"plan", "--vdso", old510, "--proxy-at", "0x7f30f69f5000", "--target", new_so,
                                  "--target-maps", tmp / "maps"});
  CHECK(clash.code == 3);
  CHECK(clash.err.find("does not fit the target layout") != std::string::npos);
}
