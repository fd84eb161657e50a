// crit-compatible JSON (formats/criu/crit_json.*): byte-for-byte equality with the crit output stored
// beside every fixture (crit/ = upstream 4.2, crit-debian/ = Debian 3.17.1), and decode -> encode
// round trips for every modelled image in the fixtures.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/criu/crit_json.h"
#include "formats/criu/image.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

struct CritCase {
  std::string json_base;  // .../crit/dump/mm-7963 (append .decode.json / .show.json)
  std::string img;        // the image it was made from
  std::string set;        // fixture set name
};

// The image a crit output file was made from: the same relative path under the set, where a top-level
// crit/X.json belongs to images/X.img (host-sleep) and crit/dump/X.json to dump/X.img (host-incremental;
// also pre/, first-gen/, images/).
std::vector<CritCase> crit_cases(const std::string& which) {
  std::vector<CritCase> out;
  for (const auto& set : fs::directory_iterator(test::fixtures())) {
    fs::path dir = set.path() / which;
    if (!fs::is_directory(dir)) continue;
    for (const auto& f : fs::recursive_directory_iterator(dir)) {
      std::string name = f.path().filename().string();
      const std::string suffix = ".decode.json";
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      std::string stem = name.substr(0, name.size() - suffix.size());
      fs::path rel = fs::relative(f.path().parent_path(), dir) / (stem + ".img");
      fs::path img = set.path() / rel;
      if (!fs::exists(img)) img = set.path() / "images" / rel;
      CritCase c{(f.path().parent_path() / stem).string(), img.string(), set.path().filename().string()};
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end(), [](const CritCase& a, const CritCase& b) { return a.json_base < b.json_base; });
  return out;
}

// The stored crit output without the newline crit adds when it prints to stdout: `crit show` and the
// xk-* captures went through stdout, the host-* `.decode.json` files were written with -o (no newline).
// Our library output is the -o form; the CLI adds the newline on stdout exactly like crit.
std::string crit_output(const std::string& path) {
  auto s = test::read_text(path);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

criu::Image load(const std::string& path) {
  auto bytes = test::read_bytes(path);
  auto img = criu::parse_image(path, bytes);
  REQUIRE_MESSAGE(img, (img ? "" : img.error().str()));
  return img.take();
}

std::string decode(const std::string& path, bool pretty, criu::CritSchema schema = criu::CritSchema::Criu42) {
  auto text = criu::image_to_crit_json(load(path), {pretty, schema});
  REQUIRE_MESSAGE(text, (text ? "" : text.error().str()));
  return *text;
}

bool modelled(const std::string& name) {
  for (const char* p : {"inventory.img", "pstree.img", "mm-", "core-", "pagemap-"})
    if (name.rfind(p, 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".img") return true;
  return false;
}

// Every inventory/pstree/core/mm/pagemap image in the fixtures (not following `parent` links).
std::vector<std::string> modelled_images() {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(test::fixtures()); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_symlink()) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && modelled(it->path().filename().string())) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("crit decode and decode --pretty equal upstream crit 4.2 byte for byte on every fixture") {
  auto cases = crit_cases("crit");
  REQUIRE(cases.size() >= 50);
  int compact = 0, pretty = 0;
  for (const auto& c : cases) {
    INFO(c.json_base);
    REQUIRE(fs::exists(c.img));
    auto d = decode(c.img, false);
    bool ok_d = d == crit_output(c.json_base + ".decode.json");
    CHECK(ok_d);
    compact += ok_d;
    auto p = decode(c.img, true);
    bool ok_p = p == crit_output(c.json_base + ".show.json");
    CHECK(ok_p);
    pretty += ok_p;
  }
  MESSAGE("upstream crit: " << compact << "/" << cases.size() << " decode.json and " << pretty << "/"
                            << cases.size() << " show.json identical");
}

TEST_CASE("--schema criu-3.17 equals Debian crit 3.17.1 (crit-debian/)") {
  auto cases = crit_cases("crit-debian");
  REQUIRE(cases.size() >= 10);
  int n = 0;
  for (const auto& c : cases) {
    INFO(c.json_base);
    REQUIRE(fs::exists(c.img));
    CHECK(decode(c.img, false, criu::CritSchema::Criu317) == crit_output(c.json_base + ".decode.json"));
    CHECK(decode(c.img, true, criu::CritSchema::Criu317) == crit_output(c.json_base + ".show.json"));
    ++n;
  }
  MESSAGE("Debian crit: " << n << " images compared, compact and pretty");
}

TEST_CASE("criu-3.17 view: legacy pagemaps read correctly, 4.2 pagemaps show Debian's lossy nr_pages 0") {
  auto legacy = decode(test::fixture("host-pagemap-legacy/images/pagemap-7660.img"), false, criu::CritSchema::Criu317);
  CHECK(legacy.find("\"nr_pages\": 0,") == std::string::npos);
  CHECK(legacy.find("compat_nr_pages") == std::string::npos);
  // A 4.2 writer leaves field 2 at 0 and puts the count in field 5, which 3.17 does not know (§2.3).
  auto modern = decode(test::fixture("host-sleep/images/pagemap-7564.img"), false, criu::CritSchema::Criu317);
  CHECK(modern.find("\"nr_pages\": 0,") != std::string::npos);
  auto upstream = decode(test::fixture("host-sleep/images/pagemap-7564.img"), false);
  CHECK(upstream.find("\"compat_nr_pages\": 0,") != std::string::npos);
  CHECK(upstream.find("\"nr_pages\": 0") == std::string::npos);

  // Encoding the 3.17 JSON of a legacy pagemap reproduces it; of a 4.2 pagemap it drops field 5.
  auto path = test::fixture("host-pagemap-legacy/images/pagemap-7660.img");
  auto back = criu::crit_json_to_image(legacy, "legacy.json", criu::CritSchema::Criu317);
  REQUIRE(back);
  CHECK(criu::write_image(*back) == test::read_bytes(path));
  auto lossy = criu::crit_json_to_image(modern, "modern.json", criu::CritSchema::Criu317);
  REQUIRE(lossy);
  CHECK(criu::write_image(*lossy) != test::read_bytes(test::fixture("host-sleep/images/pagemap-7564.img")));
}

TEST_CASE("decode -> encode is byte-identical for every modelled fixture image, from compact and pretty JSON") {
  auto images = modelled_images();
  REQUIRE(images.size() >= 50);
  int ok = 0;
  for (const auto& path : images) {
    INFO(path);
    auto original = test::read_bytes(path);
    for (bool pretty : {false, true}) {
      auto back = criu::crit_json_to_image(decode(path, pretty), "rt.json");
      REQUIRE_MESSAGE(back, (back ? "" : back.error().str()));
      bool same = criu::write_image(*back) == original;
      CHECK(same);
      ok += same;
    }
  }
  MESSAGE("round trip: " << ok << "/" << 2 * images.size() << " identical (" << images.size() << " images)");
}

TEST_CASE("pretty rendering rules: flags, hex, dict") {
  criu::Image img;
  img.name = "synthetic";
  img.head = criu::kCommonMagic;
  img.magic = criu::kMmMagic;
  // A VMA with GUARD (0x10000, in no crit table) and MAP_DROPPABLE, prot 0, an unknown flag bit.
  auto json = std::string(R"({"magic": "MM", "entries": [{"mm_start_code": 1, "mm_end_code": 2, "mm_start_data": 3,
    "mm_end_data": 4, "mm_start_stack": 5, "mm_start_brk": 6, "mm_brk": 7, "mm_arg_start": 8, "mm_arg_end": 9,
    "mm_env_start": 10, "mm_env_end": 11, "exe_file_id": 12,
    "vmas": [{"start": "0x1000", "end": "0x2000", "pgoff": 0, "shmid": 0, "prot": "", "flags": "MAP_PRIVATE | MAP_DROPPABLE | 0x40",
              "status": "VMA_AREA_REGULAR | 0x10000", "fd": -1, "unknown_key": [1, 2]}]}]})");
  auto enc = criu::crit_json_to_image(json, "s.json");
  REQUIRE_MESSAGE(enc, (enc ? "" : enc.error().str()));
  auto pretty = criu::image_to_crit_json(*enc, {true, criu::CritSchema::Criu42});
  REQUIRE(pretty);
  CHECK(pretty->find(R"("prot": "",)") != std::string::npos);
  CHECK(pretty->find(R"("flags": "MAP_PRIVATE | MAP_DROPPABLE | 0x40",)") != std::string::npos);
  CHECK(pretty->find(R"("status": "VMA_AREA_REGULAR | 0x10000",)") != std::string::npos);
  CHECK(pretty->find(R"("start": "0x1000",)") != std::string::npos);
  CHECK(pretty->find(R"("fd": -1)") != std::string::npos);
  // Debian's table has no MAP_DROPPABLE: it shows up as a leftover.
  auto old = criu::image_to_crit_json(*enc, {true, criu::CritSchema::Criu317});
  REQUIRE(old);
  CHECK(old->find(R"("flags": "MAP_PRIVATE | 0x48",)") != std::string::npos);
  auto compact = criu::image_to_crit_json(*enc, {false, criu::CritSchema::Criu42});
  REQUIRE(compact);
  CHECK(compact->find(R"("prot": 0, "flags": 74, "status": 65537, "fd": -1})") != std::string::npos);
}

