// formats/criu: framing, schemas and byte-exact round trips on every real image in the fixtures.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/criu/image.h"
#include "formats/criu/imageset.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> all_images() {
  std::vector<fs::path> out;
  for (auto& e : fs::recursive_directory_iterator(test::fixtures())) {
    if (!e.is_regular_file()) continue;
    auto name = e.path().filename().string();
    bool image = name.size() > 4 && name.ends_with(".img") && !name.starts_with("pages-");
    if (image || name.starts_with("stats-") || name == "irmap-cache") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<google::protobuf::Message> schema_for(const criu::Image& img, size_t index) {
  switch (img.kind()) {
    case criu::Kind::Inventory: return std::make_unique<img::inventory_entry>();
    case criu::Kind::Pstree: return std::make_unique<img::pstree_entry>();
    case criu::Kind::Core: return std::make_unique<img::core_entry>();
    case criu::Kind::Mm: return std::make_unique<img::mm_entry>();
    case criu::Kind::Pagemap:
      if (index == 0) return std::make_unique<img::pagemap_head>();
      return std::make_unique<img::pagemap_entry>();
    default: return nullptr;
  }
}

std::vector<uint8_t> bytes_of(std::initializer_list<uint32_t> words, std::vector<uint8_t> tail = {}) {
  std::vector<uint8_t> b;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(w >> (8 * i)));
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

}  // namespace

TEST_CASE("every fixture image round-trips byte for byte, raw and through its schema") {
  auto images = all_images();
  REQUIRE(images.size() > 100);
  size_t typed = 0;
  for (const auto& path : images) {
    CAPTURE(path.string());
    auto bytes = test::read_bytes(path.string());
    auto img = criu::parse_image(path.string(), bytes);
    REQUIRE_MESSAGE(img, (img ? "" : img.error().str()));
    CHECK(criu::write_image(*img) == bytes);
    // Parse and re-serialise every modelled entry: unknown fields must survive too.
    criu::Image again = *img;
    for (size_t i = 0; i < img->entries.size(); ++i) {
      auto msg = schema_for(*img, i);
      if (!msg) break;
      auto st = criu::decode_entry(*img, i, *msg);
      REQUIRE_MESSAGE(st, (st ? "" : st.error().str()));
      criu::encode_entry(again, i, *msg);
      ++typed;
    }
    CHECK(criu::write_image(again) == bytes);
  }
  CHECK(typed > 150);
}

TEST_CASE("image headers: inventory has one word, others two, service files the service head") {
  auto inv = criu::parse_image("inventory.img", test::read_bytes(test::fixture("host-sleep/images/inventory.img")));
  REQUIRE(inv);
  CHECK(inv->head == 0);
  CHECK(inv->magic == criu::kInventoryMagic);
  auto mm = criu::parse_image("mm", test::read_bytes(test::fixture("host-vdsoloop/images/mm-7660.img")));
  REQUIRE(mm);
  CHECK(mm->head == criu::kCommonMagic);
  CHECK(mm->magic == criu::kMmMagic);
  CHECK(mm->entries.size() == 1);
  auto stats = criu::parse_image("stats", test::read_bytes(test::fixture("host-vdsoloop/images/stats-dump")));
  REQUIRE(stats);
  CHECK(stats->head == criu::kServiceMagic);
}

TEST_CASE("img_version 1 images carry a single type word (synthetic: built from a real mm entry)") {
  auto mm = criu::parse_image("mm", test::read_bytes(test::fixture("host-vdsoloop/images/mm-7660.img")));
  REQUIRE(mm);
  criu::Image v1 = *mm;
  v1.head = 0;
  auto bytes = criu::write_image(v1);
  auto back = criu::parse_image("mm-v1", bytes);
  REQUIRE(back);
  CHECK(back->head == 0);
  CHECK(back->magic == criu::kMmMagic);
  CHECK(back->entries[0].payload == mm->entries[0].payload);
}

