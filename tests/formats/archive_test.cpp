// formats/archive + inputs: Podman-style archives read in place, directories of several image sets.
#include <doctest/doctest.h>

#include "formats/archive/archive.h"
#include "formats/common/sha256.h"
#include "formats/criu/inputs.h"
#include "formats/pages/pagestore.h"
#include "support/fixtures.h"

using namespace vk;

TEST_CASE("podman archives (.tar, .tar.gz, .tar.zst) hold the same images as the directory") {
  for (const char* ext : {"tar", "tar.gz", "tar.zst"}) {
    CAPTURE(ext);
    auto inputs = criu::discover(test::fixture(std::string("host-vdsoloop-podman/host-vdsoloop.") + ext));
    REQUIRE_MESSAGE(inputs, (inputs ? "" : inputs.error().str()));
    REQUIRE(inputs->size() == 1);
    CHECK((*inputs)[0].label.ends_with(":checkpoint"));
    auto set = criu::ImageSet::open((*inputs)[0].tree);
    REQUIRE(set);
    auto r = pages::PageStore::open(*set, 7660)->read(0x7ff7773c9000, 0x2000);
    REQUIRE(r);
    CHECK(sha256_hex(r->bytes) == "4b15c3420aa259678b291cf305c8f935ec0893e74973620272f98a3f246cce64");
    for (const char* f : {"mm-7660.img", "pagemap-7660.img", "core-7660.img"})
      CHECK(test::read_bytes(test::fixture(std::string("host-vdsoloop/images/") + f)) ==
            *(*(*inputs)[0].tree->open(f))->read_all(1 << 20));
  }
}

TEST_CASE("a directory of image sets yields each set, incremental pre-dumps are not sets of their own") {
  auto inputs = criu::discover(test::fixture("host-incremental"));
  REQUIRE(inputs);
  REQUIRE(inputs->size() == 1);
  CHECK((*inputs)[0].label.ends_with("host-incremental/dump"));
  auto all = criu::discover(test::fixtures());
  REQUIRE(all);
  CHECK(all->size() >= 9);
}

TEST_CASE("archive errors: not an archive, truncated archive, nothing inside") {
  test::TempDir tmp;
  SUBCASE("a truncated .tar.gz names the file") {
    auto bytes = test::read_bytes(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz"));
    bytes.resize(bytes.size() / 2);
    test::write_bytes(tmp / "cut.tar.gz", bytes);
    auto r = criu::discover(tmp / "cut.tar.gz");
    REQUIRE(!r);
    CHECK(r.error().file == tmp / "cut.tar.gz");
    CHECK(r.error().exit_code == kExitBadInput);
  }
  SUBCASE("random bytes") {
    test::write_bytes(tmp / "x.tar", std::vector<uint8_t>(1000, 0x5a));
    auto r = criu::discover(tmp / "x.tar");
    REQUIRE(!r);
  }
  SUBCASE("a directory without images") {
    auto r = criu::discover(tmp.path);
    REQUIRE(!r);
    CHECK(r.error().message.find("no CRIU image set") != std::string::npos);
  }
}
