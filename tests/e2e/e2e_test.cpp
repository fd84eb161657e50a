// End-to-end: real dumps and restores with Debian's CRIU 4.1.1 and 4.2.1, compared with `vdsokit check`.
// Every case restores in its own pid + mount namespace through tests/e2e/restore.sh (README.md there).
// Facts: ../shared/docs/real-restores.md.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "e2e/harness.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace vk::e2e;

namespace {

// Names of the exports CRIU wrote a trampoline over (jmp: offsets mapped through check's symbol table).
std::set<std::string> trampolined(const Restore& r, const json& outcome) {
  std::set<std::string> names;
  for (uint64_t off : r.jmp()) {
    std::string name = "?" + std::to_string(off);
    for (const auto& s : outcome["symbols"])
      if (vk::test::parse_hex(s["old_offset"]) == off) name = s["name"];
    names.insert(name);
  }
  return names;
}
// The xk program's T line, judged like vdsoprobe judges its own calls (vDSO value taken before the
// system call it is compared with; see the fixture program's source).
double num(const std::map<std::string, std::string>& f, const std::string& k) {
  auto it = f.find(k);
  REQUIRE_MESSAGE(it != f.end(), "T line lacks " << k);
  return std::stod(it->second);
}
std::map<std::string, std::string> xk_results(const std::map<std::string, std::string>& t) {
  auto near = [](double v, double sys) { return v <= sys && sys - v < 0.5; };
  std::map<std::string, std::string> r;
  r["clock_gettime"] = near(num(t, "mono"), num(t, "sys_mono")) && near(num(t, "rt"), num(t, "sys_rt")) ? "ok" : "wrong";
  r["gettimeofday"] = near(num(t, "tod"), num(t, "sys_rt") + 1e-6) && num(t, "tod") >= num(t, "rt") - 1e-6 ? "ok" : "wrong";
  // time() reads the coarse clock, which lags the precise one by up to a tick: at a second boundary it may
  // still say the second before rt's.
  r["time"] = num(t, "time") >= std::floor(num(t, "rt")) - 1 && num(t, "time") <= num(t, "sys_rt") ? "ok" : "wrong";
  r["getcpu"] = t.at("getcpu_rc") == "0" ? "ok" : "wrong";
  r["clock_getres"] = t.at("res_ok") == "1" ? "ok" : "wrong";
  return r;
}

// A real restore equals check's prediction: decision, trampolines, and every function on every line.
void compare(const Restore& r, const json& outcome, bool xk) {
  INFO("restore.sh said: " << r.log);
  INFO("check's outcome: " << outcome.dump());
  std::string want = predicted_decision(outcome);
  if (want == "none") {
    CHECK(r.get("status") != "restored");
    return;
  }
  REQUIRE(r.get("status") == "restored");
  CHECK(r.get("decision") == want);
  CHECK(trampolined(r, outcome) == predicted_trampolines(outcome));
  auto p = predicted_functions(outcome);
  REQUIRE(!r.lines.empty());
  for (const auto& line : r.lines) {
    auto got = xk ? xk_results(line) : line;
    for (const auto& fn : kFunctionNames) {
      if (xk && fn == "getrandom") continue;   // the xk program does not call it
      INFO("line n=" << line.at("n") << " function " << fn);
      CHECK(got.at(fn) == p.at(fn));
    }
    if (xk) CHECK((line.at("res_ok") == "1") == outcome["clock_getres_ok"].get<bool>());
  }
}

// Starts vdsoprobe (results in w/probe.out every 50 ms) and dumps it with `criu` into w/images.
void dump_probe(const Work& w, const Criu& criu) {
  std::string out = w / "probe.out";
  int pid = start(w, {program("vdsoprobe"), out, "50"});
  REQUIRE(pid > 0);
  REQUIRE_MESSAGE(wait_lines(out, "R ", 2), "vdsoprobe wrote no result lines");
  auto d = dump(w, criu, w / "images", pid);
  REQUIRE_MESSAGE(d.code == 0, d.out);
}

void round_trip(const std::string& minor) {
  auto criu = need_criu(minor);
  Work w("roundtrip-" + minor);
  std::string out = w / "probe.out";
  dump_probe(w, criu);
  auto outcome = check_host(w / "images", criu.label);
  CHECK(outcome["verdict"] == "inplace");   // same kernel, same CRIU: the premise
  auto r = restore(w, criu, w / "images", {}, out, 3);
  compare(r, outcome, false);
}

}  // namespace

TEST_CASE("e2e: host round trip of vdsoprobe with criu-4.2") { round_trip("4.2"); }
TEST_CASE("e2e: host round trip of vdsoprobe with criu-4.1") { round_trip("4.1"); }

