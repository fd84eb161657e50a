// formats/vdso: the ELF view through libObject, CRIU trampolines and marks, hostile inputs.
#include <doctest/doctest.h>

#include "formats/pages/pagestore.h"
#include "formats/vdso/vdso.h"
#include "support/fixtures.h"

using namespace vk;

namespace {

std::vector<uint8_t> host_vdso() { return test::dumped_bytes("host-vdsoloop/images", 7660, 0x7ff7773c9000, 0x2000); }

}  // namespace

TEST_CASE("the 6.18 vdso of host-vdsoloop: symbols, notes, hash tables as documented") {
  auto kv = test::known_values("host-vdsoloop")["processes"][0];
  auto v = vdso::parse("host", host_vdso());
  REQUIRE_MESSAGE(v, (v ? "" : v.error().str()));
  CHECK(v->elf);
  CHECK(v->abi == vdso::Abi::X86_64);
  CHECK(v->elf_size == 6688);
  CHECK(v->pages() == 2);
  CHECK(v->has_hash);
  CHECK(v->has_gnu_hash);
  CHECK(v->soname == "linux-vdso.so.1");
  CHECK(v->linux_version == 0x06122cu);
  CHECK(v->version_string() == "6.18.44");
  CHECK(v->build_salt == "6.1.102-1.182.amzn2023.x86_64");
  CHECK(v->build_id == "e95baaeaec8534edc5df3654182ddf12b19d9b23");
  CHECK(v->compiler == "GCC: (GNU) 15.3.0");
  CHECK(!v->mark);
  CHECK(v->trampolines.empty());
  const auto& want = kv["vdso_symbols"];
  REQUIRE(v->symbols.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(v->symbols[i].name == want[i]["name"].get<std::string>());
    CHECK(v->symbols[i].offset == test::parse_hex(want[i]["offset"].get<std::string>()));
    CHECK(v->symbols[i].size == want[i]["size"].get<uint64_t>());
    CHECK(v->symbols[i].bind == want[i]["bind"].get<std::string>());
    CHECK(v->symbols[i].type == want[i]["type"].get<std::string>());
    CHECK(v->symbols[i].version == want[i]["version"].get<std::string>());
  }
  CHECK(v->entry_points().size() == 6);
}

TEST_CASE("a second-generation proxy: CRIU trampolines at the four patched entry points") {
  auto v = vdso::parse("proxy", test::dumped_bytes("host-proxy-second-gen/images", 8311, 0x7f4f1273c000, 0x2000));
  REQUIRE(v);
  REQUIRE(v->trampolines.size() == 4);
  std::map<uint64_t, uint64_t> want{{0x810, 0x36810}, {0xac0, 0x36ac0}, {0xaf0, 0x36af0}, {0xf00, 0x36f00}};
  size_t names = 0;
  for (const auto& t : v->trampolines) {
    CHECK(t.length == 16);
    CHECK(want.at(t.offset) == t.target);
    names += t.symbols.size();
  }
  CHECK(names == 8);
  auto first = vdso::parse("first-gen", test::dumped_bytes("host-proxy-second-gen/first-gen", 8311, 0x7f4f1273c000, 0x2000));
  REQUIRE(first);
  CHECK(first->trampolines.empty());
}

