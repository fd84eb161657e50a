// formats/pages: addresses to bytes through pagemaps, pages files and parent links.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/common/sha256.h"
#include "formats/pages/pagestore.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

TEST_CASE("the vdso pages of every fixture resolve to the documented pages-file offset and sha256") {
  for (const auto& name : test::fixture_sets()) {
    auto kv = test::known_values(name);
    std::string dir = test::fixture(name + "/" + kv["imgdir"].get<std::string>());
    if (!fs::exists(dir + "/pstree.img")) continue;
    auto set = test::open_set(dir);
    for (const auto& p : kv["processes"]) {
      CAPTURE(name);
      uint64_t start = test::parse_hex(p["vdso_vmas"][0]["start"].get<std::string>());
      uint64_t end = test::parse_hex(p["vdso_vmas"][0]["end"].get<std::string>());
      auto store = pages::PageStore::open(set, p["pid"].get<uint32_t>());
      REQUIRE_MESSAGE(store, (store ? "" : store.error().str()));
      auto r = store->read(start, end - start);
      REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
      CHECK(sha256_hex(r->bytes) == p["vdso_sha256_all_pages"].get<std::string>());
      if (p.contains("vdso_pagemap")) {
        // Incremental sets record where a PE_PARENT hole resolved.
        const auto& pm = p["vdso_pagemap"].contains("resolved_in_parent") ? p["vdso_pagemap"]["resolved_in_parent"]
                                                                          : p["vdso_pagemap"];
        const auto& o = r->origins.back();   // the layer that held the data
        CHECK(o.depth == pm["imgdir_depth"].get<int>());
        CHECK(o.run.index == pm["entry_index"].get<size_t>());
        CHECK(o.pages_offset == pm["pages_offset"].get<uint64_t>());
        CHECK(o.pages_file.ends_with(fs::path(pm["pages_file"].get<std::string>()).filename().string()));
      }
    }
  }
}

TEST_CASE("incremental dump: PE_PARENT vdso pages resolve in pre/ through the parent link") {
  auto kv = test::known_values("host-incremental");
  auto set = test::open_set(test::fixture("host-incremental/dump"));
  auto store = pages::PageStore::open(set, 7963);
  REQUIRE(store);
  CHECK(store->depth() == 2);
  const auto* top = store->find(0x7f53ad952000);
  REQUIRE(top);
  CHECK(top->flags == criu::kPeParent);
  CHECK(top->index == 10);
  auto r = store->read(0x7f53ad952000, 0x2000);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
  REQUIRE(r->origins.size() == 1);
  CHECK(r->origins[0].depth == 1);
  CHECK(r->origins[0].run.index == 8);
  // The parent link arrives as a symlink (dump/parent/pagemap-7963.img) or, from copies made without
  // symlink support, as a text file naming ../pre (dump/../pre/pagemap-7963.img): both are pre/'s file.
  const auto& origin = r->origins[0].pagemap_file;
  CHECK(origin.ends_with("/pagemap-7963.img"));
  std::error_code ec;
  CHECK(fs::equivalent(origin, test::fixture("host-incremental/pre/pagemap-7963.img"), ec));
  CHECK(!ec);
  CHECK(sha256_hex(r->bytes) == kv["processes"][0]["vdso_sha256_all_pages"].get<std::string>());
}

TEST_CASE("incremental dump: the parent link as a symlink and as a text file both lead to pre/") {
  // How `parent` arrives depends on the copy (CRIU writes a symlink; git/archivers without symlink
  // support leave a file holding "../pre"). Both forms, built here from the real fixture, must resolve.
  for (bool as_symlink : {true, false}) {
    CAPTURE(as_symlink);
    test::TempDir tmp;
    test::copy_dir(test::fixture("host-incremental/dump"), tmp / "dump");
    test::copy_dir(test::fixture("host-incremental/pre"), tmp / "pre");
    fs::remove(tmp / "dump/parent");
    if (as_symlink) {
      fs::create_symlink("../pre", tmp / "dump/parent");
    } else {
      std::string target = "../pre\n";
      test::write_bytes(tmp / "dump/parent", std::vector<uint8_t>(target.begin(), target.end()));
    }
    auto set = test::open_set(tmp / "dump");
    auto store = pages::PageStore::open(set, 7963);
    REQUIRE(store);
    auto r = store->read(0x7f53ad952000, 0x2000);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
    REQUIRE(r->origins.size() == 1);
    CHECK(r->origins[0].depth == 1);
    CHECK(fs::equivalent(r->origins[0].pagemap_file, tmp / "pre/pagemap-7963.img"));
  }
}

TEST_CASE("pages errors: missing pages file, pagemap past its end, lazy pages, dangling and looping parents") {
  test::TempDir tmp;
  std::string dir = tmp / "images";
  test::copy_dir(test::fixture("host-vdsoloop/images"), dir);

  SUBCASE("missing pages file") {
    fs::remove(dir + "/pages-1.img");
    auto set = test::open_set(dir);
    auto store = pages::PageStore::open(set, 7660);
    REQUIRE(store);
    auto r = store->read(0x7ff7773c9000, 0x2000);
    REQUIRE(!r);
    CHECK(r.error().file.ends_with("pages-1.img"));
    CHECK(r.error().message.find("missing") != std::string::npos);
  }
  SUBCASE("pages file shorter than the pagemap says") {
    fs::resize_file(dir + "/pages-1.img", 0x11000 + 0x1000);
    auto set = test::open_set(dir);
    auto r = pages::PageStore::open(set, 7660)->read(0x7ff7773c9000, 0x2000);
    REQUIRE(!r);
    CHECK(r.error().file.ends_with("pages-1.img"));
    CHECK(r.error().offset == 0x11000u);
    CHECK(r.error().message.find("past the end of the pages file") != std::string::npos);
  }
  SUBCASE("address outside every pagemap entry (the vvar is never dumped)") {
    auto set = test::open_set(dir);
    auto r = pages::PageStore::open(set, 7660)->read(0x7ff7773c3000, 0x1000);
    REQUIRE(!r);
    CHECK(r.error().message.find("in no pagemap entry") != std::string::npos);
  }
  SUBCASE("PE_PARENT without a parent link") {
    test::copy_dir(test::fixture("host-incremental/dump"), tmp / "dump");
    fs::remove(tmp / "dump/parent");
    auto set = test::open_set(tmp / "dump");
    auto r = pages::PageStore::open(set, 7963)->read(0x7f53ad952000, 0x2000);
    REQUIRE(!r);
    CHECK(r.error().message.find("no parent link") != std::string::npos);
    CHECK(r.error().offset.has_value());
  }
  SUBCASE("dangling parent link") {
    test::copy_dir(test::fixture("host-incremental/dump"), tmp / "dump");
    fs::remove(tmp / "dump/parent");
    fs::create_symlink("../nowhere", tmp / "dump/parent");
    auto set = test::open_set(tmp / "dump");
    auto store = pages::PageStore::open(set, 7963);
    REQUIRE(!store);
    CHECK(store.error().message.find("dangling") != std::string::npos);
  }
  SUBCASE("parent links that loop") {
    test::copy_dir(test::fixture("host-incremental/dump"), tmp / "dump");
    test::copy_dir(test::fixture("host-incremental/pre"), tmp / "pre");
    fs::create_symlink("../dump", tmp / "pre/parent");
    auto set = test::open_set(tmp / "dump");
    auto store = pages::PageStore::open(set, 7963);
    REQUIRE(!store);
    CHECK(store.error().message.find("loop") != std::string::npos);
  }
}