// The error cases below are synthetic byte strings, each a minimal instance of one malformation.
TEST_CASE("framing errors name the file and offset") {
  SUBCASE("truncated length word") {
    auto r = criu::parse_image("mm-1.img", bytes_of({criu::kCommonMagic, criu::kMmMagic}, {0x10, 0x00}));
    REQUIRE(!r);
    CHECK(r.error().str() == "'mm-1.img': offset 0x8: truncated entry: 2 bytes where a 4-byte entry length is expected");
    CHECK(r.error().exit_code == kExitBadInput);
  }
  SUBCASE("entry length past end of file") {
    auto r = criu::parse_image("mm-1.img", bytes_of({criu::kCommonMagic, criu::kMmMagic, 4096}, {1, 2, 3}));
    REQUIRE(!r);
    CHECK(r.error().str() == "'mm-1.img': offset 0x8: entry length 4096 past end of file (3 bytes left)");
  }
  SUBCASE("a huge length does not allocate") {
    auto r = criu::parse_image("mm-1.img", bytes_of({criu::kCommonMagic, criu::kMmMagic, 0xfffffff0u}));
    REQUIRE(!r);
    CHECK(r.error().offset == 8u);
  }
  SUBCASE("unknown magic (raw data such as a pages file)") {
    auto r = criu::parse_image("pages-1.img", bytes_of({0x464c457f, 0}));
    REQUIRE(!r);
    CHECK(r.error().offset == 0u);
    CHECK(r.error().message.find("unknown image magic 0x464c457f") != std::string::npos);
  }
  SUBCASE("too short for a magic") {
    auto r = criu::parse_image("x.img", std::vector<uint8_t>{0x19, 0x43});
    REQUIRE(!r);
    CHECK(r.error().offset == 0u);
  }
  SUBCASE("clean EOF after the header is an image with no entries") {
    auto r = criu::parse_image("x.img", bytes_of({criu::kCommonMagic, criu::kMmMagic}));
    REQUIRE(r);
    CHECK(r->entries.empty());
  }
}

TEST_CASE("schema errors: wrong magic, garbage payload, missing required field") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp.path);
  SUBCASE("mm file holding a pagemap") {
    std::filesystem::copy_file(tmp / "pagemap-7660.img", tmp / "mm-7660.img", std::filesystem::copy_options::overwrite_existing);
    auto set = criu::ImageSet::open(*open_directory(tmp.path));
    REQUIRE(set);
    auto mm = set->mm(7660);
    REQUIRE(!mm);
    CHECK(mm.error().offset == 4u);
    CHECK(mm.error().message.find("wrong magic 0x56084025, expected 0x57492820 (MM)") != std::string::npos);
  }
  SUBCASE("payload that is not protobuf") {
    test::write_bytes(tmp / "mm-7660.img", bytes_of({criu::kCommonMagic, criu::kMmMagic, 4}, {0xff, 0xff, 0xff, 0xff}));
    auto set = criu::ImageSet::open(*open_directory(tmp.path));
    auto mm = set->mm(7660);
    REQUIRE(!mm);
    CHECK(mm.error().offset == 8u);
  }
  SUBCASE("pstree entry without its required fields") {
    test::write_bytes(tmp / "pstree.img", bytes_of({criu::kCommonMagic, criu::kPstreeMagic, 2}, {0x08, 0x01}));
    auto set = criu::ImageSet::open(*open_directory(tmp.path));
    REQUIRE(!set);
    CHECK(set.error().message.find("lacks required fields") != std::string::npos);
  }
}

TEST_CASE("pagemap schemas: CRIU 4.2 (field 5) and <= 4.1 (field 2) give the same runs") {
  auto load = [](const std::string& rel) {
    auto img = criu::parse_image(rel, test::read_bytes(test::fixture(rel)));
    REQUIRE(img);
    auto pm = criu::parse_pagemap(*img);
    REQUIRE(pm);
    return *pm;
  };
  auto v42 = load("host-vdsoloop/images/pagemap-7660.img");
  auto v41 = load("host-pagemap-legacy/images/pagemap-7660.img");
  CHECK(v42.schema() == "4.2");
  CHECK(v41.schema() == "4.1");
  REQUIRE(v42.runs.size() == v41.runs.size());
  for (size_t i = 0; i < v42.runs.size(); ++i) {
    CHECK(v42.runs[i].vaddr == v41.runs[i].vaddr);
    CHECK(v42.runs[i].nr_pages == v41.runs[i].nr_pages);
    CHECK(v42.runs[i].flags == v41.runs[i].flags);
    CHECK(v42.runs[i].pages_offset == v41.runs[i].pages_offset);
  }
}

TEST_CASE("legacy in_parent and absent flags normalise as CRIU does (synthetic entries)") {
  criu::Image img;
  img.name = "pagemap-1.img";
  img.head = criu::kCommonMagic;
  img.magic = criu::kPagemapMagic;
  img::pagemap_head head;
  head.set_pages_id(1);
  criu::encode_entry(img, 0, head);
  img::pagemap_entry a;   // pre-3.5: in_parent, no flags
  a.set_vaddr(0x1000);
  a.set_compat_nr_pages(1);
  a.set_in_parent(true);
  criu::encode_entry(img, 1, a);
  img::pagemap_entry b;   // no flags at all -> PE_PRESENT
  b.set_vaddr(0x2000);
  b.set_compat_nr_pages(2);
  criu::encode_entry(img, 2, b);
  auto pm = criu::parse_pagemap(*criu::parse_image("pagemap-1.img", criu::write_image(img)));
  REQUIRE(pm);
  CHECK(pm->runs[0].flags == criu::kPeParent);
  CHECK(pm->runs[0].legacy_in_parent);
  CHECK(pm->runs[1].flags == criu::kPePresent);
  CHECK(pm->runs[1].pages_offset == 0);
}
