// check, diff and matrix end to end: exit codes, and every output format parsed back.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "support/fixtures.h"

using namespace vk;

namespace {

// JUnit is checked with Python's XML parser (python3 is a test dependency in the Makefile).
nlohmann::json junit_summary(const std::string& xml_path) {
  test::TempDir tmp;
  std::string script =
      "import json,sys,xml.etree.ElementTree as E\n"
      "r=E.parse(sys.argv[1]).getroot()\n"
      "cases=[{'name':c.get('name'),'failure':(c.find('failure').get('type') if c.find('failure') is not None else None)}"
      " for c in r.iter('testcase')]\n"
      "print(json.dumps({'root':r.tag,'tests':int(r.get('tests')),'failures':int(r.get('failures')),'cases':cases}))\n";
  test::write_bytes(tmp / "p.py", std::vector<uint8_t>(script.begin(), script.end()));
  std::string cmd = "python3 " + tmp / "p.py" + " '" + xml_path + "' > " + tmp / "out";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return nlohmann::json::parse(test::read_text(tmp / "out"));
}

}  // namespace

TEST_CASE("check: exit 0 in place, 1 with a lossy proxy, 4 blocked, JSON and YAML parse back") {
  // Catalog targets, not `host`: the verdicts must not depend on the build of Linux running the tests.
  auto inplace = test::run_vdsokit({"check", test::fixture("xk-7.2.13+deb14-amd64"), "--target", "7.2.13+deb14-amd64"});
  CHECK(inplace.code == 0);
  CHECK(inplace.out.find("inplace") != std::string::npos);

  auto proxy = test::run_vdsokit({"check", "--format", "json", test::fixture("xk-5.10.0-46-amd64"), "--target", "6.12.95+deb13-amd64"});
  CHECK(proxy.code == 1);
  auto j = nlohmann::json::parse(proxy.out);
  CHECK(j["schema"] == "vdsokit.check/1");
  CHECK(j["exit_code"] == 1);
  const auto& p = j["image_sets"][0]["processes"][0];
  CHECK(p["outcome"]["verdict"] == "proxy");
  CHECK(p["outcome"]["clock_getres_ok"] == false);
  CHECK(p["source"]["kind"].is_string());

  auto blocked = test::run_vdsokit({"check", "--format", "yaml", "--restorer", "criu-4.0", test::fixture("host-vdsoloop/images"),
                                    "--target", "7.2.13+deb14-amd64"});
  CHECK(blocked.code == 4);
  auto y = YAML::Load(blocked.out);
  CHECK(y["image_sets"][0]["processes"][0]["outcome"]["verdict"].as<std::string>() == "blocked");

  auto runtime = test::run_vdsokit({"check", "--restorer", "vdsokit-runtime", test::fixture("xk-5.10.0-46-amd64"), "--target",
                                    "6.12.95+deb13-amd64"});
  CHECK(runtime.code == 0);
}

TEST_CASE("check --format junit is well-formed XML with one case per process") {
  test::TempDir tmp;
  auto r = test::run_vdsokit({"check", "--format", "junit", "-o", tmp / "junit.xml", test::fixture("xk-7.2.13+deb14-amd64"),
                              test::fixture("xk-6.18.44-fc-v669"), "--target", "7.2.13+deb14-amd64"});
  CHECK(r.code == 1);
  auto s = junit_summary(tmp / "junit.xml");
  CHECK(s["root"] == "testsuites");
  CHECK(s["tests"] == 2);
  CHECK(s["failures"] == 1);
  CHECK(s["cases"][0]["failure"].is_null());
  CHECK(s["cases"][1]["failure"] == "findings");
}

TEST_CASE("check reads archives in place and rejects bad input with exit 3") {
  auto r = test::run_vdsokit({"check", test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz"), "--target", "6.12.95+deb13-amd64"});
  CHECK(r.code == 1);   // read and judged: a proxy with VK003 (not 3, bad input)
  CHECK(r.out.find("process 7660 (vdsoloop)") != std::string::npos);
  CHECK(test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", "no-such-kernel"}).code == 2);
  CHECK(test::run_vdsokit({"check", test::fixture("host-vdsoloop/images")}).code == 2);
  CHECK(test::run_vdsokit({"check", "/nonexistent", "--target", "host"}).code == 3);
}

TEST_CASE("diff: catalog ids, an image set and a vDSO file") {
  auto r = test::run_vdsokit({"diff", "--format", "json", "5.10.0-32-amd64", "6.1.0-47-amd64"});
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["outcomes"].size() == 5);
  bool moved = false;
  for (const auto& s : j["symbols"]) moved |= s["change"] == "moved";
  CHECK(moved);
  auto img = test::run_vdsokit({"diff", test::fixture("xk-7.2.13+deb14-amd64/images"), test::source("corpora/kernels/6.1.0-47-amd64/x86_64.so")});
  CHECK(img.code == 0);
  CHECK(img.out.find("removed __vdso_getrandom") != std::string::npos);
  CHECK(test::run_vdsokit({"diff", "nothing-here", "6.1.0-47-amd64"}).code == 2);
}

TEST_CASE("matrix: md, json, html and svg") {
  auto md = test::run_vdsokit({"matrix", "--abi", "x86_64"});
  CHECK(md.code == 0);
  CHECK(md.out.find("## x86_64, criu-4.2") != std::string::npos);
  auto js = test::run_vdsokit({"matrix", "--abi", "i386", "--restorer", "all", "--format", "json"});
  REQUIRE(js.code == 0);
  auto j = nlohmann::json::parse(js.out);
  CHECK(j["matrices"].size() == 5);
  for (const auto& m : j["matrices"]) CHECK(m["cells"].size() == m["ids"].size() * m["ids"].size());
  test::TempDir tmp;
  CHECK(test::run_vdsokit({"matrix", "--format", "svg", "-o", tmp / "m.svg"}).code == 0);
  CHECK(test::run_vdsokit({"matrix", "--format", "html", "-o", tmp / "m.html"}).code == 0);
  std::string cmd = "python3 -c \"import xml.etree.ElementTree as E; E.parse('" + tmp / "m.svg" + "')\"";
  CHECK(std::system(cmd.c_str()) == 0);
  auto html = test::read_text(tmp / "m.html");
  CHECK(html.find("<td class=\"c\" style=\"background:") != std::string::npos);
  CHECK(html.find(" title=\"") != std::string::npos);   // the reason on hover
  CHECK(test::run_vdsokit({"matrix", "--restorer", "criu-9"}).code == 2);
}
