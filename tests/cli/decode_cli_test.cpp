// vdsokit decode / encode end to end: crit's output conventions, exit codes and one-line errors, and a
// live comparison with Debian's /usr/bin/crit (criu 3.17.1, installed by `make test`).
#include <doctest/doctest.h>

#include <filesystem>

#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

TEST_CASE("decode: stdout ends with a newline, -o does not, -i and positional input") {
  auto img = test::fixture("host-sleep/images/mm-7564.img");
  auto want = test::read_text(test::fixture("host-sleep/crit/mm-7564.decode.json"));
  auto out = test::run_vdsokit({"decode", img});
  CHECK(out.code == 0);
  CHECK(out.err.empty());
  CHECK(out.out == want + "\n");
  CHECK(test::run_vdsokit({"decode", "-i", img}).out == want + "\n");

  test::TempDir tmp;
  auto pretty = test::run_vdsokit({"decode", "--pretty", "-i", img, "-o", tmp / "mm.json"});
  CHECK(pretty.code == 0);
  CHECK(pretty.out.empty());
  // The stored show.json is `crit show` output, i.e. printed to stdout with crit's trailing newline.
  auto show = test::read_text(test::fixture("host-sleep/crit/mm-7564.show.json"));
  CHECK(test::run_vdsokit({"decode", "--pretty", img}).out == show);
  CHECK(test::read_text(tmp / "mm.json") + "\n" == show);
}

TEST_CASE("encode: decode | encode reproduces the image, to a file and to stdout") {
  test::TempDir tmp;
  for (const char* rel : {"host-incremental/dump/core-7963.img", "host-incremental/pre/pagemap-7963.img",
                          "host-sleep/images/inventory.img"}) {
    INFO(rel);
    auto img = test::fixture(rel);
    REQUIRE(test::run_vdsokit({"decode", "--pretty", img, "-o", tmp / "x.json"}).code == 0);
    auto enc = test::run_vdsokit({"encode", "-i", tmp / "x.json", "-o", tmp / "x.img"});
    CHECK(enc.code == 0);
    CHECK(enc.out.empty());
    CHECK(test::read_bytes(tmp / "x.img") == test::read_bytes(img));
    auto to_stdout = test::run_vdsokit({"encode", tmp / "x.json"});
    CHECK(to_stdout.code == 0);
    auto bytes = test::read_bytes(img);
    CHECK(to_stdout.out == std::string(bytes.begin(), bytes.end()));
  }
}

TEST_CASE("decode/encode errors: exit 3 with one line naming the file (and offset)") {
  test::TempDir tmp;
  test::write_bytes(tmp / "bad.json", {'{', '"', 'm', 'a', 'g', 'i', 'c', '"', ':', ' ', '[', '}'});
  auto bad = test::run_vdsokit({"encode", "-i", tmp / "bad.json", "-o", tmp / "out.img"});
  CHECK(bad.code == 3);
  CHECK(bad.out.empty());
  CHECK(bad.err.rfind("vdsokit: '" + tmp / "bad.json" + "': offset 0xb: invalid JSON: ", 0) == 0);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  CHECK(!fs::exists(tmp / "out.img"));

  auto pages = test::run_vdsokit({"decode", test::fixture("host-sleep/images/pages-1.img")});
  CHECK(pages.code == 3);
  CHECK(pages.out.empty());
  CHECK(pages.err.find("unknown image magic") != std::string::npos);
  CHECK(std::count(pages.err.begin(), pages.err.end(), '\n') == 1);

  auto files = test::run_vdsokit({"decode", test::fixture("host-sleep/images/files.img")});
  CHECK(files.code == 3);
  CHECK(files.err.find("no schema for FILES images") != std::string::npos);

  auto bytes = test::read_bytes(test::fixture("host-sleep/images/mm-7564.img"));
  bytes.resize(500);
  test::write_bytes(tmp / "mm-1.img", bytes);
  auto cut = test::run_vdsokit({"decode", "--pretty", tmp / "mm-1.img", "-o", tmp / "cut.json"});
  CHECK(cut.code == 3);
  CHECK(cut.err.rfind("vdsokit: '" + tmp / "mm-1.img" + "': offset 0x8: entry length", 0) == 0);
  CHECK(!fs::exists(tmp / "cut.json"));

  CHECK(test::run_vdsokit({"decode", "--schema", "criu-9", tmp / "mm-1.img"}).code == 2);
  CHECK(test::run_vdsokit({"decode", "a.img", "-i", "b.img"}).code == 2);
}

// Debian's crit is the reference for old-schema images (docs/decode.md). `make test` installs it.
TEST_CASE("--schema criu-3.17 equals live Debian crit 3.17.1 output") {
  const std::string crit = "/usr/bin/crit";
  if (!fs::exists(crit)) {
    MESSAGE("SKIPPED: /usr/bin/crit is absent (apt-get install criu, or run `make test`)");
    return;
  }
  test::TempDir tmp;
  int compared = 0;
  for (const char* rel : {"host-pagemap-legacy/images/mm-7660.img", "host-pagemap-legacy/images/pagemap-7660.img",
                          "host-pagemap-legacy/images/pstree.img", "host-pagemap-legacy/images/inventory.img",
                          "host-pagemap-legacy/images/core-7660.img", "host-incremental/dump/mm-7963.img",
                          "host-sleep/images/pagemap-7564.img", "xk-5.10.0-46-amd64/images/core-20250.img"}) {
    INFO(rel);
    auto img = test::fixture(rel);
    for (bool pretty : {false, true}) {
      std::string cmd = crit + " decode " + (pretty ? "--pretty " : "") + "-i '" + img + "' -o '" + tmp / "crit.json" + "'";
      REQUIRE(std::system(cmd.c_str()) == 0);
      std::vector<std::string> args{"decode", "--schema", "criu-3.17", img, "-o", tmp / "ours.json"};
      if (pretty) args.insert(args.begin() + 1, "--pretty");
      REQUIRE(test::run_vdsokit(args).code == 0);
      CHECK(test::read_text(tmp / "ours.json") == test::read_text(tmp / "crit.json"));
      ++compared;
    }
  }
  MESSAGE("live Debian crit: " << compared << " outputs compared");
}
