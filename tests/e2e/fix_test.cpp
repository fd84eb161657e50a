// End-to-end proof of the two repairs of docs/fix-a-restore.md with Debian's CRIU 4.2.1: every shared
// xk-* fixture (1) after `vdsokit rewrite exports` and (2) restored with `--action-script vdsokit-fixup`
// gives every vDSO function of its program correct, and so does the second generation (the restored
// process dumped again and restored again, the same repair applied again). For the fixup, clock_getres
// is shown to be served by the running kernel's vDSO without a system call: the bytes the program reads
// at its __vdso_clock_getres are a trampoline whose target lies inside the restored task's [vdso].
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "e2e/harness.h"
#include "formats/common/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace vk::e2e;

namespace {

constexpr const char* kXkSha256 = "4c798330244e3ca9217d08837b2106c7f3c3eb06c89de2d0370466d9dcbba000";

std::string xk_program() {
  std::string p = program("xk-vdsoloop");
  std::string got = sha256(p);
  if (got != kXkSha256)
    skip("the xk-* fixtures need the byte-identical vdsoloop (sha256 " + std::string(kXkSha256) + "); this toolchain built " +
         (got.empty() ? "nothing" : got));
  return p;
}

std::vector<std::string> xk_fixtures() {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(vk::test::fixtures()))
    if (e.is_directory() && e.path().filename().string().rfind("xk-", 0) == 0) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

double num(const std::map<std::string, std::string>& f, const std::string& k) {
  auto it = f.find(k);
  REQUIRE_MESSAGE(it != f.end(), "T line lacks " << k);
  return std::stod(it->second);
}

// Every function of one T line of the xk program (its vDSO value is taken before the system call it is
// compared with; clock_getres must equal the system call's: res_ok).
void all_correct(const std::map<std::string, std::string>& t) {
  auto near = [](double v, double sys) { return v <= sys && sys - v < 0.5; };
  INFO("line n=" << t.at("n"));
  CHECK(near(num(t, "mono"), num(t, "sys_mono")));
  CHECK(near(num(t, "rt"), num(t, "sys_rt")));
  CHECK(near(num(t, "tod"), num(t, "sys_rt") + 1e-6));
  // time() reads the coarse clock, up to a tick behind the precise one: at a second boundary it may say
  // the previous second (as e2e_test.cpp's judge allows).
  CHECK(num(t, "time") >= std::floor(num(t, "rt")) - 1);
  CHECK(num(t, "time") <= num(t, "sys_rt"));
  CHECK(t.at("getcpu_rc") == "0");
  CHECK(t.at("res_ok") == "1");
  CHECK(num(t, "res_mono") > 0);
}

Restore restore_xk(const Work& w, const Criu& c, const std::string& images, const std::vector<std::string>& args = {}) {
  std::string out = w / "vdsoloop.out";
  vk::test::write_bytes(out, {});
  return restore(w, c, images, {{xk_program(), "/usr/local/bin/vdsoloop"}, {out, "/var/tmp/vdsoloop.out"}}, out, 3, args);
}

void restored_correct(const Restore& r) {
  INFO("restore.sh said: " << r.log);
  REQUIRE(r.get("status") == "restored");
  REQUIRE(!r.lines.empty());
  for (const auto& l : r.lines) all_correct(l);
}

// The restored task's [vdso] from the host side (WORK/task.pid holds its host pid and start time).
std::pair<uint64_t, uint64_t> task_vdso(const Work& w) {
  std::string pid = vk::test::read_text(w / "task.pid");
  pid = pid.substr(0, pid.find_first_of(" \n"));
  std::string maps = vk::test::read_text("/proc/" + pid + "/maps");
  size_t at = maps.find("[vdso]");
  REQUIRE_MESSAGE(at != std::string::npos, "no [vdso] in /proc/" << pid << "/maps");
  size_t bol = maps.rfind('\n', at);
  std::string row = maps.substr(bol == std::string::npos ? 0 : bol + 1);
  return {std::stoull(row.substr(0, row.find('-')), nullptr, 16), std::stoull(row.substr(row.find('-') + 1), nullptr, 16)};
}

// code_getres=<hex of the first 12 bytes at __vdso_clock_getres>: a 48 b8 <imm64> ff e0 trampoline target.
uint64_t trampoline_target(const std::string& hexbytes) {
  REQUIRE(hexbytes.size() >= 24);
  REQUIRE(hexbytes.substr(0, 4) == "48b8");
  REQUIRE(hexbytes.substr(20, 4) == "ffe0");
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | std::stoull(hexbytes.substr(4 + 2 * size_t(i), 2), nullptr, 16);
  return v;
}

std::string fixup_script() { return (fs::path(vdsokit()).parent_path() / "vdsokit-fixup").string(); }

}  // namespace