namespace {

// ../shared/fixtures/criu/programs/README.md: the xk-* program, as the fixtures' build writes it.
constexpr const char* kXkSha256 = "4c798330244e3ca9217d08837b2106c7f3c3eb06c89de2d0370466d9dcbba000";

std::vector<std::string> xk_fixtures() {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(vk::test::fixtures()))
    if (e.is_directory() && e.path().filename().string().rfind("xk-", 0) == 0) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

// The binary at the path the xk images record, or skip when this toolchain does not rebuild it byte-identical.
std::string xk_program() {
  std::string p = program("xk-vdsoloop");
  std::string got = sha256(p);
  if (got != kXkSha256)
    skip("the xk-* fixtures need the byte-identical vdsoloop (sha256 " + std::string(kXkSha256) + "); this toolchain built " +
         (got.empty() ? "nothing" : got) + " (gcc 12.2.0 + glibc 2.36 reproduce it)");
  return p;
}

// Restores an xk image set with the program and its output file at the recorded paths.
Restore restore_xk(const Work& w, const Criu& c, const std::string& images) {
  std::string out = w / "vdsoloop.out";
  vk::test::write_bytes(out, {});
  return restore(w, c, images, {{xk_program(), "/usr/local/bin/vdsoloop"}, {out, "/var/tmp/vdsoloop.out"}}, out, 3);
}

void xk_all(const std::string& minor) {
  auto criu = need_criu(minor);
  xk_program();
  auto sets = xk_fixtures();
  REQUIRE(sets.size() >= 4);
  for (const auto& set : sets) {
    CAPTURE(set);
    Work w("xk-" + minor + "-" + set);
    std::string images = vk::test::fixture(set + "/images");
    auto outcome = check_host(images, criu.label);
    auto r = restore_xk(w, criu, images);
    compare(r, outcome, true);
    if (minor == "4.1") {
      // The fixtures were written by CRIU 4.2 (pagemap field 5): 4.1.1 is blocked on them (VK011), as the
      // restore above shows. Converted with `rewrite pagemap --to 4.1`, 4.1.1 restores them: its vDSO
      // decision and trampolines must then be what check says for criu-4.1.
      Work w2("xk-4.1-pagemap41-" + set);
      vk::test::copy_dir(images, w2 / "images");
      auto rw = sh({vdsokit(), "rewrite", "pagemap", "--to", "4.1", w2 / "images"});
      REQUIRE_MESSAGE(rw.code == 0, rw.out);
      auto o2 = check_host(w2 / "images", criu.label);
      CHECK(o2["verdict"] != "blocked");
      compare(restore_xk(w2, criu, w2 / "images"), o2, true);
    }
  }
}

}  // namespace

TEST_CASE("e2e: every xk fixture restored with criu-4.2 as check predicts") { xk_all("4.2"); }
TEST_CASE("e2e: every xk fixture restored with criu-4.1 as check predicts (as dumped, and after rewrite pagemap --to 4.1)") {
  xk_all("4.1");
}

// real-restores.md §3: a proxied process dumped again keeps CRIU's trampolines in its [vdso] and loses the
// mark; restoring it builds the proxy again. inspect and check must say so before CRIU does it.
TEST_CASE("e2e: second generation (proxied, dumped again, restored again) with criu-4.2") {
  auto criu = need_criu("4.2");
  xk_program();
  std::string set = "xk-7.2.13+deb14-amd64";
  Work first("gen2-first"), again("gen2-dump"), second("gen2-second");
  auto images1 = vk::test::fixture(set + "/images");
  auto outcome1 = check_host(images1, criu.label);
  auto r1 = restore_xk(first, criu, images1);
  compare(r1, outcome1, true);
  REQUIRE(r1.get("decision") == "proxy");

  auto d = dump(again, criu, again / "images", 0, first.path());
  REQUIRE_MESSAGE(d.code == 0, d.out);
  auto ins = sh({vdsokit(), "inspect", again / "images", "--format", "json"}, false);
  REQUIRE(ins.code == 0);
  auto proc = json::parse(ins.out)["image_sets"][0]["processes"][0];
  INFO("inspect: " << proc["vdso"].dump());
  CHECK(proc["vdso"]["mark"].is_null());
  auto offsets = r1.jmp();
  std::set<uint64_t> tramp, jumped(offsets.begin(), offsets.end());
  for (const auto& t : proc["vdso"]["trampolines"]) tramp.insert(vk::test::parse_hex(t["offset"]));
  CHECK(tramp == jumped);   // the trampolines CRIU wrote are what inspect finds in the new image

  auto outcome2 = check_host(again / "images", criu.label);
  auto r2 = restore_xk(second, criu, again / "images");
  compare(r2, outcome2, true);
}