TEST_CASE("encode errors name the file and the JSON path") {
  auto bad = criu::crit_json_to_image("{\"magic\": \"MM\", \"entries\": [", "bad.json");
  REQUIRE(!bad);
  CHECK(bad.error().file == "bad.json");
  CHECK(bad.error().offset.has_value());
  auto unk = criu::crit_json_to_image(R"({"magic": "NOPE", "entries": []})", "u.json");
  REQUIRE(!unk);
  CHECK(unk.error().message.find("NOPE") != std::string::npos);
  auto files = criu::crit_json_to_image(R"({"magic": "FILES", "entries": []})", "f.json");
  REQUIRE(!files);
  CHECK(files.error().message.find("FILES") != std::string::npos);
  auto missing = criu::crit_json_to_image(R"({"magic": "PSTREE", "entries": [{"pid": 1}]})", "m.json");
  REQUIRE(!missing);
  CHECK(missing.error().message.find("entries[0]") != std::string::npos);
  auto range = criu::crit_json_to_image(R"({"magic": "PSTREE", "entries": [{"pid": 4294967296, "ppid": 0, "pgid": 0, "sid": 0}]})", "r.json");
  REQUIRE(!range);
  CHECK(range.error().message.find("entries[0].pid") != std::string::npos);
  auto badflag = criu::crit_json_to_image(R"({"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": 0, "compat_nr_pages": 1, "flags": "PE_NOPE"}]})", "p.json");
  REQUIRE(!badflag);
  CHECK(badflag.error().message.find("PE_NOPE") != std::string::npos);
}

