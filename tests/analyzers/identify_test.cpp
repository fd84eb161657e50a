// analyzers/identify: exact, proxied-from, nearest, and the real fixtures.
#include <doctest/doctest.h>

#include <cstring>

#include "analyzers/identify.h"
#include "formats/catalog/catalog.h"
#include "formats/common/source.h"
#include "formats/criu/imageset.h"
#include "formats/pages/pagestore.h"
#include "support/fixtures.h"

using namespace vk;
using analyze::MatchKind;

namespace {

// Whole pages, as a dump holds them.
std::vector<uint8_t> as_pages(std::vector<uint8_t> b) {
  b.resize((b.size() + 4095) / 4096 * 4096, 0);
  return b;
}

// Rewrites st_value of the dynsym entry named `name` (ELF64 only) by `delta`.
bool move_symbol64(std::vector<uint8_t>& b, const std::string& name, int64_t delta) {
  auto rd = [&](size_t off, size_t n) {
    uint64_t v = 0;
    std::memcpy(&v, &b[off], n);
    return v;
  };
  uint64_t shoff = rd(0x28, 8), shentsize = rd(0x3a, 2), shnum = rd(0x3c, 2);
  for (uint64_t i = 0; i < shnum; ++i) {
    size_t sh = size_t(shoff + i * shentsize);
    if (rd(sh + 4, 4) != 11) continue;   // SHT_DYNSYM
    uint64_t off = rd(sh + 0x18, 8), size = rd(sh + 0x20, 8), link = rd(sh + 0x28, 4);
    size_t strsh = size_t(shoff + link * shentsize);
    uint64_t stroff = rd(strsh + 0x18, 8);
    for (uint64_t s = off; s + 24 <= off + size; s += 24) {
      const char* n = reinterpret_cast<const char*>(&b[stroff + rd(s, 4)]);
      if (name == n) {
        uint64_t v = rd(s + 8, 8) + uint64_t(delta);
        std::memcpy(&b[s + 8], &v, 8);
        return true;
      }
    }
  }
  return false;
}

}  // namespace

TEST_CASE("every catalog vDSO identifies as itself (ELF bytes and whole pages)") {
  // The built-in catalog carries the pages hashes (computed at build time); the YAML one does not,
  // so the Identifier hashes its entries itself: both must give the same answers.
  auto yaml = catalog::Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE(yaml);
  for (const catalog::Catalog* c : std::initializer_list<const catalog::Catalog*>{&catalog::Catalog::builtin(), &*yaml}) {
    const auto& cat = *c;
    analyze::Identifier id(cat);
    for (const auto& e : cat.entries()) {
      if (e.synthetic) continue;
      CAPTURE(e.id);
      CAPTURE(e.sha256_pages.empty());
      auto b = cat.bytes(e);
      REQUIRE(b);
      auto r = id.identify_bytes(e.id, *b);
      CHECK(r.kind == MatchKind::Exact);
      REQUIRE(!r.candidates.empty());
      CHECK(r.candidates[0].entry == &e);
      auto p = id.identify_bytes(e.id, as_pages(*b));
      CHECK(p.kind == MatchKind::Exact);
      REQUIRE(!p.candidates.empty());
      CHECK(p.candidates[0].entry == &e);
    }
  }
}

TEST_CASE("CRIU trampolines over the symbol entries: proxied-from the original build") {
  const auto& cat = catalog::Catalog::builtin();
  analyze::Identifier id(cat);
  size_t tested = 0;
  for (const auto& e : cat.entries()) {
    if (e.synthetic || e.abi == vdso::Abi::X32) continue;
    CAPTURE(e.id);
    auto b = as_pages(*cat.bytes(e));
    size_t written = 0;
    for (const auto& name : vdso::criu_proxy_symbols()) {
      const auto* s = e.find(name);
      if (!s) continue;
      auto t = vdso::encode_trampoline(e.abi, 0x7f0000000000ull + s->offset);
      if (e.abi == vdso::Abi::I386) t = vdso::encode_trampoline(e.abi, 0xf7f00000u + s->offset);
      std::copy(t.begin(), t.end(), b.begin() + long(s->offset));
      ++written;
    }
    REQUIRE(written > 0);
    auto r = id.identify_bytes(e.id + "+proxy", b);
    CHECK(r.trampolines == written);
    CHECK(r.kind == MatchKind::ProxiedFrom);
    REQUIRE(!r.candidates.empty());
    CHECK(r.candidates[0].entry->id == e.id);
    ++tested;
  }
  CHECK(tested > 30);
}