TEST_CASE("e2e: rewrite exports, then criu-4.2 restores every xk fixture with every function correct, two generations") {
  auto criu = need_criu("4.2");
  xk_program();
  auto sets = xk_fixtures();
  REQUIRE(sets.size() >= 4);
  for (const auto& set : sets) {
    CAPTURE(set);
    Work first("fix-rw-" + set), again("fix-rw-dump-" + set), second("fix-rw-2-" + set);
    vk::test::copy_dir(vk::test::fixture(set + "/images"), first / "images");
    auto rw = sh({vdsokit(), "rewrite", "exports", "--restorer", criu.label, first / "images"});
    REQUIRE_MESSAGE(rw.code == 0, rw.out);
    auto outcome = check_host(first / "images", criu.label);
    CHECK(outcome["clocks_ok"] == true);
    CHECK(outcome["clock_getres_ok"] == true);
    auto r1 = restore_xk(first, criu, first / "images");
    restored_correct(r1);

    auto d = dump(again, criu, again / "images", 0, first.path());
    REQUIRE_MESSAGE(d.code == 0, d.out);
    auto outcome2 = check_host(again / "images", criu.label);
    CHECK(outcome2["clock_getres_ok"] == true);   // the stub stays in the old vDSO (real-restores.md §3)
    auto r2 = restore_xk(second, criu, again / "images");
    restored_correct(r2);
    MESSAGE(set << ": rewrite exports: generation 1 " << r1.get("decision") << ", generation 2 " << r2.get("decision")
                << ", every function correct on " << r1.lines.size() + r2.lines.size() << " lines");
  }
}