TEST_CASE("decode refuses images without a schema, naming the magic") {
  auto img = load(test::fixture("host-sleep/images/files.img"));
  auto r = criu::image_to_crit_json(img, {});
  REQUIRE(!r);
  CHECK(r.error().message.find("FILES") != std::string::npos);
  CHECK(r.error().exit_code == kExitBadInput);
}

TEST_CASE("Python int(s, 0) and base64.encodebytes") {
  auto v = [](const char* s) {
    auto p = criu::parse_python_int(s);
    return p ? (p->negative ? -static_cast<double>(p->magnitude) : static_cast<double>(p->magnitude)) : -12345.0;
  };
  CHECK(v("0x1f") == 31);
  CHECK(v(" 0X1F ") == 31);
  CHECK(v("0o17") == 15);
  CHECK(v("0b101") == 5);
  CHECK(v("1_000") == 1000);
  CHECK(v("0x_ff") == 255);
  CHECK(v("-5") == -5);
  CHECK(v("0") == 0);
  CHECK(v("000") == 0);
  CHECK(v("007") == -12345.0);
  CHECK(v("1__0") == -12345.0);
  CHECK(v("_1") == -12345.0);
  CHECK(v("") == -12345.0);
  CHECK(v("0x") == -12345.0);
  CHECK(v("12a") == -12345.0);
  CHECK(criu::parse_python_int("18446744073709551615")->magnitude == UINT64_MAX);
  CHECK(!criu::parse_python_int("18446744073709551616"));

  CHECK(criu::base64_encodebytes("") == "");
  CHECK(criu::base64_encodebytes("a") == "YQ==\n");
  std::string long_input(58, 'x');
  auto enc = criu::base64_encodebytes(long_input);
  CHECK(enc.size() == 76 + 1 + 4 + 1);
  CHECK(enc[76] == '\n');
  CHECK(criu::base64_decodebytes(enc) == long_input);
  CHECK(criu::base64_decodebytes("YWJj\n") == std::string("abc"));
  CHECK(criu::base64_decodebytes("YWI=") == std::string("ab"));
  CHECK(!criu::base64_decodebytes("Y"));
}

TEST_CASE("the Python json printer: separators, indent, ensure_ascii") {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["b"] = nlohmann::ordered_json::array({1, -2, UINT64_MAX});
  j["a"] = nlohmann::ordered_json::object();
  j["s"] = "q\"\\\n\x01\x7f\xc3\xa9\xf0\x9f\x98\x80";
  j["e"] = nlohmann::ordered_json::array();
  CHECK(criu::dump_python_json(j, false) ==
        R"({"b": [1, -2, 18446744073709551615], "a": {}, "s": "q\"\\\n\u0001\u007f\u00e9\ud83d\ude00", "e": []})");
  CHECK(criu::dump_python_json(j, true) ==
        "{\n    \"b\": [\n        1,\n        -2,\n        18446744073709551615\n    ],\n    \"a\": {},\n"
        "    \"s\": \"q\\\"\\\\\\n\\u0001\\u007f\\u00e9\\ud83d\\ude00\",\n    \"e\": []\n}");
}
