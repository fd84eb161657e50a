// The operator's first hour (issue 10): batch checks that survive bad sets, folders of archives with
// their container metadata, --pid, remedies in every format, explain, weak identification, target
// lookup, one-line parser errors, input kinds, diff output, wording, JUnit, man pages, completion.
#include <doctest/doctest.h>

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

// A catalog target every fixture is judged against the same way on any machine (not `host`).
const char* kTarget = "6.12.95+deb13-amd64";

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Runs a Python snippet on `path` and returns its stdout parsed as JSON (python3 is a test dependency).
nlohmann::json py(const std::string& code, const std::string& path) {
  test::TempDir tmp;
  test::write_bytes(tmp / "p.py", bytes_of(code));
  std::string cmd = "python3 '" + tmp / "p.py" + "' '" + path + "' > '" + tmp / "out" + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return nlohmann::json::parse(test::read_text(tmp / "out"));
}

// A folder as Kubernetes or a pile of Podman exports leaves it: a good set, a set whose mm image is
// cut short (synthetic damage of a real set), the real Podman archive, and a ".tar" that is text.
void make_batch(const test::TempDir& tmp) {
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "ckpt/good");
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "ckpt/bad");
  fs::permissions(tmp / "ckpt/bad/mm-7660.img", fs::perms::owner_write, fs::perm_options::add);
  fs::resize_file(tmp / "ckpt/bad/mm-7660.img", 40);
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz"), tmp / "ckpt/podman-export.tar.gz");
  test::write_bytes(tmp / "ckpt/notes.tar", bytes_of("not an archive, a text file\n"));
}

}  // namespace