TEST_CASE("e2e: criu-4.2 with --action-script vdsokit-fixup: every function correct, clock_getres in the running vDSO, two generations") {
  auto criu = need_criu("4.2");
  xk_program();
  REQUIRE(fs::exists(fixup_script()));
  auto sets = xk_fixtures();
  REQUIRE(sets.size() >= 4);
  for (const auto& set : sets) {
    CAPTURE(set);
    Work first("fix-fx-" + set), again("fix-fx-dump-" + set), second("fix-fx-2-" + set);
    std::string images = vk::test::fixture(set + "/images");
    std::vector<std::string> args{"--action-script", fixup_script()};
    for (int gen = 1; gen <= 2; ++gen) {
      CAPTURE(gen);
      const Work& w = gen == 1 ? first : second;
      auto r = restore_xk(w, criu, gen == 1 ? images : again / "images", args);
      restored_correct(r);
      std::string log = vk::test::read_text(w / "restore.log");
      if (r.get("decision") == "proxy") {
        // The fixup's own report (printed into restore.log by CRIU) and the bytes the program saw. In the
        // second generation the trampoline of the first fixup is still in the old vDSO; when CRIU parks
        // the new [vdso] at the same address as before, it already aims right ("unchanged").
        CHECK((log.find("): patched: ") != std::string::npos || (gen == 2 && log.find("): unchanged: ") != std::string::npos)));
        const auto vdso = task_vdso(w);
        const uint64_t lo = vdso.first, hi = vdso.second;
        for (const auto& l : r.lines) {
          uint64_t to = trampoline_target(l.at("code_getres"));
          INFO("clock_getres jumps to " << vk::hex(to) << ", running [vdso] " << vk::hex(lo) << "-" << vk::hex(hi));
          CHECK(to >= lo);
          CHECK(to < hi);
        }
      } else {
        CHECK(log.find("): in-place: ") != std::string::npos);
      }
      MESSAGE(set << ": fixup: generation " << gen << " " << r.get("decision") << ", every function correct on " << r.lines.size()
                  << " lines");
      if (gen == 1) {
        auto d = dump(again, criu, again / "images", 0, first.path());
        REQUIRE_MESSAGE(d.code == 0, d.out);
      }
    }
    // The second-generation image restored WITHOUT the fixup: the first fixup's trampolines are stale
    // there (CRIU re-patches only its own names, check says VK019); `rewrite exports` puts back the bytes
    // the fixup's mark kept and stubs what CRIU leaves, and stock CRIU then restores it correctly.
    Work third("fix-fx-rw-" + set);
    vk::test::copy_dir(again / "images", third / "images");
    auto rw = sh({vdsokit(), "rewrite", "exports", "--restorer", criu.label, third / "images"});
    REQUIRE_MESSAGE(rw.code == 0, rw.out);
    auto outcome = check_host(third / "images", criu.label);
    CHECK(outcome["clock_getres_ok"] == true);
    CHECK(outcome["clocks_ok"] == true);
    CHECK(outcome.dump().find("VK019") == std::string::npos);
    auto r3 = restore_xk(third, criu, third / "images");
    restored_correct(r3);
    MESSAGE(set << ": fixup generation 2 image, rewrite exports, stock CRIU: " << r3.get("decision") << ", every function correct on "
                << r3.lines.size() << " lines");
  }
}

// `criu restore --leave-stopped`, then `vdsokit fixup --pid PID` from outside, then SIGCONT: the other
// way to run the fixup (docs/fix-a-restore.md §2), on the 7.2 fixture (proxy here).
TEST_CASE("e2e: criu-4.2 --leave-stopped, vdsokit fixup --pid, resume: every function correct, clock_getres in the running vDSO") {
  auto criu = need_criu("4.2");
  std::string prog = xk_program();
  Work w("fix-leave-stopped");
  std::string out = w / "vdsoloop.out";
  vk::test::write_bytes(out, {});
  auto r = restore(w, criu, vk::test::fixture("xk-7.2.13+deb14-amd64/images"),
                   {{prog, "/usr/local/bin/vdsoloop"}, {out, "/var/tmp/vdsoloop.out"}}, "", 0, {"--leave-stopped"});
  INFO("restore.sh said: " << r.log);
  REQUIRE(r.get("status") == "restored");
  std::string pid = vk::test::read_text(w / "task.pid");
  pid = pid.substr(0, pid.find_first_of(" \n"));
  CHECK(vk::test::read_text("/proc/" + pid + "/status").find("State:\tT") != std::string::npos);
  auto fx = sh({vdsokit(), "fixup", "--pid", pid, "--format", "json"}, false);
  INFO("fixup said: " << fx.out);
  REQUIRE(fx.code == 0);
  auto j = json::parse(fx.out);
  REQUIRE(j["processes"].size() == 1);
  CHECK(j["processes"][0]["status"] == "patched");
  CHECK(sh({"kill", "-CONT", pid}).code == 0);
  REQUIRE(wait_lines(out, "T ", 3));
  const auto vdso = task_vdso(w);
        const uint64_t lo = vdso.first, hi = vdso.second;
  std::istringstream in(vk::test::read_text(out));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("T ", 0) != 0) continue;
    auto t = fields(line);
    all_correct(t);
    uint64_t to = trampoline_target(t.at("code_getres"));
    CHECK(to >= lo);
    CHECK(to < hi);
    ++n;
  }
  CHECK(n >= 3);
}
