// The vdsokit binary end to end: exit codes, output formats parsed back, one-line errors.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "support/fixtures.h"

using namespace vk;

TEST_CASE("inspect: text, json and yaml on a real checkpoint") {
  auto dir = test::fixture("host-vdsoloop/images");
  auto text = test::run_vdsokit({"inspect", dir});
  CHECK(text.code == 0);
  CHECK(text.out.find("0x7ff7773c9000-0x7ff7773cb000") != std::string::npos);
  CHECK(text.out.find("4b15c3420aa259678b291cf305c8f935ec0893e74973620272f98a3f246cce64") != std::string::npos);

  auto json = test::run_vdsokit({"inspect", "--format", "json", dir});
  REQUIRE(json.code == 0);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["schema"] == "vdsokit.inspect/1");
  const auto& p = j["image_sets"][0]["processes"][0];
  CHECK(p["pid"] == 7660);
  CHECK(p["vdso_vmas"][0]["start"] == "0x7ff7773c9000");
  CHECK(p["auxv"]["AT_SYSINFO_EHDR"] == "0x7ff7773c9000");
  CHECK(p["vdso"]["symbols"].size() == 12);
  CHECK(p["vdso_pagemap"][0]["pages_offset"] == "0x11000");

  auto yaml = test::run_vdsokit({"inspect", "--format", "yaml", dir});
  REQUIRE(yaml.code == 0);
  auto y = YAML::Load(yaml.out);
  CHECK(y["image_sets"][0]["processes"][0]["vdso_vmas"][0]["start"].as<std::string>() == "0x7ff7773c9000");
  CHECK(y["image_sets"][0]["processes"][0]["vdso"]["symbols"].size() == 12);
}

TEST_CASE("inspect reads archives in place and walks folders of image sets") {
  auto r = test::run_vdsokit({"inspect", "--format", "json", test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst")});
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["image_sets"][0]["processes"][0]["sha256_all"] == "4b15c3420aa259678b291cf305c8f935ec0893e74973620272f98a3f246cce64");
  auto all = test::run_vdsokit({"inspect", "--format", "json", test::fixtures()});
  REQUIRE(all.code == 0);
  CHECK(nlohmann::json::parse(all.out)["image_sets"].size() >= 9);
}

TEST_CASE("exit codes: usage 2, bad input 3 with one error line naming file and offset") {
  CHECK(test::run_vdsokit({}).code == 2);
  CHECK(test::run_vdsokit({"inspect"}).code == 2);
  CHECK(test::run_vdsokit({"inspect", "--format", "xml", test::fixture("host-vdsoloop/images")}).code == 2);
  CHECK(test::run_vdsokit({"--help"}).code == 0);

  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "set");
  std::filesystem::resize_file(tmp / "set/mm-7660.img", 500);
  auto r = test::run_vdsokit({"inspect", "-o", tmp / "report.txt", tmp / "set"});
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  CHECK(r.err == "vdsokit: '" + tmp / "set/mm-7660.img" + "': offset 0x8: entry length 958 past end of file (488 bytes left)\n");
  CHECK(!std::filesystem::exists(tmp / "report.txt"));   // no partial output file
  auto missing = test::run_vdsokit({"inspect", tmp / "nothing"});
  CHECK(missing.code == 3);
}

TEST_CASE("each command's tree is built when the command line names it (start-up, cli/main.cpp)") {
  // vdsokit builds only the named command's options (issue 11): every command --help lists must be
  // found that way, so an unknown option is reported by that command, not as an unknown command.
  auto help = test::run_vdsokit({"--help"});
  REQUIRE(help.code == 0);
  auto at = help.out.find("Subcommands:\n");
  REQUIRE(at != std::string::npos);
  std::vector<std::string> names;
  for (size_t p = help.out.find('\n', at) + 1; p < help.out.size();) {
    size_t eol = help.out.find('\n', p);
    std::string line = help.out.substr(p, eol - p);
    p = eol == std::string::npos ? help.out.size() : eol + 1;
    if (line.size() < 3 || line[0] != ' ' || line[2] == ' ') continue;
    names.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  CHECK(names.size() >= 18);
  for (const auto& n : names) {
    CAPTURE(n);
    auto r = test::run_vdsokit({n, "--no-such-option-anywhere"});
    CHECK(r.code == 2);
    CHECK(r.err.rfind("vdsokit: " + n, 0) == 0);
    CHECK(r.err.find("unknown command") == std::string::npos);
  }
  auto v = test::run_vdsokit({"--version"});
  CHECK(v.code == 0);
  CHECK(v.out == "vdsokit 0.1.0\n");
  auto typo = test::run_vdsokit({"chek"});
  CHECK(typo.code == 2);
  CHECK(typo.err.find("did you mean 'check'") != std::string::npos);
}

TEST_CASE("completion and man pages cover every subcommand") {
  auto bash = test::run_vdsokit({"completion", "bash"});
  REQUIRE(bash.code == 0);
  for (const char* sub : {"inspect", "check", "diff", "matrix", "decode", "encode", "catalog", "identify"})
    CHECK(bash.out.find(std::string(" ") + sub) != std::string::npos);
  CHECK(bash.out.find("--restorer") != std::string::npos);
  test::TempDir tmp;
  test::write_bytes(tmp / "c.sh", std::vector<uint8_t>(bash.out.begin(), bash.out.end()));
  CHECK(std::system(("bash -n " + tmp / "c.sh").c_str()) == 0);
  auto man = test::run_vdsokit({"man", tmp / "man"});
  REQUIRE(man.code == 0);
  for (const char* page : {"vdsokit.1", "vdsokit-inspect.1", "vdsokit-check.1", "vdsokit-catalog-list.1"}) {
    auto text = test::read_text(tmp / (std::string("man/") + page));
    CHECK(text.rfind(".TH VDSOKIT", 0) == 0);
    CHECK(text.find(".SH OPTIONS") != std::string::npos);
  }
  CHECK(test::read_text(tmp / "man/vdsokit-check.1").find("\\-\\-target") != std::string::npos);
}