TEST_CASE("one symbol moved: nearest, with the original build first") {
  const auto& cat = catalog::Catalog::builtin();
  analyze::Identifier id(cat);
  for (const char* which : {"7.2.13+deb14-amd64/x86_64", "5.10.0-32-amd64/x86_64", "6.12.95+deb13-amd64/x86_64"}) {
    CAPTURE(which);
    const auto* e = cat.find(which);
    REQUIRE(e);
    auto b = *cat.bytes(*e);
    REQUIRE(move_symbol64(b, "__vdso_getcpu", 0x10));
    auto r = id.identify_bytes("moved", b, 5);
    CHECK(r.kind == MatchKind::Nearest);
    REQUIRE(r.candidates.size() == 5);
    CHECK(r.candidates[0].entry->id == which);
    CHECK(r.candidates[0].score < 1.0);
    CHECK(r.candidates[0].score >= r.candidates[1].score);
  }
}

TEST_CASE("garbage and marks identify as unknown, not as errors") {
  analyze::Identifier id(catalog::Catalog::builtin());
  CHECK(id.identify_bytes("zeros", std::vector<uint8_t>(8192, 0)).kind == MatchKind::Unknown);
  auto m = vdso::encode_mark_v3(0x1000, 0x2000, 0x3000);
  m.resize(4096);
  CHECK(id.identify_bytes("mark", m).kind == MatchKind::Unknown);
}

TEST_CASE("fixtures dumped on Debian kernels") {
  // The exact releases are in the catalog for 6.12.117 (cloud flavour only) and 7.2.13+deb14;
  // 5.10.0-46 is not, so its nearest is the 5.10.0-32 amd64 build.
  auto r = test::run_vdsokit({"identify", test::fixture("xk-7.2.13+deb14-amd64/images"), "--format", "json"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto j = nlohmann::json::parse(r.out)["results"][0];
  CHECK(j["kind"] == "exact");
  CHECK(j["candidates"][0]["id"] == "7.2.13+deb14-amd64/x86_64");

  r = test::run_vdsokit({"identify", test::fixture("xk-5.10.0-46-amd64/images"), "--format", "json"});
  REQUIRE(r.code == 0);
  j = nlohmann::json::parse(r.out)["results"][0];
  CHECK(j["kind"] == "nearest");
  CHECK(j["candidates"][0]["id"] == "5.10.0-32-amd64/x86_64");

  r = test::run_vdsokit({"identify", test::fixture("xk-6.12.117+deb13-amd64/images"), "--format", "json"});
  REQUIRE(r.code == 0);
  j = nlohmann::json::parse(r.out)["results"][0];
  MESSAGE("xk-6.12.117+deb13-amd64: " << j["kind"] << " " << j["candidates"][0]["id"]);
  CHECK(std::string(j["candidates"][0]["id"]).rfind("6.12.", 0) == 0);
}

TEST_CASE("host-proxy-second-gen: proxied-from the fixture host's entry once that host is in a catalog") {
  // The fixture host's own vDSO is the first-gen dump (its README); a catalog entry made from those
  // bytes stands for "the host added with catalog add --host" on any machine, whatever it runs.
  auto host = test::fixture_host("host/x86_64");
  catalog::Catalog cat = catalog::Catalog::builtin();
  cat.add(host.entry, host.elf);
  analyze::Identifier id(cat);
  auto proxy = test::dumped_bytes("host-proxy-second-gen/images", 8311, 0x7f4f1273c000, 0x2000);
  auto r = id.identify_bytes("second-gen", proxy);
  CHECK(r.kind == MatchKind::ProxiedFrom);
  REQUIRE(!r.candidates.empty());
  CHECK(r.candidates[0].entry->id == "host/x86_64");
  // Without the host entry: only nearest (the host is not a Debian kernel).
  analyze::Identifier plain(catalog::Catalog::builtin());
  CHECK(plain.identify_bytes("second-gen", proxy).kind == MatchKind::Nearest);
  CHECK(id.identify_bytes("first-gen", host.dumped).kind == MatchKind::Exact);

  // The live part runs only where the running kernel's vDSO is byte-for-byte the fixture host's:
  // the same version on another build (6.18.44 v669 vs v769) has different bytes.
  auto h = catalog::host_capture(vdso::Abi::X86_64);
  REQUIRE(h);
  if (h->entry.sha256 != host.entry.sha256) {
    MESSAGE("the running kernel's vDSO (" << h->entry.sha256.substr(0, 12) << ") is not the fixture host's ("
                                          << host.entry.sha256.substr(0, 12) << "); live part skipped");
    return;
  }
  catalog::Catalog live = catalog::Catalog::builtin();
  live.add(h->entry, h->bytes);
  analyze::Identifier lid(live);
  auto lr = lid.identify_bytes("second-gen", proxy);
  CHECK(lr.kind == MatchKind::ProxiedFrom);
  REQUIRE(!lr.candidates.empty());
  CHECK(lr.candidates[0].entry->id == "host/x86_64");
}