TEST_CASE("check of a folder: bad sets are errors in the report, the others are checked, exit is the worst") {
  test::TempDir tmp;
  make_batch(tmp);

  auto j = test::run_vdsokit({"check", tmp / "ckpt", "--target", kTarget, "--format", "json"});
  INFO(j.err);
  CHECK(j.code == 3);   // bad input is the worst here (the good sets are clean or findings)
  auto doc = nlohmann::json::parse(j.out);
  const auto& sets = doc["image_sets"];
  REQUIRE(sets.size() == 4);
  size_t errors = 0, checked = 0;
  for (const auto& s : sets) {
    if (s["error"].is_null()) {
      ++checked;
      CHECK(s["processes"].size() == 1);
    } else {
      ++errors;
      CHECK(s["error"]["exit_code"] == 3);
      CHECK(!s["error"]["message"].get<std::string>().empty());
    }
  }
  CHECK(checked == 2);
  CHECK(errors == 2);
  CHECK(doc["summary"]["image_sets"] == 4);
  CHECK(doc["summary"]["errors"] == 2);
  CHECK(doc["summary"]["processes"] == 2);
  CHECK(doc["summary"]["exit_code"] == 3);
  CHECK(doc["exit_code"] == 3);
  // The errors are also one stderr line each.
  CHECK(std::count(j.err.begin(), j.err.end(), '\n') == 2);

  // Text: every set, then the totals line.
  auto t = test::run_vdsokit({"check", tmp / "ckpt", "--target", kTarget});
  CHECK(t.code == 3);
  CHECK(t.out.find("  error: ") != std::string::npos);
  CHECK(std::regex_search(t.out, std::regex("\ntotal: 4 image sets, 2 processes: \\d+ inplace, \\d+ proxy, 0 retargetable, 0 blocked; 2 errors; exit 3\n")));

  // YAML carries the same summary.
  auto y = test::run_vdsokit({"check", tmp / "ckpt", "--target", kTarget, "--format", "yaml"});
  CHECK(YAML::Load(y.out)["summary"]["errors"].as<int>() == 2);

  // JUnit with -o: written despite the bad sets, one error case per bad set.
  auto ju = test::run_vdsokit({"check", tmp / "ckpt", "--target", kTarget, "--format", "junit", "-o", tmp / "junit.xml"});
  CHECK(ju.code == 3);
  auto x = py("import json,sys,xml.etree.ElementTree as E\n"
              "r=E.parse(sys.argv[1]).getroot()\n"
              "print(json.dumps({'tests':r.get('tests'),'errors':r.get('errors'),'failures':r.get('failures'),"
              "'skipped':r.get('skipped'),'time':r.get('time'),"
              "'suites':[{k:s.get(k) for k in ('name','timestamp','time','errors','skipped')} for s in r.iter('testsuite')],"
              "'cases':[{'classname':c.get('classname'),'time':c.get('time'),"
              "'error':(c.find('error').get('message') if c.find('error') is not None else None)} for c in r.iter('testcase')]}))\n",
              tmp / "junit.xml");
  CHECK(x["tests"] == "4");
  CHECK(x["errors"] == "2");
  CHECK(x["skipped"] == "0");
  CHECK(!x["time"].is_null());
  size_t error_cases = 0;
  for (const auto& c : x["cases"]) {
    CHECK(c["classname"].get<std::string>().find('.') == std::string::npos);
    CHECK(std::regex_match(c["time"].get<std::string>(), std::regex("\\d+\\.\\d{3}")));
    error_cases += !c["error"].is_null();
  }
  CHECK(error_cases == 2);
  for (const auto& s : x["suites"]) {
    CHECK(std::regex_match(s["timestamp"].get<std::string>(), std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")));
    CHECK(!s["time"].is_null());
    CHECK(!s["errors"].is_null());
  }
}

TEST_CASE("check of a folder of Podman/CRI-O archives shows the container next to each set") {
  test::TempDir tmp;
  // The real Podman-layout fixture, and a copy whose spec.dump names the engine (synthetic metadata,
  // like the fixture's own: labelled so in the file) packed as a CRI-O export would be.
  fs::create_directories(tmp / "kubelet");
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar"), tmp / "kubelet/podman.tar");
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "crio/checkpoint");
  test::write_bytes(tmp / "crio/config.dump",
                    bytes_of("{\"x-vkfix-synthetic\": \"SYNTHETIC test metadata\", \"id\": \"c0ffee\", \"name\": \"counter\", "
                             "\"rootfsImageName\": \"quay.io/example/counter:latest\", \"createdTime\": \"2026-11-29T10:00:00Z\"}"));
  test::write_bytes(tmp / "crio/spec.dump",
                    bytes_of("{\"x-vkfix-synthetic\": \"SYNTHETIC\", \"annotations\": {\"io.kubernetes.cri-o.ContainerID\": \"c0ffee\"}}"));
  std::string tar = "tar -C '" + tmp / "crio" + "' -cf '" + tmp / "kubelet/checkpoint-counter_default.tar" + "' checkpoint config.dump spec.dump";
  REQUIRE(std::system(tar.c_str()) == 0);

  auto r = test::run_vdsokit({"check", tmp / "kubelet", "--target", kTarget, "--format", "json"});
  INFO(r.err);
  REQUIRE(r.code <= 1);
  auto sets = nlohmann::json::parse(r.out)["image_sets"];
  REQUIRE(sets.size() == 2);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : sets) {
    REQUIRE(s["container"].is_object());
    by_name[s["container"]["name"]] = s["container"];
  }
  REQUIRE(by_name.count("host-vdsoloop"));
  CHECK(by_name["host-vdsoloop"]["created"] == "2026-11-27T00:00:00Z");
  CHECK(by_name["host-vdsoloop"]["engine"] == "unknown");   // the fixture's spec.dump has no annotations
  REQUIRE(by_name.count("counter"));
  CHECK(by_name["counter"]["engine"] == "CRI-O");
  CHECK(by_name["counter"]["image"] == "quay.io/example/counter:latest");

  auto t = test::run_vdsokit({"check", tmp / "kubelet", "--target", kTarget});
  CHECK(t.out.find("container counter, image quay.io/example/counter:latest, engine CRI-O, created 2026-11-29T10:00:00Z") !=
        std::string::npos);
  // The unpacked layout (checkpoint/ beside config.dump) is read the same way.
  auto u = test::run_vdsokit({"check", tmp / "crio", "--target", kTarget});
  CHECK(u.out.find("container counter,") != std::string::npos);
}

TEST_CASE("--pid selects processes for check and inspect") {
  auto c = test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", kTarget, "--pid", "7660", "--format", "json"});
  INFO(c.err);
  REQUIRE(c.code <= 1);
  auto j = nlohmann::json::parse(c.out);
  REQUIRE(j["image_sets"][0]["processes"].size() == 1);
  CHECK(j["image_sets"][0]["processes"][0]["pid"] == 7660);
  auto none = test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", kTarget, "--pid", "1"});
  CHECK(none.code == 2);
  CHECK(none.err.find("--pid") != std::string::npos);
  auto i = test::run_vdsokit({"inspect", test::fixture("host-vdsoloop/images"), "--pid", "7660", "--format", "json"});
  REQUIRE(i.code == 0);
  CHECK(nlohmann::json::parse(i.out)["image_sets"][0]["processes"].size() == 1);
  CHECK(test::run_vdsokit({"inspect", test::fixture("host-vdsoloop/images"), "--pid", "2"}).code == 2);
}

