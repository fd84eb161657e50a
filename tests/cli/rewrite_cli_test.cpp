// vdsokit rewrite end to end: exit codes, progress, JSON, dry run, and the check/inspect views after a
// vvar retarget (on copies of the real fixtures).
#include <doctest/doctest.h>

#include <map>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "support/fixtures.h"
#include "support/tarball.h"

using namespace vk;
namespace fs = std::filesystem;

TEST_CASE("rewrite vvar: check says retargetable before and inplace after, inspect shows the new vvar") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("xk-6.12.117+deb13-amd64/images"), tmp / "set");
  const std::string target = "6.16.12+deb13-cloud-amd64";
  auto before = test::run_vdsokit({"check", tmp / "set", "--target", target});
  CHECK(before.out.find("retargetable") != std::string::npos);

  auto dry = test::run_vdsokit({"rewrite", "vvar", "--target", target, "--force", "--dry-run", tmp / "set"});
  CHECK(dry.code == 0);
  CHECK(dry.out.find("would-rewrite") != std::string::npos);
  CHECK(test::run_vdsokit({"check", tmp / "set", "--target", target}).out.find("retargetable") != std::string::npos);

  // The in-place result would still carry VK005 (__vdso_sgx_enter_enclave moved): refused without --force.
  auto mm = test::read_bytes(tmp / "set/mm-20300.img");
  auto refused = test::run_vdsokit({"rewrite", "vvar", "--target", target, tmp / "set"});
  CHECK(refused.code == 1);
  CHECK(refused.err.find("VK005") != std::string::npos);
  CHECK(refused.err.find("--force") != std::string::npos);
  CHECK(test::read_bytes(tmp / "set/mm-20300.img") == mm);
  auto r = test::run_vdsokit({"rewrite", "vvar", "--target", target, "--force", tmp / "set"});
  CHECK(r.code == 0);
  CHECK(r.out.find("rewritten") != std::string::npos);
  CHECK(r.out.find("--force") != std::string::npos);
  CHECK(r.out.find("4 -> 6 pages") != std::string::npos);
  auto after = test::run_vdsokit({"check", tmp / "set", "--target", target, "--format", "json"});
  // In place; criu-4.2 does not compare __vdso_sgx_enter_enclave, which moved on 6.16 (VK005): exit 1.
  CHECK(after.code == 1);
  CHECK(r.out.find("after the rewrite: VK005") != std::string::npos);
  auto j = nlohmann::json::parse(after.out);
  CHECK(j["image_sets"][0]["processes"][0]["outcome"]["verdict"] == "inplace");
  auto ins = test::run_vdsokit({"inspect", tmp / "set"});
  CHECK(ins.code == 0);
  CHECK(ins.out.find("0x7f0e11f04000-0x7f0e11f0a000  6 pages") != std::string::npos);
}

TEST_CASE("rewrite vvar: refused (exit 1 for a proxy) and nothing written, usage errors exit 2") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("xk-5.10.0-46-amd64/images"), tmp / "set");
  auto mm = test::read_bytes(tmp / "set/mm-20250.img");
  auto r = test::run_vdsokit({"rewrite", "vvar", "--target", "6.16.12+deb13-cloud-amd64", tmp / "set"});
  CHECK(r.code == 1);
  CHECK(r.err.find("not retargetable") != std::string::npos);
  CHECK(test::read_bytes(tmp / "set/mm-20250.img") == mm);
  CHECK(test::run_vdsokit({"rewrite", "pagemap", "--to", "3.0", tmp / "set"}).code == 2);
  CHECK(test::run_vdsokit({"rewrite", "pagemap", tmp / "set"}).code == 2);
  CHECK(test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", "-o", tmp / "x", tmp / "set"}).code == 2);
}

TEST_CASE("rewrite pagemap: batch progress on stderr, JSON summary, exit 3 for a bad input while others are rewritten") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "sets/a");
  test::copy_dir(test::fixture("host-pagemap-legacy/images"), tmp / "sets/b");
  fs::create_directories(tmp / "broken");
  auto r = test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", "--format", "json", tmp / "sets", tmp / "broken"});
  CHECK(r.code == 3);
  CHECK(r.err.find("[1/3] " + tmp / "sets/a" + ": rewritten") != std::string::npos);
  CHECK(r.err.find("[2/3] " + tmp / "sets/b" + ": unchanged") != std::string::npos);
  CHECK(r.err.find("[3/3] " + tmp / "broken" + ": error") != std::string::npos);
  CHECK(r.err.find("vdsokit: '" + tmp / "broken" + "'") != std::string::npos);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["schema"] == "vdsokit.rewrite/1");
  CHECK(j["summary"]["rewritten"] == 1);
  CHECK(j["summary"]["unchanged"] == 1);
  CHECK(j["summary"]["error"] == 1);
  CHECK(test::read_bytes(tmp / "sets/a/pagemap-7660.img") ==
        test::read_bytes(test::fixture("host-pagemap-legacy/images/pagemap-7660.img")));
  // And back, through an archive with --output.
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz"), tmp / "c.tar.gz");
  auto a = test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", "--output", tmp / "d.tar.gz", tmp / "c.tar.gz"});
  CHECK(a.code == 0);
  auto ins = test::run_vdsokit({"inspect", "--format", "json", tmp / "d.tar.gz"});
  CHECK(ins.code == 0);
  CHECK(ins.out.find("\"4.1\"") != std::string::npos);
  CHECK(test::read_bytes(tmp / "c.tar.gz") == test::read_bytes(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz")));
}

namespace {

// Runs vdsokit and returns its peak RSS in KiB (wait4's rusage of that one child). A forked child's
// figure includes what the parent had resident at the fork, so callers keep the test process small.
long peak_rss_kib(const std::vector<std::string>& args, int& code) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(VK_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(VK_BINARY, argv.data());
    ::_exit(127);
  }
  int st = 0;
  struct rusage ru {};
  ::wait4(pid, &st, 0, &ru);
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return ru.ru_maxrss;
}

}  // namespace

