// rewrite exports: system-call stubs over the exports a CRIU proxy leaves on old code (docs/rewrite.md
// "exports"), on copies of the real fixtures; the stub byte forms executed for real on this kernel.
#include <doctest/doctest.h>

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

#include "analyzers/check.h"
#include "analyzers/exports.h"
#include "analyzers/identify.h"
#include "analyzers/inspect.h"
#include "formats/catalog/catalog.h"
#include "formats/common/sha256.h"
#include "formats/criu/inputs.h"
#include "rewriters/batch.h"
#include "rewriters/exports.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

// A catalog build every xk fixture restores on through a proxy (its offsets differ from all of them).
const char* kProxyTarget = "7.3-amd64";

std::map<std::string, std::vector<uint8_t>> dir_bytes(const std::string& dir) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().filename().string()] = test::read_bytes(e.path().string());
  return out;
}

rewrite::BatchReport exports_batch(const std::vector<std::string>& inputs, bool dry_run = false, const std::string& restorer = "criu-4.2") {
  const auto* r = analyze::find_restorer(restorer);
  rewrite::BatchOptions o;
  o.dry_run = dry_run;
  return rewrite::run_batch(inputs, [r](const criu::ImageSet& s, const std::string& label) {
    return rewrite::plan_exports_set(s, label, *r);
  }, o, "exports");
}

bool has_code(const analyze::Outcome& o, const std::string& code) {
  for (const auto& f : o.findings)
    if (f.code == code) return true;
  return false;
}

analyze::Process process_of(const std::string& dir) {
  auto set = test::open_set(dir);
  auto rep = analyze::inspect(set, dir);
  REQUIRE(rep);
  REQUIRE(rep->processes.size() == 1);
  return rep->processes.front();
}

}  // namespace

TEST_CASE("exports: every xk fixture gets its vvar-reading exports stubbed; check then predicts a clean proxy") {
  for (const char* fx : {"xk-5.10.0-46-amd64", "xk-6.12.117+deb13-amd64", "xk-6.18.44-fc-v669", "xk-7.2.13+deb14-amd64"}) {
    CAPTURE(fx);
    test::TempDir tmp;
    test::copy_dir(test::fixture(std::string(fx) + "/images"), tmp / "set");
    auto before = test::single_outcome(tmp / "set", kProxyTarget);
    CHECK(before.verdict == analyze::Verdict::Proxy);
    CHECK_FALSE(before.clock_getres_ok);
    CHECK(has_code(before, "VK003"));
    auto files = dir_bytes(tmp / "set");
    auto orig = process_of(tmp / "set");

    auto dry = exports_batch({tmp / "set"}, true);
    CHECK(dry.units[0].status == "would-rewrite");
    CHECK(dir_bytes(tmp / "set") == files);

    auto r = exports_batch({tmp / "set"});
    REQUIRE(r.units.size() == 1);
    CHECK(r.units[0].status == "rewritten");
    CHECK(r.exit_code() == kExitOk);
    // Only the pages file changes, and only inside the vDSO.
    auto after_files = dir_bytes(tmp / "set");
    for (const auto& [f, b] : files) {
      if (f.rfind("pages-", 0) == 0) CHECK(after_files[f] != b);
      else CHECK(after_files[f] == b);
      CHECK(after_files[f].size() == b.size());
    }
    auto p = process_of(tmp / "set");
    REQUIRE(p.vdso);
    const auto& v = *p.vdso;
    REQUIRE(v.stub_mark);
    CHECK(v.stub_mark->restorer == "criu-4.2");
    CHECK(v.stub_mark->original_sha256 == orig.vdso_sha256);
    CHECK(sha256_hex(vdso::without_stubs(v.bytes, *v.stub_mark)) == orig.vdso_sha256);
    // clock_getres: `mov $229,%eax; syscall; ret` (real-restores.md §3), after an endbr64 if there is one.
    const auto* res = v.find("__vdso_clock_getres");
    REQUIRE(res);
    uint64_t at = res->offset + (vdso::endbr_at(orig.vdso->bytes, res->offset, v.abi) ? 4 : 0);
    std::vector<uint8_t> want{0xb8, 0xe5, 0, 0, 0, 0x0f, 0x05, 0xc3};
    CHECK(std::vector<uint8_t>(v.bytes.begin() + long(at), v.bytes.begin() + long(at + 8)) == want);
    // Bytes outside the stub sites and the mark are the original ones.
    size_t differ = 0;
    for (size_t i = 0; i < v.bytes.size(); ++i) differ += v.bytes[i] != orig.vdso->bytes[i];
    size_t allowed = v.stub_mark->size;
    for (const auto& e : v.stub_mark->entries) allowed += e.original.size();
    CHECK(differ <= allowed);
    if (v.find("__vdso_getrandom")) CHECK(v.stubs.size() == 2);
    else CHECK(v.stubs.size() == 1);

    auto after = test::single_outcome(tmp / "set", kProxyTarget);
    CHECK(after.verdict == analyze::Verdict::Proxy);
    CHECK(after.clocks_ok);
    CHECK(after.clock_getres_ok);
    CHECK(after.worst() == analyze::Severity::Info);
    for (const auto& s : after.symbols)
      if (analyze::reads_vvar(s.name)) CHECK(s.fate != "old-code");

    // A second run changes nothing.
    auto again = exports_batch({tmp / "set"});
    CHECK(again.units[0].status == "unchanged");
    CHECK(dir_bytes(tmp / "set") == after_files);
  }
}

