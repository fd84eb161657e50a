// formats/archive + inputs: Podman-style archives read in place, directories of several image sets.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/archive/archive.h"
#include "formats/common/checksum.h"
#include "formats/common/sha256.h"
#include "formats/criu/inputs.h"
#include "formats/pages/pagestore.h"
#include "support/fixtures.h"
#include "support/tarball.h"

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
    CHECK(r.error().message.find("expected a CRIU image set, found a directory without one") != std::string::npos);
  }
}

TEST_CASE("archive reader: a plain .tar is read in place, a .tar.zst holds only the images and the vDSO pages") {
  const std::string dir = test::fixture("host-vdsoloop/images");
  auto plain = vk::archive::Archive::open(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar"));
  REQUIRE(plain);
  CHECK(!(*plain)->compressed());
  CHECK((*plain)->kept_bytes() == 0);   // every member is a window onto the file
  CHECK(*(*plain)->members().at("checkpoint/pages-1.img").blob->read_all(1 << 20) == test::read_bytes(dir + "/pages-1.img"));

  auto zst = criu::open_archive(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst"));
  REQUIRE(zst);
  CHECK((*zst)->compressed());
  // Held: every *.img but the pages file whole, of pages-1.img only the two vDSO pages (0x2000 bytes).
  uint64_t images = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (name.ends_with(".img") && name != "pages-1.img") images += e.file_size();
  }
  CHECK((*zst)->kept_bytes() == images + 0x2000);
  // A byte the reader did not hold is still readable: it is fetched from the archive on demand.
  auto pages = (*zst)->members().at("checkpoint/pages-1.img").blob;
  CHECK(*pages->read_all(1 << 20) == test::read_bytes(dir + "/pages-1.img"));
}

TEST_CASE("archive reader: a 15-byte gzip (synthetic, from the fixture's first bytes) is one error, not a crash (issue 12 D4)") {
  test::TempDir tmp;
  auto bytes = test::read_bytes(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.gz"));
  bytes.resize(15);
  test::write_bytes(tmp / "short.tar.gz", bytes);
  auto r = criu::discover(tmp / "short.tar.gz");
  REQUIRE(!r);
  CHECK(r.error().file == tmp / "short.tar.gz");
  CHECK(r.error().exit_code == kExitBadInput);
  CHECK(!r.error().message.empty());
}

TEST_CASE("archive reader: a compression bomb (synthetic: 300 MiB of zeros in a few KB of zstd) is refused at its header") {
  test::TempDir tmp;
  auto members = test::members_of(test::fixture("host-vdsoloop/images"), "checkpoint");
  members.insert(members.begin(), test::TarMember{"checkpoint/bomb.img", {}, 300ull << 20, 0});
  test::write_tar(tmp / "bomb.tar.zst", "zstd", members);
  CHECK(std::filesystem::file_size(tmp / "bomb.tar.zst") < (300ull << 20) / vk::archive::kMaxRatio);
  auto r = criu::discover(tmp / "bomb.tar.zst");
  REQUIRE(!r);
  CHECK(r.error().file == tmp / "bomb.tar.zst");
  CHECK(r.error().offset.has_value());
  CHECK(r.error().exit_code == kExitBadInput);
  CHECK(r.error().message.find("times its size") != std::string::npos);
  CHECK(r.error().message.find("checkpoint/bomb.img") != std::string::npos);
}

TEST_CASE("archive reader: of a duplicated member name the last copy is the one read (synthetic .tar.gz)") {
  test::TempDir tmp;
  auto members = test::members_of(test::fixture("host-vdsoloop/images"), "checkpoint");
  members.insert(members.begin(), test::TarMember{"checkpoint/mm-7660.img", {1, 2, 3}, 0, 0});
  test::write_tar(tmp / "dup.tar.gz", "gzip", members);
  auto sets = criu::open_sets({tmp / "dup.tar.gz"});
  REQUIRE_MESSAGE(sets, (sets ? "" : sets.error().str()));
  CHECK(sets->front().set.mm(7660));
}

TEST_CASE("StreamHash: the same bytes fed in any pieces give one value; any changed byte another (synthetic bytes)") {
  // The rewrite's verify step compares a hash made while copying with one made reading back, each
  // fed in pieces of its own: the value must depend on the bytes only.
  std::vector<uint8_t> data(3 * 256 * 1024 + 12345);
  uint32_t x = 12345;
  for (auto& b : data) b = uint8_t((x = x * 1103515245 + 12345) >> 24);
  auto hash_in = [&](const std::vector<uint8_t>& d, size_t piece) {
    StreamHash h;
    for (size_t off = 0; off < d.size(); off += piece) h.update(std::span(d.data() + off, std::min(piece, d.size() - off)));
    CHECK(h.bytes() == d.size());
    return h.value();
  };
  uint64_t whole = hash_in(data, data.size());
  for (size_t piece : {size_t(1000), size_t(256 * 1024), size_t(256 * 1024 + 1), size_t(3 * 256 * 1024), size_t(65536)})
    CHECK(hash_in(data, piece) == whole);
  auto changed = data;
  changed[256 * 1024 + 7] ^= 1;
  CHECK(hash_in(changed, 256 * 1024) != whole);
  changed = data;
  changed.pop_back();
  CHECK(hash_in(changed, 256 * 1024) != whole);
}