TEST_CASE("trampoline and mark encoders match the documented byte forms") {
  CHECK(vdso::encode_trampoline(vdso::Abi::X86_64, 0x7f0000000af0) ==
        std::vector<uint8_t>{0x48, 0xb8, 0xf0, 0x0a, 0, 0, 0, 0x7f, 0, 0, 0xff, 0xe0, 0xcc, 0xcc, 0xcc, 0xcc});
  CHECK(vdso::encode_trampoline(vdso::Abi::I386, 0xf7f00af0) ==
        std::vector<uint8_t>{0xb8, 0xf0, 0x0a, 0xf0, 0xf7, 0xff, 0xe0, 0xcc, 0xcc, 0xcc, 0xcc});
  // The V3 mark CRIU wrote in host-proxy-second-gen's live rt vdso (its README).
  std::vector<uint8_t> live{0x43, 0x52, 0x49, 0x55, 0x76, 0x44, 0x53, 0x4f, 0x00, 0xc0, 0x73, 0x12, 0x4f, 0x7f, 0x00, 0x00,
                            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x73, 0x12, 0x4f, 0x7f, 0x00, 0x00,
                            0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(vdso::encode_mark_v3(0x7f4f1273c000, 0x7f4f12736000, 0x30000) == live);
  auto m = vdso::find_mark(live);
  REQUIRE(m);
  CHECK(m->version == 3);
  CHECK(m->stored_version == 3);
  CHECK(m->orig_vdso == 0x7f4f1273c000);
  CHECK(m->orig_vvar == 0x7f4f12736000);
  CHECK(m->rt_vvar == 0x30000);
}

TEST_CASE("marks V1 and V2 over a real vdso (synthetic: mark bytes written onto host-vdsoloop's vdso)") {
  auto bytes = host_vdso();
  auto put = [&](size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes[at + size_t(i)] = uint8_t(v >> (8 * i));
  };
  SUBCASE("V1") {
    std::memcpy(bytes.data(), "criuvdso", 8);
    put(8, 0x7f0000001000);
    auto v = vdso::parse("v1", bytes);
    REQUIRE(v);
    REQUIRE(v->mark);
    CHECK(v->mark->version == 1);
    CHECK(v->mark->orig_vdso == 0x7f0000001000);
    CHECK(v->mark->orig_vvar == ~0ull);
    CHECK(!v->elf);
  }
  SUBCASE("V2") {
    std::memcpy(bytes.data(), "criuvDSO", 8);
    put(8, 0x7f0000001000);
    put(16, 2);
    put(24, 0x7f0000000000);
    auto v = vdso::parse("v2", bytes);
    REQUIRE(v->mark);
    CHECK(v->mark->version == 2);
    CHECK(v->mark->stored_version == 2);
    CHECK(v->mark->orig_vvar == 0x7f0000000000);
  }
}

TEST_CASE("hostile vDSO bytes give errors, never crashes") {
  auto good = host_vdso();
  SUBCASE("every truncation of the ELF") {
    size_t ok = 0;
    for (size_t len = 0; len <= 6688; len += 7) {
      std::vector<uint8_t> cut(good.begin(), good.begin() + long(len));
      auto v = vdso::parse("cut", cut);
      if (v) ++ok;
      else CHECK(v.error().file == "cut");
    }
    CHECK(ok == 0);   // the section table ends the ELF: no strict prefix is a whole vDSO
  }
  SUBCASE("section header table out of range") {
    auto bad = good;
    bad[0x28] = 0xff;   // e_shoff low byte
    bad[0x2d] = 0x7f;   // e_shoff high bytes
    auto v = vdso::parse("shoff", bad);
    REQUIRE(!v);
    CHECK(v.error().offset.has_value());
  }
  SUBCASE("program headers out of range") {
    auto bad = good;
    bad[0x20] = 0xf0;   // e_phoff
    bad[0x21] = 0xff;
    auto v = vdso::parse("phoff", bad);
    REQUIRE(!v);
  }
  SUBCASE("huge e_shnum") {
    auto bad = good;
    bad[0x3c] = 0xff;
    bad[0x3d] = 0xff;
    CHECK(!vdso::parse("shnum", bad));
  }
  SUBCASE("random bytes in every header byte") {
    for (size_t i = 0; i < 64; ++i) {
      auto bad = good;
      bad[i] ^= 0xa5;
      auto v = vdso::parse("flip", bad);   // must return, either way
      if (!v) CHECK(!v.error().message.empty());
    }
  }
  SUBCASE("not ELF, not marked") {
    std::vector<uint8_t> zero(8192, 0);
    auto v = vdso::parse("zero", zero);
    REQUIRE(!v);
    CHECK(v.error().str() == "'zero': offset 0x0: not an ELF image and no CRIU vdso mark");
  }
}