TEST_CASE("exports: a second-generation image keeps CRIU's entries for CRIU and stubs clock_getres") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-proxy-second-gen/images"), tmp / "set");
  auto orig = process_of(tmp / "set");
  REQUIRE(orig.vdso);
  CHECK(orig.vdso->trampolines.size() == 4);
  auto r = exports_batch({tmp / "set"});
  CHECK(r.units[0].status == "rewritten");
  auto p = process_of(tmp / "set");
  REQUIRE(p.vdso);
  CHECK(p.vdso->trampolines.size() == 4);   // CRIU re-patches those itself (vdso-restore.md §5.3)
  REQUIRE(p.vdso->stubs.size() >= 1);
  const auto* res = p.vdso->find("__vdso_clock_getres");
  REQUIRE(res);
  bool stubbed = false;
  for (const auto& s : p.vdso->stubs) stubbed |= s.offset == res->offset && s.nr == 229;
  CHECK(stubbed);
  auto after = test::single_outcome(tmp / "set", kProxyTarget);
  CHECK(after.clock_getres_ok);
}

TEST_CASE("exports: vDSO pages in a parent image set are refused with exit 4, nothing written") {
  test::TempDir tmp;
  fs::copy(test::fixture("host-incremental"), tmp / "inc", fs::copy_options::recursive);
  for (auto& e : fs::recursive_directory_iterator(tmp / "inc"))
    if (!e.is_symlink()) fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  auto before = dir_bytes(tmp / "inc/pre");
  auto before_dump = dir_bytes(tmp / "inc/dump");
  auto r = exports_batch({tmp / "inc/dump"});
  CHECK(r.units[0].status == "refused");
  CHECK(r.exit_code() == kExitBlocked);
  REQUIRE(r.units[0].error);
  CHECK(r.units[0].error->message.find("parent image set") != std::string::npos);
  CHECK(dir_bytes(tmp / "inc/pre") == before);
  CHECK(dir_bytes(tmp / "inc/dump") == before_dump);
}

TEST_CASE("exports: the vdsokit-runtime restorer needs no stub; running it on a stubbed set restores the original bytes") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("xk-5.10.0-46-amd64/images"), tmp / "set");
  auto files = dir_bytes(tmp / "set");
  CHECK(exports_batch({tmp / "set"}).units[0].status == "rewritten");
  CHECK(dir_bytes(tmp / "set") != files);
  auto r = exports_batch({tmp / "set"}, false, "vdsokit-runtime");
  CHECK(r.units[0].status == "rewritten");
  CHECK(dir_bytes(tmp / "set") == files);
}