TEST_CASE("every warning and error names its fix, in text, JSON, YAML and JUnit; blocked says no restore runs") {
  std::string in = test::fixture("xk-5.10.0-46-amd64");
  auto t = test::run_vdsokit({"check", in, "--target", kTarget});
  INFO(t.out);
  CHECK(t.code == 1);
  CHECK(t.out.find("VK003 warning: __vdso_clock_getres") != std::string::npos);
  CHECK(t.out.find("      fix: vdsokit rewrite exports --restorer criu-4.2 " + in) != std::string::npos);

  auto j = nlohmann::json::parse(test::run_vdsokit({"check", in, "--target", kTarget, "--format", "json"}).out);
  for (const auto& f : j["image_sets"][0]["processes"][0]["outcome"]["findings"]) {
    if (f["severity"] == "info") CHECK(f["remedy"].is_null());
    else CHECK(f["remedy"].get<std::string>().find("vdsokit rewrite exports") != std::string::npos);
  }
  auto y = YAML::Load(test::run_vdsokit({"check", in, "--target", kTarget, "--format", "yaml"}).out);
  bool yaml_fix = false;
  for (const auto& f : y["image_sets"][0]["processes"][0]["outcome"]["findings"])
    yaml_fix |= f["remedy"].IsScalar() && f["remedy"].as<std::string>().find("rewrite exports") != std::string::npos;
  CHECK(yaml_fix);
  test::TempDir tmp;
  test::run_vdsokit({"check", in, "--target", kTarget, "--format", "junit", "-o", tmp / "j.xml"});
  auto x = py("import json,sys,xml.etree.ElementTree as E\n"
              "r=E.parse(sys.argv[1]).getroot()\n"
              "f=[c.find('failure') for c in r.iter('testcase') if c.find('failure') is not None]\n"
              "print(json.dumps({'message':f[0].get('message'),'body':f[0].text}))\n",
              tmp / "j.xml");
  // The failing function and what a call does, in the message a CI summary shows.
  CHECK(x["message"].get<std::string>().find("__vdso_clock_getres") != std::string::npos);
  CHECK(x["message"].get<std::string>().find("zero resolution") != std::string::npos);
  CHECK(x["body"].get<std::string>().find("fix: vdsokit rewrite exports") != std::string::npos);

  // Each kind of fix, from real inputs: retargetable -> rewrite vvar; a 4.2 pagemap for CRIU 4.1 ->
  // rewrite pagemap; a 6.13+ target for CRIU 4.0 -> the restorer version.
  auto vvar = test::run_vdsokit({"check", test::fixture("xk-6.12.117+deb13-amd64"), "--target", "6.16.12+deb13-cloud-amd64"});
  CHECK(vvar.out.find("fix: vdsokit rewrite vvar --target 6.16.12+deb13-cloud-amd64 ") != std::string::npos);
  auto pm = test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", kTarget, "--restorer", "criu-4.1"});
  CHECK(pm.code == 4);
  CHECK(pm.out.find("fix: vdsokit rewrite pagemap --to 4.1 ") != std::string::npos);
  CHECK(pm.out.find("blocked: no restore runs") != std::string::npos);
  CHECK(pm.out.find("clocks WRONG") == std::string::npos);
  auto old = test::run_vdsokit({"check", test::fixture("host-pagemap-legacy/images"), "--target", "7.2.13+deb14-amd64",
                                "--restorer", "criu-4.0"});
  CHECK(old.code == 4);
  CHECK(old.out.find("fix: restore with CRIU >= 4.1") != std::string::npos);
  auto bj = nlohmann::json::parse(test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", kTarget,
                                                     "--restorer", "criu-4.1", "--format", "json"}).out);
  const auto& bo = bj["image_sets"][0]["processes"][0]["outcome"];
  CHECK(bo["restore_runs"] == false);
  CHECK(bo["clocks_ok"].is_null());

  // Every warning/error any fixture gets under any restorer on old and new catalog targets carries a
  // remedy (one run per restorer and target, every fixture at once).
  std::vector<std::string> fixtures;
  for (const char* fx : {"xk-5.10.0-46-amd64", "xk-6.12.117+deb13-amd64", "xk-7.2.13+deb14-amd64", "host-proxy-second-gen/images",
                         "host-pagemap-legacy/images", "host-incremental/dump"})
    fixtures.push_back(test::fixture(fx));
  size_t fixes = 0;
  for (const char* r : {"criu-4.2", "criu-4.1", "criu-4.0", "criu-3.17", "vdsokit-runtime"})
    for (const char* target : {"5.10.0-32-amd64", "6.19.14+deb13-amd64", "7.2.13+deb14-amd64"}) {
      std::vector<std::string> args{"check"};
      args.insert(args.end(), fixtures.begin(), fixtures.end());
      for (const char* a : {"--target", target, "--restorer", r, "--format", "json"}) args.push_back(a);
      auto out = test::run_vdsokit(args);
      REQUIRE_MESSAGE(out.code != 2, out.err);
      auto doc = nlohmann::json::parse(out.out);
      for (const auto& s : doc["image_sets"])
        for (const auto& p : s["processes"])
          for (const auto& f : p["outcome"]["findings"]) {
            CAPTURE(r);
            CAPTURE(target);
            CAPTURE(f.dump());
            CHECK((f["severity"] == "info") == f["remedy"].is_null());
            fixes += !f["remedy"].is_null();
          }
    }
  CHECK(fixes > 20);
}

