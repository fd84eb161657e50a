// `vdsokit selftest` on the running kernel (ctest label `live`): it moves this machine's real vDSO
// in child processes, so it needs Linux x86 with [vdso]; every case must pass.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "support/fixtures.h"

using namespace vk;

TEST_CASE("selftest: every case passes on the live kernel, the table covers the whole corpus") {
  auto r = test::run_vdsokit({"selftest", "--format", "json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["schema"] == "vdsokit.selftest/1");
  CHECK(j["summary"]["fail"] == 0);

  size_t corpus = 0;
  for (const auto& e : std::filesystem::directory_iterator(test::source("corpora/kernels")))
    corpus += std::filesystem::exists(e.path() / "x86_64.so");
  REQUIRE(corpus >= 23);

  bool i386 = j["host"]["i386"] == "available";
  std::set<std::string> builds;
  for (const auto& row : j["rows"]) {
    std::string build = row["build"], abi = row["abi"];
    const auto& c = row["cases"];
    INFO(build << " " << abi << ": " << c.dump(1));
    if (abi == "i386" && !i386) {
      CHECK(c["proxy"]["status"] == "skip");
      CHECK(c["proxy"]["detail"].get<std::string>().find("gcc-multilib") != std::string::npos);
      continue;
    }
    if (build == "host") CHECK(c["inplace"]["status"] == "pass");
    else CHECK(c["inplace"]["status"] == "n/a");
    CHECK(c["proxy"]["status"] == "pass");
    CHECK(c["mark"]["status"] == "pass");
    CHECK(c["proxy"]["apply_ns"].get<int64_t>() > 0);
    CHECK(row["trampolines"].get<int>() >= 4);
    if (abi == "x86_64") builds.insert(build);
    // Every call went through the old entry points and agreed with the syscalls.
    int calls = 0;
    for (const auto& l : c["proxy"]["log"]) {
      std::string s = l;
      if (s.rfind("call ", 0) != 0) continue;
      ++calls;
      CHECK(s.find(" fail ") == std::string::npos);
    }
    CHECK(calls == row["trampolines"].get<int>());
    // The mark case saw what CRIU's next dump does: one VDSO (the proxy), the runtime pair dropped.
    const auto& nd = c["mark"]["next_dump"];
    CHECK(nd["mark"]["version"] == 3);
    int dropped = 0;
    for (const auto& v : nd["vmas"]) dropped += v["status"] == "dropped";
    CHECK(dropped == 2);
    // Functions the live kernel lacks are listed, never called.
    for (const auto& u : row["unresolved"])
      for (const auto& l : c["proxy"]["log"])
        CHECK(l.get<std::string>().find("call " + u.get<std::string>() + " ") == std::string::npos);
    if (build.rfind("7.2.", 0) == 0 && abi == "x86_64") {
      auto un = row["unresolved"].dump();
      CHECK(un.find("__vdso_futex_robust_list64_try_unlock") != std::string::npos);
      CHECK(un.find("__vdso_futex_robust_list32_try_unlock") != std::string::npos);
    }
    if (abi == "i386") CHECK(row["skipped"].dump().find("__kernel_vsyscall") != std::string::npos);
  }
  CHECK(builds.size() == corpus + 1);   // the host and every corpus build
}

TEST_CASE("selftest: the text table, one build") {
  auto r = test::run_vdsokit({"selftest", "--only", "5.10.0-32-amd64"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("build                        abi     inplace  proxy  mark   tramps") != std::string::npos);
  CHECK(r.out.find("5.10.0-32-amd64              x86_64  n/a      pass   pass   5      -\n") != std::string::npos);
  CHECK(r.out.find(" 0 fail") != std::string::npos);
  CHECK(r.out.find("\nfailures:") == std::string::npos);
}

TEST_CASE("selftest: --only that matches no build is a usage error, not a green run") {
  auto r = test::run_vdsokit({"selftest", "--only", "no-such-build"});
  CHECK(r.code == 2);
  CHECK(r.out.find("pass") == std::string::npos);
  CHECK(r.err.rfind("vdsokit: ", 0) == 0);
  CHECK(r.err.find("no-such-build") != std::string::npos);
}

TEST_CASE("selftest: the i386 helper exists whenever the compiler links -m32 now (a build-time decision)") {
  // gcc-multilib may arrive after configure (make test installs it after the first build): the build
  // must notice. Probe the compiler the way the build does and require the helper when it links.
  test::TempDir tmp;
  std::string probe = "printf 'int main(void) { return 0; }\\n' > '" + (tmp / "p.c") + "' && cc -m32 '" +
                      (tmp / "p.c") + "' -o '" + (tmp / "p") + "' 2>/dev/null";
  bool m32 = std::system(probe.c_str()) == 0;
  auto helper = std::filesystem::path(VK_BINARY).parent_path() / "vdsokit-selftest32";
  MESSAGE("cc -m32 links: " << m32 << ", helper: " << std::filesystem::exists(helper));
  CHECK(std::filesystem::exists(helper) == m32);
  if (m32) {
    auto r = test::run_vdsokit({"selftest", "--only", "5.10.0-32-amd64", "--format", "json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["host"]["i386"] == "available");
  }
}