TEST_CASE("exports: an archive gets its pages member patched, every other member byte-identical") {
  test::TempDir tmp;
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst"), tmp / "c.tar.zst");
  auto r = exports_batch({tmp / "c.tar.zst"});
  REQUIRE(r.units.size() == 1);
  // host-vdsoloop was dumped on this machine's kind of kernel; the rewrite is target-independent.
  CHECK(r.units[0].status == "rewritten");
  auto again = exports_batch({tmp / "c.tar.zst"});
  CHECK(again.units[0].status == "unchanged");
}

// The byte forms executed: a page with the stub, called like the vDSO function, against the system call.
TEST_CASE("exports: x86_64 stubs give the system call's results (clock_getres, clock_gettime, getrandom query guard)") {
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(page != MAP_FAILED);
  auto load = [&](const std::string& fn) {
    auto f = vdso::syscall_form(vdso::Abi::X86_64, fn);
    REQUIRE(f);
    auto b = vdso::encode_stub(vdso::Abi::X86_64, *f);
    ::mprotect(page, 4096, PROT_READ | PROT_WRITE);
    std::memcpy(page, b.data(), b.size());
    REQUIRE(::mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0);
    auto s = vdso::stub_at(std::vector<uint8_t>(b.begin(), b.end()), 0, vdso::Abi::X86_64);
    REQUIRE(s);
    CHECK(s->nr == f->nr);
  };
  load("__vdso_clock_getres");
  using res_fn = long (*)(clockid_t, struct timespec*);
  struct timespec a {}, b {};
  CHECK(reinterpret_cast<res_fn>(page)(CLOCK_MONOTONIC, &a) == 0);
  CHECK(::syscall(SYS_clock_getres, CLOCK_MONOTONIC, &b) == 0);
  CHECK(a.tv_sec == b.tv_sec);
  CHECK(a.tv_nsec == b.tv_nsec);
  CHECK(a.tv_nsec > 0);
  CHECK(reinterpret_cast<res_fn>(page)(clockid_t(12345), &a) == -22);   // -EINVAL, as the vDSO's fallback

  load("__vdso_clock_gettime");
  struct timespec t1 {}, t2 {};
  CHECK(reinterpret_cast<res_fn>(page)(CLOCK_MONOTONIC, &t1) == 0);
  ::clock_gettime(CLOCK_MONOTONIC, &t2);
  CHECK((t2.tv_sec - t1.tv_sec) * 1000000000L + (t2.tv_nsec - t1.tv_nsec) >= 0);

  load("__vdso_getrandom");
  using rnd_fn = long (*)(void*, size_t, unsigned, void*, size_t);
  auto rnd = reinterpret_cast<rnd_fn>(page);
  unsigned char params[64] = {};
  CHECK(rnd(nullptr, 0, 0, params, ~0UL) == -38);   // the state-size query: glibc falls back to the system call
  unsigned char buf[32] = {};
  CHECK(rnd(buf, sizeof buf, 0, nullptr, 0) == 32);
  bool nonzero = false;
  for (auto c : buf) nonzero |= c != 0;
  CHECK(nonzero);
  ::munmap(page, 4096);
}