// `rewrite vvar` claims an outcome change: a process whose images differ from the target only in the vvar
// VMA (VK006, retargetable) restores in place after the rewrite instead of through CRIU's proxy. The claim
// checked in the corpus (xk-6.12.117 -> 6.16.12) needs a 6.16 kernel; what this machine can prove is the
// same mechanism on a host dump: vdsoprobe dumped here, its VVAR VMA shrunk by two pages (synthetic: the
// size a pre-6.13 kernel maps), so that only the vvar size differs from the running kernel.
TEST_CASE("e2e: rewrite vvar turns CRIU's proxy into an in-place restore (host dump, vvar shrunk: synthetic)") {
  auto criu = need_criu("4.2");
  Work w("rewrite-dump"), before("rewrite-before"), after("rewrite-after");
  std::string out = w / "probe.out";
  dump_probe(w, criu);

  std::string mm;
  for (const auto& e : fs::directory_iterator(w / "images"))
    if (e.path().filename().string().rfind("mm-", 0) == 0) mm = e.path().string();
  auto dec = sh({vdsokit(), "decode", mm, "--pretty"}, false);
  REQUIRE(dec.code == 0);
  auto j = json::parse(dec.out);
  bool shrunk = false;
  for (auto& v : j["entries"][0]["vmas"]) {
    if (v["status"].get<std::string>().find("VMA_AREA_VVAR") == std::string::npos) continue;
    uint64_t s = vk::test::parse_hex(v["start"]), e = vk::test::parse_hex(v["end"]);
    if (e - s < 3 * 4096) skip("the running kernel's vvar has fewer than 3 pages: nothing to shrink");
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(s + 2 * 4096));
    v["start"] = buf;
    shrunk = true;
  }
  REQUIRE(shrunk);
  vk::test::write_bytes(w / "mm.json", [&] { auto t = j.dump(4); return std::vector<uint8_t>(t.begin(), t.end()); }());
  REQUIRE(sh({vdsokit(), "encode", w / "mm.json", "-o", mm}).code == 0);
  fs::copy(w / "images", w / "rewritten", fs::copy_options::recursive);

  // Before: check says retargetable (CRIU proxies); a real restore proxies with the predicted trampolines.
  auto o1 = check_host(w / "images", criu.label);
  REQUIRE(o1["verdict"] == "retargetable");
  auto r1 = restore(before, criu, w / "images", {}, "", 0);
  INFO("before: " << r1.log);
  CHECK(r1.get("decision") == "proxy");
  CHECK(trampolined(r1, o1) == predicted_trampolines(o1));
  // (The program's own results are not compared here: its old vDSO reads vvar data from the page the
  // synthetic shrink unmapped, so it dies in clock_getres. Images CRIU writes always carry the vvar their
  // vDSO was built for.)

  // After the rewrite: check says inplace, and the real restore is in place with every function correct.
  auto rw = sh({vdsokit(), "rewrite", "vvar", "--target", "host", "--restorer", criu.label, w / "rewritten"});
  REQUIRE_MESSAGE(rw.code == 0, rw.out);
  auto o2 = check_host(w / "rewritten", criu.label);
  CHECK(o2["verdict"] == "inplace");
  auto r2 = restore(after, criu, w / "rewritten", {}, out, 3);
  compare(r2, o2, false);
}

// `rewrite pagemap --to 4.1` claims that CRIU <= 4.1 can then restore a CRIU 4.2 dump, which it otherwise
// reads as 0 pages (VK011, blocked). Proven with Debian's 4.2.1 (dump) and 4.1.1 (restore).
TEST_CASE("e2e: rewrite pagemap --to 4.1 lets criu-4.1 restore a criu-4.2 dump") {
  auto c42 = need_criu("4.2");
  auto c41 = need_criu("4.1");
  Work w("pagemap-dump"), before("pagemap-before"), after("pagemap-after");
  std::string out = w / "probe.out";
  dump_probe(w, c42);
  fs::copy(w / "images", w / "rewritten", fs::copy_options::recursive);

  auto o1 = check_host(w / "images", c41.label);
  CHECK(o1["verdict"] == "blocked");
  auto r1 = restore(before, c41, w / "images", {}, out, 3);
  compare(r1, o1, false);   // blocked: the restore must fail

  auto rw = sh({vdsokit(), "rewrite", "pagemap", "--to", "4.1", w / "rewritten"});
  REQUIRE_MESSAGE(rw.code == 0, rw.out);
  auto o2 = check_host(w / "rewritten", c41.label);
  CHECK(o2["verdict"] == "inplace");
  auto r2 = restore(after, c41, w / "rewritten", {}, out, 3);
  compare(r2, o2, false);
}
