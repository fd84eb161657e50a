// vdsokit rewrite end to end: exit codes, progress, JSON, dry run, and the check/inspect views after a
// vvar retarget (on copies of the real fixtures).
#include <doctest/doctest.h>

#include <filesystem>

#include "support/fixtures.h"

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