TEST_CASE("exports: i386 stubs load cdecl arguments and use the time32/time64 numbers; endbr32 is kept") {
  auto f = vdso::syscall_form(vdso::Abi::I386, "__vdso_clock_getres");
  REQUIRE(f);
  CHECK(f->nr == 266);
  CHECK(vdso::syscall_form(vdso::Abi::I386, "__vdso_clock_getres_time64")->nr == 406);
  CHECK(vdso::syscall_form(vdso::Abi::I386, "__vdso_clock_gettime64")->nr == 403);
  CHECK_FALSE(vdso::syscall_form(vdso::Abi::X86_64, "__vdso_clock_gettime64"));
  CHECK_FALSE(vdso::syscall_form(vdso::Abi::I386, "__vdso_futex_robust_list32_try_unlock"));
  std::vector<uint8_t> want{0x53, 0x8b, 0x5c, 0x24, 0x08, 0x8b, 0x4c, 0x24, 0x0c, 0x8b, 0x54, 0x24, 0x10,
                            0xb8, 0x0a, 0x01, 0, 0, 0xcd, 0x80, 0x5b, 0xc3};
  CHECK(vdso::encode_stub(vdso::Abi::I386, *f) == want);
  // A real i386 vDSO of the corpus (7.2.13): clock_getres and clock_getres_time64 get stubs, the futex
  // helper and __kernel_vsyscall (no vvar) are left; the result parses with its stubs and mark.
  auto bytes = test::read_bytes(test::source("corpora/kernels/7.2.13+deb14-amd64/i386.so"));
  bytes.resize((bytes.size() + 4095) / 4096 * 4096, 0);
  auto v = vdso::parse("i386.so", bytes);
  REQUIRE(v);
  auto p = analyze::plan_exports(*v, *analyze::find_restorer("criu-4.2"));
  REQUIRE(p);
  std::map<std::string, analyze::ExportAction> act;
  for (const auto& e : p->entries) act[e.names.front()] = e.action;
  CHECK(act["__vdso_clock_getres"] == analyze::ExportAction::Stub);
  CHECK(act["__vdso_clock_getres_time64"] == analyze::ExportAction::Stub);
  CHECK(act["__vdso_clock_gettime64"] == analyze::ExportAction::Restorer);
  CHECK(act["__vdso_futex_robust_list32_try_unlock"] == analyze::ExportAction::NoVvar);
  CHECK(act["__kernel_vsyscall"] == analyze::ExportAction::NoVvar);
  auto w = vdso::parse("i386.so stubbed", p->after);
  REQUIRE(w);
  CHECK(w->stubs.size() == 2);
  REQUIRE(w->stub_mark);
  CHECK(vdso::without_stubs(w->bytes, *w->stub_mark) == bytes);
  for (const auto& s : w->stubs) CHECK(s.at == s.offset + (vdso::endbr_at(bytes, s.offset, vdso::Abi::I386) ? 4 : 0));
}

TEST_CASE("exports: identify and inspect recognise a stubbed vDSO and the build it came from") {
  auto cat = catalog::effective_catalog({});
  REQUIRE(cat);
  analyze::Identifier id(*cat);
  for (const char* fx : {"xk-5.10.0-46-amd64", "xk-7.2.13+deb14-amd64", "host-vdsoloop"}) {
    CAPTURE(fx);
    test::TempDir tmp;
    test::copy_dir(test::fixture(std::string(fx) + "/images"), tmp / "set");
    auto orig = process_of(tmp / "set");
    REQUIRE(exports_batch({tmp / "set"}).units[0].status == "rewritten");
    auto p = process_of(tmp / "set");
    auto a = id.identify(*orig.vdso), b = id.identify(*p.vdso);
    CHECK(a.stubs == 0);
    CHECK(b.stubs == p.vdso->stubs.size());
    CHECK(b.kind == a.kind);
    REQUIRE(!a.candidates.empty());
    REQUIRE(!b.candidates.empty());
    CHECK(b.candidates[0].entry == a.candidates[0].entry);
    CHECK(b.explanation.rfind("vdsokit-stubbed", 0) == 0);
    bool noted = false;
    for (const auto& n : p.notes) noted |= n.find("vdsokit system-call stubs") != std::string::npos;
    CHECK(noted);
    auto j = analyze::to_json(analyze::inspect(test::open_set(tmp / "set"), "x").take());
    CHECK(j.dump().find("\"vdsokit_mark\":{") != std::string::npos);
  }
}