TEST_CASE("rewrite pagemap of a .tar.zst with a 96 MiB pages file streams it: peak RSS under 100 MiB (issue 12 D13)") {
  test::TempDir tmp;
  // Synthetic size, real set: the fixture's pages-1.img grown with pseudo-random pages the pagemap
  // does not reference (incompressible, so the archive is as large as the data). Written by a child
  // process, so this process stays small (see peak_rss_kib).
  pid_t gen = ::fork();
  if (gen == 0) {
    auto members = test::members_of(test::fixture("host-vdsoloop/images"), "checkpoint");
    for (auto& m : members) {
      if (m.name != "checkpoint/pages-1.img") continue;
      uint64_t x = 0x9e3779b97f4a7c15ull;
      size_t old = m.bytes.size();
      m.bytes.resize(96u << 20);
      for (size_t i = old; i + 8 <= m.bytes.size(); i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::memcpy(m.bytes.data() + i, &x, 8);
      }
    }
    test::write_tar(tmp / "big.tar.zst", "zstd", members);
    ::_exit(0);
  }
  int gst = 0;
  REQUIRE(::waitpid(gen, &gst, 0) == gen);
  REQUIRE((WIFEXITED(gst) && WEXITSTATUS(gst) == 0));
  REQUIRE(fs::file_size(tmp / "big.tar.zst") > (90u << 20));
  int code = -1;
  long kib = peak_rss_kib({"rewrite", "pagemap", "--to", "4.1", tmp / "big.tar.zst"}, code);
  CHECK(code == 0);
  MESSAGE("peak RSS of the rewrite: " << kib / 1024 << " MiB");
#ifndef VK_UNDER_ASAN
  CHECK(kib < 100 * 1024);   // under ASan the quarantine keeps freed chunks: see VK_UNDER_ASAN
#endif
  auto ins = test::run_vdsokit({"inspect", "--format", "json", tmp / "big.tar.zst"});
  CHECK(ins.code == 0);
  CHECK(ins.out.find("\"4.1\"") != std::string::npos);
}

TEST_CASE("rewrite --shard --format jsonl --state: two shards, a re-run resumes, report equals a single run") {
  test::TempDir tmp;
  for (const char* set : {"host-vdsoloop", "xk-5.10.0-46-amd64", "xk-6.12.117+deb13-amd64", "host-sleep"})
    test::copy_dir(test::fixture(std::string(set) + "/images"), tmp / "store/" + set);
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar"), tmp / "store.tar");
  auto rewrite = [&](const std::string& shard, const std::string& out) {
    auto r = test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", tmp / "store", tmp / "store.tar", "--format", "jsonl",
                                "--state", tmp / "state", "--shard", shard});
    CHECK(r.code == 0);
    test::write_bytes(tmp / out, std::vector<uint8_t>(r.out.begin(), r.out.end()));
    return r;
  };
  auto a = rewrite("0/2", "a.jsonl");
  auto b = rewrite("1/2", "b.jsonl");
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  CHECK(lines(a.out) + lines(b.out) == 5);
  // Shard 1 again (a resubmitted task): everything is done, nothing is written, results are resumed.
  auto again = rewrite("1/2", "b2.jsonl");
  CHECK(again.out.find("\"resumed\":false") == std::string::npos);
  auto rep = test::run_vdsokit({"report", tmp / "a.jsonl", tmp / "b.jsonl", tmp / "b2.jsonl", "--format", "json"});
  CHECK(rep.code == 0);
  auto j = nlohmann::json::parse(rep.out);
  CHECK(j["summary"]["by_status"]["rewritten"] == 5);
  CHECK(j["summary"]["rewritten_twice"].empty());
  CHECK(j["run"]["superseded"] == lines(b.out));
  auto text = test::run_vdsokit({"report", tmp / "a.jsonl"});
  CHECK(text.code == 3);   // shard 1 missing
  CHECK(text.out.find("missing: ") != std::string::npos);
  auto junit = test::run_vdsokit({"report", tmp / "a.jsonl", tmp / "b.jsonl", "--format", "junit"});
  CHECK(junit.out.find("tests=\"5\"") != std::string::npos);
  // Usage: --state with --dry-run.
  CHECK(test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", tmp / "store", "--state", tmp / "state", "-n"}).code == 2);
}