TEST_CASE("explain prints a finding's documentation and fix from docs/findings.md") {
  auto r = test::run_vdsokit({"explain", "VK003"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("VK003 (warning)\n", 0) == 0);
  CHECK(r.out.find("clock_getres") != std::string::npos);
  CHECK(r.out.find("fix: vdsokit rewrite exports") != std::string::npos);
  CHECK(r.out.find("§") == std::string::npos);
  CHECK(test::run_vdsokit({"explain", "vk6"}).out.rfind("VK006 (warning)", 0) == 0);
  auto bad = test::run_vdsokit({"explain", "VK999"});
  CHECK(bad.code == 2);
  // Every code in the table is explained; every warning and error has a remedy row.
  auto all = test::run_vdsokit({"explain", "all"});
  REQUIRE(all.code == 0);
  std::string doc = test::read_text(test::source("docs/findings.md"));
  std::smatch m;
  std::string rest = doc;
  size_t codes = 0;
  while (std::regex_search(rest, m, std::regex("\n\\| (VK\\d{3}) \\| (info|warning|error) \\|"))) {
    ++codes;
    std::string code = m[1], sev = m[2];
    CAPTURE(code);
    CHECK(all.out.find(code + " (" + sev + ")") != std::string::npos);
    auto one = test::run_vdsokit({"explain", code});
    CHECK((sev == "info") == (one.out.find("  fix: ") == std::string::npos));
    rest = m.suffix();
  }
  CHECK(codes >= 18);
}

TEST_CASE("a weak identification is shown as an unknown build, not a source kernel") {
  // host-vdsoloop was dumped on a 6.18.44 build the catalog does not hold: the closest Debian build
  // shares almost no (name, offset) pairs.
  auto r = test::run_vdsokit({"check", test::fixture("host-vdsoloop/images"), "--target", kTarget});
  INFO(r.out);
  CHECK(r.out.find("source kernel: unknown build, closest ") != std::string::npos);
  CHECK(std::regex_search(r.out, std::regex("closest \\S+ \\(\\d+/\\d+ symbols match, score 0\\.\\d\\d\\)")));
  auto id = test::run_vdsokit({"identify", test::fixture("host-vdsoloop/images"), "--format", "json"});
  auto j = nlohmann::json::parse(id.out)["results"][0];
  CHECK(j["kind"] == "nearest");
  CHECK(j["weak"] == true);
  // A strong nearest match stays "nearest".
  auto strong = nlohmann::json::parse(
      test::run_vdsokit({"identify", test::fixture("xk-5.10.0-46-amd64/images"), "--format", "json"}).out)["results"][0];
  CHECK(strong["kind"] == "nearest");
  CHECK(strong["weak"] == false);
}

TEST_CASE("plan and check agree about functions that read no vvar (sgx, futex helpers)") {
  // 7.2's futex helpers are missing on 6.18: check says VK008 (reads no vvar data, keeps working) and
  // plan must not call them stale-vvar readers. The 6.18 target is the catalog build with the maps
  // lines of that kernel's layout (synthetic maps text: 4 vvar + 2 vvar_vclock + 2 vdso pages).
  test::TempDir tmp;
  std::string maps = "7f30f69f5000-7f30f69f9000 r--p 00000000 00:00 0 [vvar]\n"
                     "7f30f69f9000-7f30f69fb000 r--p 00000000 00:00 0 [vvar_vclock]\n"
                     "7f30f69fb000-7f30f69fd000 r-xp 00000000 00:00 0 [vdso]\n";
  test::write_bytes(tmp / "maps", bytes_of(maps));
  auto c = test::run_vdsokit({"diff", "7.2.13+deb14-amd64", "6.18.12+deb13-cloud-amd64", "--format", "json"});
  REQUIRE(c.code == 0);
  auto d = nlohmann::json::parse(c.out);
  std::set<std::string> no_vvar;
  for (const auto& o : d["outcomes"])
    for (const auto& f : o["findings"])
      if (f["code"] == "VK008") {
        std::string m = f["message"];
        no_vvar.insert(m.substr(0, m.find(' ')));
      }
  REQUIRE(no_vvar.count("__vdso_futex_robust_list64_try_unlock"));
  auto p = test::run_vdsokit({"plan", "--vdso", test::source("corpora/kernels/7.2.13+deb14-amd64/x86_64.so"), "--proxy-at",
                              "0x7ffff7fc1000", "--target", test::source("corpora/kernels/6.18.12+deb13-cloud-amd64/x86_64.so"),
                              "--target-maps", tmp / "maps", "--format", "json"});
  INFO(p.err);
  REQUIRE(p.code == 1);   // functions stay unredirected
  size_t checked = 0;
  auto plan = nlohmann::json::parse(p.out);
  for (const auto& e : plan["entries"]) {
    if (e["fate"] != "unresolved") continue;
    for (const auto& n : e["names"])
      if (no_vvar.count(n.get<std::string>())) {
        ++checked;
        std::string reason = e["reason"];
        CHECK(reason.find("stale") == std::string::npos);
        CHECK(reason.find("reads no vvar data") != std::string::npos);
      }
  }
  CHECK(checked >= 2);
}

TEST_CASE("--catalog takes one value; targets are found by release, with did-you-mean; catalog show takes a release") {
  test::TempDir tmp;
  auto add = test::run_vdsokit({"catalog", "add", "--host", "--abi", "x86_64", "--catalog", tmp / "my.yaml"});
  REQUIRE_MESSAGE(add.code == 0, add.err);
  auto host = nlohmann::json::parse(test::run_vdsokit({"catalog", "list", "--catalog", tmp / "my.yaml", "--no-builtin",
                                                        "--format", "json"}).out)["entries"][0];
  std::string release = host["release"];
  // --catalog FILE A B: A and B stay inputs.
  auto id = test::run_vdsokit({"identify", "--catalog", tmp / "my.yaml", test::fixture("xk-5.10.0-46-amd64"),
                               test::fixture("xk-7.2.13+deb14-amd64"), "--format", "json"});
  INFO(id.err);
  REQUIRE(id.code == 0);
  CHECK(nlohmann::json::parse(id.out)["results"].size() == 2);
  // The host entry added with catalog add --host, found by its release.
  auto c = test::run_vdsokit({"check", "--catalog", tmp / "my.yaml", test::fixture("xk-5.10.0-46-amd64"), "--target", release});
  INFO(c.err);
  CHECK(c.code <= 1);
  CHECK(c.out.find("on host/x86_64") != std::string::npos);
  // A partial release: did you mean.
  auto near = test::run_vdsokit({"check", test::fixture("xk-5.10.0-46-amd64"), "--target", "6.12.117"});
  CHECK(near.code == 2);
  CHECK(near.err.find("did you mean 6.12.117+deb13-cloud-amd64/x86_64") != std::string::npos);
  CHECK(std::count(near.err.begin(), near.err.end(), '\n') == 1);
  // catalog show: an id or a release, as check takes.
  auto show = test::run_vdsokit({"catalog", "show", "6.1.0-47-amd64", "--format", "json"});
  REQUIRE(show.code == 0);
  auto es = nlohmann::json::parse(show.out)["entries"];
  REQUIRE(!es.empty());
  for (const auto& e : es) CHECK(e["release"] == "6.1.0-47-amd64");
  CHECK(test::run_vdsokit({"catalog", "show", "6.1.0-47"}).err.find("did you mean 6.1.0-47-amd64") != std::string::npos);
}

TEST_CASE("parser errors: one 'vdsokit:' line, unknown commands named with a suggestion") {
  auto typo = test::run_vdsokit({"chekc", "x"});
  CHECK(typo.code == 2);
  CHECK(typo.err == "vdsokit: unknown command 'chekc'; did you mean 'check'? (see vdsokit --help)\n");
  auto none = test::run_vdsokit({});
  CHECK(none.code == 2);
  CHECK(none.err.rfind("vdsokit: ", 0) == 0);
  CHECK(std::count(none.err.begin(), none.err.end(), '\n') == 1);
  auto nested = test::run_vdsokit({"catalog", "shwo", "x"});
  CHECK(nested.err == "vdsokit: catalog: unknown command 'shwo'; did you mean 'show'? (see vdsokit catalog --help)\n");
  for (std::vector<std::string> args : {std::vector<std::string>{"check", test::fixture("host-vdsoloop/images")},
                                        std::vector<std::string>{"check", "--format", "xml", "x", "--target", "host"},
                                        std::vector<std::string>{"inspect", "--no-such-option", "x"}}) {
    auto r = test::run_vdsokit(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("vdsokit: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(test::run_vdsokit({"--help"}).code == 0);
}

TEST_CASE("a wrong kind of input says what was expected and what was found") {
  test::TempDir tmp;
  test::write_bytes(tmp / "notes.txt", bytes_of("hello\n"));
  auto t = test::run_vdsokit({"check", tmp / "notes.txt", "--target", kTarget});
  CHECK(t.code == 3);
  CHECK(t.err.find("expected an image directory, a folder of image sets or a checkpoint archive; found a text file") != std::string::npos);
  auto img = test::run_vdsokit({"inspect", test::fixture("host-vdsoloop/images/mm-7660.img")});
  CHECK(img.code == 3);
  CHECK(img.err.find("found a single CRIU image (MM)") != std::string::npos);
  auto so = test::run_vdsokit({"inspect", test::source("corpora/kernels/6.1.0-47-amd64/x86_64.so")});
  CHECK(so.err.find("found an ELF file") != std::string::npos);
  auto empty = test::run_vdsokit({"inspect", tmp.path});
  CHECK(empty.code == 3);
  CHECK(empty.err.find("expected a CRIU image set, found a directory without one") != std::string::npos);
  // decode takes the single image crit users pass.
  auto dec = test::run_vdsokit({"decode", test::fixture("host-vdsoloop/images/mm-7660.img")});
  CHECK(dec.code == 0);
  CHECK(nlohmann::json::parse(dec.out)["magic"] == "MM");
}

TEST_CASE("diff: names every target, no invented addresses, aliases once, every finding with its severity") {
  // B is a vDSO file: no empty "(... target ): " name.
  std::string b = test::source("corpora/kernels/7.2.13+deb14-amd64/x86_64.so");
  auto f = test::run_vdsokit({"diff", "6.12.95+deb13-amd64", b});
  INFO(f.out);
  REQUIRE(f.code == 0);
  CHECK(f.out.find("target )") == std::string::npos);
  CHECK(f.out.find("target ,") == std::string::npos);
  CHECK(f.out.find(" by :") == std::string::npos);
  // A catalog pair has no real addresses: VK006 says where the vvar goes, not an address.
  auto r = test::run_vdsokit({"diff", "6.12.117+deb13-cloud-amd64", "6.16.12+deb13-cloud-amd64"});
  INFO(r.out);
  CHECK(r.out.find("VK006 warning: only the vvar differs") != std::string::npos);
  CHECK(!std::regex_search(r.out, std::regex("VK006[^\n]*0x7f")));
  CHECK(r.out.find("VK002 info:") != std::string::npos);
  CHECK(r.out.find("fix: vdsokit rewrite vvar --target 6.16.12+deb13-cloud-amd64/x86_64 INPUT") != std::string::npos);
  // Aliases: clock_gettime and __vdso_clock_gettime move together, one line.
  auto a = test::run_vdsokit({"diff", "5.10.0-32-amd64", "7.2.13+deb14-amd64", "--format", "json"});
  auto syms = nlohmann::json::parse(a.out)["symbols"];
  std::map<std::string, int> lines;
  for (const auto& s : syms) {
    ++lines[s["change"].get<std::string>() + " " + s["name"].get<std::string>()];
    for (const auto& al : s["aliases"]) ++lines[s["change"].get<std::string>() + " " + al.get<std::string>()];
  }
  for (const auto& line : lines) CHECK_MESSAGE(line.second == 1, line.first);
  bool grouped = false;
  for (const auto& s : syms) grouped |= s["name"] == "__vdso_clock_gettime" && !s["aliases"].empty();
  CHECK(grouped);
}

TEST_CASE("wording: plurals, pagemap flag names, hex sizes, no internal citations in user output") {
  auto i = test::run_vdsokit({"inspect", test::fixture("host-incremental/dump")});
  REQUIRE(i.code == 0);
  CHECK(i.out.find(" 1 pages") == std::string::npos);
  CHECK(i.out.find("thread(s)") == std::string::npos);
  CHECK(i.out.find("1 thread,") != std::string::npos);
  CHECK(i.out.find("PE_PARENT") != std::string::npos);
  CHECK(i.out.find("PE_PRESENT") != std::string::npos);
  CHECK(!std::regex_search(i.out, std::regex("(FUNC|OBJECT|NOTYPE) \\d")));   // symbol sizes are hex like the offsets
  std::vector<std::vector<std::string>> cmds = {
      {"inspect", test::fixture("host-proxy-second-gen/images")},
      {"check", test::fixture("xk-5.10.0-46-amd64"), "--target", kTarget},
      {"check", test::fixture("host-proxy-second-gen/images"), "--target", "host"},
      {"diff", "5.10.0-32-amd64", "7.2.13+deb14-amd64"},
      {"identify", test::fixture("host-proxy-second-gen/images")},
      {"plan", "--image", test::fixture("host-vdsoloop/images"), "--target", "host"},
      {"explain", "all"}};
  for (const auto& c : cmds) {
    auto r = test::run_vdsokit(c);
    CAPTURE(c[0]);
    CHECK(r.out.find("§") == std::string::npos);
    CHECK(r.err.find("§") == std::string::npos);
  }
}

TEST_CASE("man pages keep --help's choices, defaults and REQUIRED, pass lexgrog and have EXAMPLES") {
  test::TempDir tmp;
  auto man = test::run_vdsokit({"man", tmp / "man"});
  REQUIRE(man.code == 0);
  auto check = test::read_text(tmp / "man/vdsokit-check.1");
  CHECK(check.find("REQUIRED") != std::string::npos);
  CHECK(check.find("criu\\-4.2") != std::string::npos);
  CHECK(check.find("junit") != std::string::npos);
  size_t pages = 0;
  for (const auto& e : fs::directory_iterator(tmp / "man")) {
    ++pages;
    auto text = test::read_text(e.path().string());
    CAPTURE(e.path().string());
    CHECK(text.find(".SH EXAMPLES") != std::string::npos);
    // lexgrog (man-db) parses the NAME section as apropos/whatis will; exit 0 when it can.
    std::string cmd = "lexgrog '" + e.path().string() + "' > /dev/null 2>&1";
    CHECK(std::system(cmd.c_str()) == 0);
  }
  CHECK(pages >= 20);
}

TEST_CASE("bash completion offers option values: --format, --restorer, --target catalog ids, explain codes") {
  auto bash = test::run_vdsokit({"completion", "bash"});
  REQUIRE(bash.code == 0);
  test::TempDir tmp;
  test::write_bytes(tmp / "c.sh", bytes_of(bash.out));
  // Complete as bash would: source the script, set COMP_WORDS, call the function.
  auto complete = [&](const std::string& line) {
    std::string script = "source '" + tmp / "c.sh" + "'; COMP_WORDS=(" + line + "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _vdsokit; "
                         "printf '%s\\n' \"${COMPREPLY[@]}\"";
    test::write_bytes(tmp / "run.sh", bytes_of(script));
    REQUIRE(std::system(("bash '" + tmp / "run.sh" + "' > '" + tmp / "out" + "'").c_str()) == 0);
    return test::read_text(tmp / "out");
  };
  CHECK(complete("vdsokit check --format ''") == "text\njson\nyaml\njunit\njsonl\n");
  CHECK(complete("vdsokit check x -r criu-3") == "criu-3.17\n");
  auto targets = complete("vdsokit check x --target 6.1.0-47");
  CHECK(targets.find("6.1.0-47-amd64/x86_64\n") != std::string::npos);
  CHECK(complete("vdsokit rewrite vvar --target ho") == "host\n");
  CHECK(complete("vdsokit explain VK00").find("VK003\n") != std::string::npos);
  CHECK(complete("vdsokit matrix --restorer a") == "all\n");
}

TEST_CASE("README's example is the real output") {
  std::string readme = test::read_text(test::source("README.md"));
  std::smatch m;
  REQUIRE(std::regex_search(readme, m, std::regex("```\n\\$ (vdsokit check [^\n]+)\n([^`]*)```")));
  std::string cmd = m[1], shown = m[2];
  // Split the command line as the shell would (it has no quoting) and run it from the source tree.
  std::vector<std::string> args;
  std::istringstream ss(cmd.substr(std::string("vdsokit ").size()));
  for (std::string w; ss >> w;) args.push_back(w.rfind("../shared/", 0) == 0 ? test::fixture(w.substr(std::string("../shared/fixtures/criu/").size())) : w);
  auto r = test::run_vdsokit(args);
  std::string out = r.out;
  // The fixture path is printed as given; README shows it relative to the checkout.
  for (size_t p; (p = out.find(test::fixtures())) != std::string::npos;) out.replace(p, test::fixtures().size(), "../shared/fixtures/criu");
  CHECK(out == shown);
}

TEST_CASE("every --format json output validates against its schema in docs/schemas") {
  // One document per schema, validated here with --require-all (every schema exercised; a --format
  // jsonl run gives one document per line); the ctest json_schemas validates every other document the
  // tests produce.
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "set");
  std::vector<std::vector<std::string>> cmds = {
      {"inspect", test::fixture("host-incremental/dump"), "--format", "json"},
      {"check", test::fixture("xk-5.10.0-46-amd64"), test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst"), "--target", kTarget,
       "--format", "json"},
      {"diff", "6.12.117+deb13-cloud-amd64", "6.16.12+deb13-cloud-amd64", "--format", "json"},
      {"identify", test::fixture("host-proxy-second-gen/images"), "--format", "json"},
      {"matrix", "--abi", "i386", "--format", "json"},
      {"catalog", "list", "--format", "json"},
      {"catalog", "show", "7.2.13+deb14-amd64/x86_64", "--format", "json"},
      {"rewrite", "pagemap", "--to", "4.1", tmp / "set", "--dry-run", "--format", "json"},
      {"plan", "--image", test::fixture("host-vdsoloop/images"), "--target", "host", "--format", "json"},
      {"selftest", "--only", "5.10.0-32-amd64", "--format", "json"},
      // This test's own process tree: no CRIU mark, nothing to do (dry run, read only).
      {"fixup", "--pid", std::to_string(getpid()), "--dry-run", "--format", "json"},
      // The sharded-run outputs of issue 13: a unit record per line, and their merged report.
      {"identify", test::fixture("host-vdsoloop-podman"), test::fixture("xk-7.2.13+deb14-amd64"), "--format", "jsonl", "-o",
       tmp / "ids.jsonl"},
      {"report", tmp / "ids.jsonl", "--format", "json"}};
  int n = 0;
  for (const auto& c : cmds) {
    auto r = test::run_vdsokit(c);
    CAPTURE(c[0]);
    CAPTURE(r.err);
    REQUIRE((r.code == 0 || r.code == 1));
    std::string base = tmp / ("out/" + std::to_string(n++));
    fs::create_directories(tmp / "out");
    std::string cmd = "vdsokit";
    for (const auto& a : c) cmd += " " + a;
    std::vector<std::string> docs{r.out};
    if (std::find(c.begin(), c.end(), "jsonl") != c.end()) {
      std::string lines = test::read_text(tmp / "ids.jsonl");
      docs.clear();
      for (size_t at = 0, nl; (nl = lines.find('\n', at)) != std::string::npos; at = nl + 1) docs.push_back(lines.substr(at, nl - at));
      REQUIRE(docs.size() == 4);   // three archives and one set folder
    }
    for (size_t k = 0; k < docs.size(); ++k) {
      test::write_bytes(base + "-" + std::to_string(k) + ".json", bytes_of(docs[k]));
      test::write_bytes(base + "-" + std::to_string(k) + ".cmd", bytes_of(cmd));
    }
  }
  std::string v = "python3 '" + test::source("tests/support/validate_json.py") + "' '" + test::source("docs/schemas") + "' '" +
                  tmp / "out" + "' --require-all > '" + tmp / "report" + "' 2>&1";
  int rc = std::system(v.c_str());
  INFO(test::read_text(tmp / "report"));
  CHECK(rc == 0);
}