TEST_CASE("check --format jsonl over 3 shards: report gives the single run's summary and exit code") {
  test::TempDir tmp;
  std::vector<std::string> files;
  for (int k = 0; k < 3; ++k) {
    std::string out = tmp / ("c" + std::to_string(k) + ".jsonl");
    auto r = test::run_vdsokit({"check", test::fixtures(), "--target", "6.12.117+deb13-cloud-amd64", "--format", "jsonl",
                                "--shard", std::to_string(k) + "/3", "-o", out});
    CHECK(r.code <= 1);
    files.push_back(out);
  }
  auto single = test::run_vdsokit({"check", test::fixtures(), "--target", "6.12.117+deb13-cloud-amd64", "--format", "json"});
  std::vector<std::string> args{"report", "--format", "json"};
  args.insert(args.end(), files.begin(), files.end());
  auto rep = test::run_vdsokit(args);
  CHECK(rep.code == single.code);
  auto j = nlohmann::json::parse(rep.out);
  auto s = nlohmann::json::parse(single.out);
  CHECK(j["summary"]["units"] == s["image_sets"].size());
  std::vector<nlohmann::json> merged_sets, single_sets(s["image_sets"].begin(), s["image_sets"].end());
  for (const auto& u : j["units"])
    for (const auto& set : u["detail"]) merged_sets.push_back(set);
  CHECK(merged_sets == single_sets);   // the same per-set results, in the same order
}

TEST_CASE("identify --format jsonl over 2 shards: report gives the single run's results, in order, and its statuses") {
  // Every fixture, plus one real corpus vDSO file as its own unit.
  test::TempDir tmp;
  std::string so = test::source("corpora/kernels/6.1.0-47-amd64/x86_64.so");
  std::vector<std::string> files;
  for (int k = 0; k < 2; ++k) {
    std::string out = tmp / ("i" + std::to_string(k) + ".jsonl");
    auto r = test::run_vdsokit({"identify", test::fixtures(), so, "--format", "jsonl", "--shard", std::to_string(k) + "/2", "-o", out});
    CHECK(r.code == 0);
    files.push_back(out);
  }
  auto single = test::run_vdsokit({"identify", test::fixtures(), so, "--format", "json"});
  REQUIRE(single.code == 0);
  std::vector<std::string> args{"report", "--format", "json"};
  args.insert(args.end(), files.begin(), files.end());
  auto rep = test::run_vdsokit(args);
  CHECK(rep.code == 0);
  auto j = nlohmann::json::parse(rep.out);
  auto s = nlohmann::json::parse(single.out);
  CHECK(j["summary"]["missing"].empty());
  std::vector<nlohmann::json> merged, expected(s["results"].begin(), s["results"].end());
  std::map<std::string, int> statuses;
  for (const auto& u : j["units"]) {
    ++statuses[u["status"].get<std::string>()];
    for (const auto& id : u["detail"]) merged.push_back(id);
  }
  CHECK(merged == expected);
  // The corpus file is a catalog build; the xk-7.2.13 fixture's vDSO is one too; the host fixtures come
  // from whatever kernel made them (exact or not, but never an error).
  CHECK(j["units"].back()["status"] == "exact");
  CHECK(statuses["exact"] >= 2);
  CHECK(statuses.count("error") == 0);
}

TEST_CASE("inspect --format jsonl: a unit that cannot be read is an error record and the others still come") {
  test::TempDir tmp;
  fs::create_directories(tmp / "empty");
  auto r = test::run_vdsokit({"inspect", test::fixture("host-sleep/images"), tmp / "empty",
                              test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst"), "--format", "jsonl", "-o", tmp / "i.jsonl"});
  CHECK(r.code == 3);
  CHECK(r.err.find("expected a CRIU image set, found a directory without one") != std::string::npos);
  auto rep = test::run_vdsokit({"report", tmp / "i.jsonl", "--format", "json"});
  CHECK(rep.code == 3);
  auto j = nlohmann::json::parse(rep.out);
  REQUIRE(j["units"].size() == 3);
  CHECK(j["units"][0]["status"] == "ok");
  CHECK(j["units"][1]["status"] == "error");
  CHECK(j["units"][2]["status"] == "ok");
  CHECK(j["units"][2]["detail"][0]["input"].get<std::string>().ends_with("host-vdsoloop.tar.zst:checkpoint"));
  CHECK(j["summary"]["missing"].empty());
}
