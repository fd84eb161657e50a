// formats/catalog: the corpus catalog (built-in and corpora/catalog.yaml), YAML round trip, errors,
// the host entry against /proc/self/maps, and the catalog subcommands.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "formats/catalog/catalog.h"
#include "formats/catalog/host.h"
#include "formats/common/sha256.h"
#include "support/fixtures.h"

using namespace vk;
using catalog::Catalog;

namespace {

bool same_symbols(const std::vector<catalog::Symbol>& a, const std::vector<vdso::Symbol>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].version != b[i].version || a[i].offset != b[i].offset ||
        a[i].size != b[i].size || a[i].type != b[i].type || a[i].bind != b[i].bind)
      return false;
  return true;
}

bool same_entry(const catalog::Entry& a, const catalog::Entry& b) {
  auto fact_eq = [](const auto& x, const auto& y) { return x.value == y.value && x.source == y.source; };
  bool syms = a.symbols.size() == b.symbols.size();
  for (size_t i = 0; syms && i < a.symbols.size(); ++i) {
    const auto &x = a.symbols[i], &y = b.symbols[i];
    syms = x.name == y.name && x.version == y.version && x.offset == y.offset && x.size == y.size &&
           x.type == y.type && x.bind == y.bind;
  }
  return syms && a.id == b.id && a.release == b.release && a.version == b.version &&
         a.version_code == b.version_code && a.flavour == b.flavour && a.distribution == b.distribution &&
         a.package == b.package && a.package_version == b.package_version &&
         a.package_sha256 == b.package_sha256 && a.suite == b.suite && a.abi == b.abi &&
         a.compiler == b.compiler && a.file == b.file && a.sha256 == b.sha256 && a.size == b.size &&
         a.vdso_pages == b.vdso_pages && a.vdso_pages_source == b.vdso_pages_source &&
         fact_eq(a.vvar_pages, b.vvar_pages) && fact_eq(a.vvar_vclock_pages, b.vvar_vclock_pages) &&
         fact_eq(a.order, b.order) && fact_eq(a.vdso_name_survives_mremap, b.vdso_name_survives_mremap) &&
         fact_eq(a.arch_map_vdso, b.arch_map_vdso) && fact_eq(a.has_vvar_vclock, b.has_vvar_vclock) &&
         a.synthetic == b.synthetic;
}

std::string self_maps() { return test::read_text("/proc/self/maps"); }

}  // namespace

TEST_CASE("corpora/catalog.yaml: every entry loads, hashes and has libObject's symbols") {
  auto cat = Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE_MESSAGE(cat, (cat ? "" : cat.error().str()));
  REQUIRE(cat->entries().size() > 40);
  size_t synthetic = 0;
  for (const auto& e : cat->entries()) {
    CAPTURE(e.id);
    auto b = cat->bytes(e);
    REQUIRE(b);
    CHECK(b->size() == e.size);
    CHECK(sha256_hex(*b) == e.sha256);
    auto v = vdso::parse(e.id, *b);
    REQUIRE(v);
    CHECK(v->abi == e.abi);
    CHECK(same_symbols(e.symbols, v->symbols));
    CHECK(e.vdso_pages * 4096 >= e.size);
    if (e.synthetic) {
      ++synthetic;
      CHECK(e.order.value == catalog::Order::SingleZone);
      CHECK(e.vvar_pages.value == 0);
      CHECK(e.order.source == catalog::Source::Synthetic);
      CHECK(cat->by_sha256(e.sha256) != &e);   // the hash names the real build it borrows from
    } else {
      CHECK(cat->by_sha256(e.sha256) == &e);
      CHECK(e.order.value == catalog::Order::VvarBeforeVdso);
      CHECK(e.vvar_pages.value == 4);
      CHECK(e.vvar_vclock_pages.value == (e.version_code >= catalog::version_code(6, 13, 0) ? 2u : 0u));
      CHECK(e.vdso_name_survives_mremap.value);
      CHECK(e.arch_map_vdso.value);
      CHECK(!e.package_sha256.empty());
    }
  }
  CHECK(synthetic == 1);
  // i386 grew to 3 pages in 7.0 (kernel-corpus.md).
  const auto* i386_7 = cat->find("7.0.13+deb13-amd64/i386");
  REQUIRE(i386_7);
  CHECK(i386_7->vdso_pages == 3);
  const auto* x64_5 = cat->find("5.10.0-32-amd64/x86_64");
  REQUIRE(x64_5);
  CHECK(x64_5->vdso_pages == 2);
  CHECK(!x64_5->has_vvar_vclock.value);
}

TEST_CASE("the built-in catalog is corpora/catalog.yaml with its bytes") {
  const Catalog& b = Catalog::builtin();
  auto f = Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE(f);
  REQUIRE(b.entries().size() == f->entries().size());
  for (size_t i = 0; i < b.entries().size(); ++i) {
    CAPTURE(b.entries()[i].id);
    CHECK(same_entry(b.entries()[i], f->entries()[i]));
    auto bytes = b.bytes(b.entries()[i]);
    REQUIRE(bytes);
    CHECK(sha256_hex(*bytes) == b.entries()[i].sha256);
    // The padded-pages hash the build stored (vdsokit-catalog-compile) is the one of the bytes; a
    // YAML catalog carries none (identify hashes its entries when it needs them).
    const auto& e = b.entries()[i];
    CHECK(f->entries()[i].sha256_pages.empty());
    if (e.synthetic) {
      CHECK(e.sha256_pages.empty());
    } else {
      std::vector<uint8_t> padded = *bytes;
      padded.resize(std::max<uint64_t>(e.vdso_pages * 4096, (bytes->size() + 4095) / 4096 * 4096));
      CHECK(e.sha256_pages == sha256_hex(padded));
      CHECK(e.sha256_pages == catalog::pages_sha256(f->entries()[i], *bytes));
    }
  }
}

TEST_CASE("catalog YAML round trip: load -> to_yaml -> load is equal") {
  auto a = Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE(a);
  auto b = Catalog::parse(a->to_yaml(), "round-trip", test::source("corpora"));
  REQUIRE_MESSAGE(b, (b ? "" : b.error().str()));
  REQUIRE(a->entries().size() == b->entries().size());
  for (size_t i = 0; i < a->entries().size(); ++i) {
    CAPTURE(a->entries()[i].id);
    CHECK(same_entry(a->entries()[i], b->entries()[i]));
  }
  CHECK(a->to_yaml() == b->to_yaml());
}

TEST_CASE("to_yaml writes untrusted names by the output policy: invalid UTF-8 as \\xNN, control bytes escaped, ASCII only") {
  // Synthetic entry: a real corpus entry whose symbol and flavour names carry bytes a hostile catalog
  // or package could (issue 12; formats/common/text.h).
  auto a = Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE(a);
  catalog::Entry e = a->entries().front();
  e.flavour = std::string("cloud\xff\x1b[2J");
  REQUIRE(!e.symbols.empty());
  e.symbols[0].name = std::string("__vdso_\xc3\xa9t\xe9");   // valid "é", then a lone 0xe9
  Catalog c;
  c.add(e);
  std::string y = c.to_yaml();
  for (unsigned char ch : y) CHECK_MESSAGE((ch == '\n' || (ch >= 0x20 && ch < 0x7f)), "byte " << int(ch));
  auto back = Catalog::parse(y, "escaped.yaml", test::source("corpora"));
  REQUIRE_MESSAGE(back, (back ? "" : back.error().str()));
  CHECK(back->entries()[0].flavour == "cloud\\xff\x1b[2J");    // the control byte survives, escaped in YAML
  CHECK(back->entries()[0].symbols[0].name == "__vdso_\xc3\xa9t\\xe9");
}

TEST_CASE("merge: later catalogs win on the same id") {
  auto a = Catalog::load(test::source("corpora/catalog.yaml"));
  REQUIRE(a);
  Catalog extra;
  catalog::Entry e = a->entries().back();
  size_t n = a->entries().size();
  e.flavour = "changed";
  extra.add(e);
  REQUIRE(a->merge(extra));
  CHECK(a->entries().size() == n);
  CHECK(a->find(e.id)->flavour == "changed");
}

TEST_CASE("malformed catalog YAML: an error naming the file, line and column") {
  test::TempDir tmp;
  std::ofstream(tmp / "bad.yaml") << "schema: vdsokit-catalog/1\nentries:\n  - id: x\n    release: [unclosed\n";
  auto c = Catalog::load(tmp / "bad.yaml");
  REQUIRE(!c);
  CHECK(c.error().file == tmp / "bad.yaml");
  CHECK(c.error().message.find("line ") != std::string::npos);
  CHECK(c.error().exit_code == kExitBadInput);

  std::ofstream(tmp / "missing.yaml") << "schema: vdsokit-catalog/1\nentries:\n  - id: x\n    release: r\n";
  auto m = Catalog::load(tmp / "missing.yaml");
  REQUIRE(!m);
  CHECK(m.error().message.find("missing 'abi'") != std::string::npos);
  CHECK(m.error().message.find("line 3") != std::string::npos);

  auto r = test::run_vdsokit({"catalog", "list", "--catalog", tmp / "bad.yaml"});
  CHECK(r.code == 3);
  CHECK(r.err.find("bad.yaml") != std::string::npos);
  CHECK(r.err.find("line ") != std::string::npos);
}

TEST_CASE("version rules (docs/vdso-restore.md §10.2)") {
  using catalog::version_code;
  CHECK(catalog::parse_version("6.1.158") == version_code(6, 1, 158));
  CHECK(catalog::parse_version("7.3-amd64") == version_code(7, 3, 0));
  CHECK(catalog::parse_version("5.10.300") == version_code(5, 10, 255));
  CHECK(catalog::parse_version("x") == 0);
  CHECK(catalog::parse_version("6.256") == 0);
  CHECK(catalog::parse_version("4294967302.1") == 0);
  CHECK(!catalog::version_name_survives_mremap(version_code(3, 15, 0)));
  CHECK(catalog::version_name_survives_mremap(version_code(3, 16, 0)));
  CHECK(!catalog::version_has_arch_map_vdso(version_code(4, 8, 9)));
  CHECK(catalog::version_has_arch_map_vdso(version_code(4, 9, 0)));
  CHECK(!catalog::version_has_vvar_vclock(version_code(6, 12, 200)));
  CHECK(catalog::version_has_vvar_vclock(version_code(6, 13, 0)));
}

// fuzz_catalog found `version: "3.1888…80.0"` (90 digits) overflowing an int while it was parsed (UBSan);
// the reproducer is the fuzzer's input, unchanged.
TEST_CASE("parse_version: a part of any length saturates, never overflows (fuzz/regressions/catalog)") {
  using catalog::version_code;
  CHECK(catalog::parse_version("5.10." + std::string(40, '9')) == version_code(5, 10, 255));
  CHECK(catalog::parse_version("3." + std::string(90, '8') + ".0") == 0);
  CHECK(catalog::parse_version(std::string(30, '7') + ".1.2") == 0);
  auto text = test::read_text(test::source("fuzz/regressions/catalog/version-digits-overflow"));
  // Its `version` is read (and overflowed, before the fix) before its abi is refused.
  auto cat = catalog::Catalog::parse(text, "version-digits-overflow", "");
  REQUIRE(!cat);
  CHECK(cat.error().str().find("unknown abi") != std::string::npos);
}

TEST_CASE("layout_from_maps: both orders, vclock, single zone, gaps") {
  auto l = catalog::layout_from_maps(
      "7f0000000000-7f0000004000 r--p 00000000 00:00 0  [vvar]\n"
      "7f0000004000-7f0000006000 r--p 00000000 00:00 0  [vvar_vclock]\n"
      "7f0000006000-7f0000008000 r-xp 00000000 00:00 0  [vdso]\n",
      "m");
  REQUIRE(l);
  CHECK(l->vvar_pages == 4);
  CHECK(l->vvar_vclock_pages == 2);
  CHECK(l->vdso_pages == 2);
  CHECK(l->order == catalog::Order::VvarBeforeVdso);
  l = catalog::layout_from_maps("1000-3000 r-xp 0 00:00 0 [vdso]\n3000-7000 r--p 0 00:00 0 [vvar]\n", "m");
  REQUIRE(l);
  CHECK(l->order == catalog::Order::VdsoBeforeVvar);
  l = catalog::layout_from_maps("1000-3000 r-xp 0 00:00 0 [vdso]\n", "m");
  REQUIRE(l);
  CHECK(l->order == catalog::Order::SingleZone);
  CHECK(!catalog::layout_from_maps("1000-3000 r-xp 0 00:00 0 [vdso]\n8000-9000 r--p 0 00:00 0 [vvar]\n", "m"));
  CHECK(!catalog::layout_from_maps("", "m"));
}

TEST_CASE("host entry: layout and bytes match this process's /proc/self/maps") {
  auto h = catalog::host_capture(vdso::Abi::X86_64);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().str()));
  auto l = catalog::layout_from_maps(self_maps(), "/proc/self/maps");
  REQUIRE(l);
  const auto& e = h->entry;
  CHECK(e.id == "host/x86_64");
  CHECK(e.vdso_pages == l->vdso_pages);
  CHECK(e.vvar_pages.value == l->vvar_pages);
  CHECK(e.vvar_vclock_pages.value == l->vvar_vclock_pages);
  CHECK(e.order.value == l->order);
  CHECK(e.order.source == catalog::Source::Host);
  CHECK(e.sha256 == sha256_hex(h->bytes));
  CHECK(e.size == h->bytes.size());
  CHECK(!e.symbols.empty());
  auto v = vdso::parse("host", h->bytes);
  REQUIRE(v);
  CHECK(same_symbols(e.symbols, v->symbols));
  auto e2 = catalog::host_entry(vdso::Abi::X86_64);
  REQUIRE(e2);
  CHECK(e2->sha256 == e.sha256);
}

TEST_CASE("host entry, i386: through ARCH_MAP_VDSO_32 when the kernel has ia32 emulation") {
  auto h = catalog::host_capture(vdso::Abi::I386);
  if (!h) {
    MESSAGE("i386 host vDSO not available: " << h.error().str());
    return;
  }
  CHECK(h->entry.abi == vdso::Abi::I386);
  CHECK(h->entry.id == "host/i386");
  CHECK(h->entry.find("__kernel_vsyscall") != nullptr);
  auto l = catalog::layout_from_maps(self_maps(), "/proc/self/maps");
  REQUIRE(l);
  // Same kernel, same data zones around the compat image.
  CHECK(h->entry.vvar_pages.value == l->vvar_pages);
  CHECK(h->entry.vvar_vclock_pages.value == l->vvar_vclock_pages);
  CHECK(h->entry.order.value == l->order);
}

TEST_CASE("vdsokit catalog add --host into a temporary catalog") {
  test::TempDir tmp;
  auto r = test::run_vdsokit({"catalog", "add", "--host", "--abi", "x86_64", "--catalog", tmp / "user.yaml"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto c = Catalog::load(tmp / "user.yaml");
  REQUIRE(c);
  REQUIRE(c->entries().size() == 1);
  const auto& e = c->entries()[0];
  auto l = catalog::layout_from_maps(self_maps(), "/proc/self/maps");
  REQUIRE(l);
  // The child process runs on the same kernel: same layout.
  CHECK(e.vdso_pages == l->vdso_pages);
  CHECK(e.vvar_pages.value == l->vvar_pages);
  CHECK(e.vvar_vclock_pages.value == l->vvar_vclock_pages);
  CHECK(e.order.value == l->order);
  auto b = c->bytes(e);
  REQUIRE(b);
  CHECK(sha256_hex(*b) == e.sha256);
  auto v = test::run_vdsokit({"catalog", "verify", "--no-builtin", "--catalog", tmp / "user.yaml"});
  CHECK(v.code == 0);
}

TEST_CASE("vdsokit catalog list/show/verify/add FILE") {
  auto l = test::run_vdsokit({"catalog", "list", "--abi", "i386", "--min-version", "7.0", "--format", "json"});
  REQUIRE(l.code == 0);
  auto j = nlohmann::json::parse(l.out);
  REQUIRE(!j["entries"].empty());
  for (const auto& e : j["entries"]) {
    CHECK(e["abi"] == "i386");
    CHECK(e["version_code"].get<uint32_t>() >= catalog::version_code(7, 0, 0));
  }
  auto m = test::run_vdsokit({"catalog", "list", "--max-version", "5.10"});
  CHECK(m.code == 0);
  CHECK(m.out.find("5.10.0-32-amd64/x86_64") != std::string::npos);
  CHECK(m.out.find("synthetic-3.10/x86_64") != std::string::npos);
  CHECK(m.out.find("6.1.0") == std::string::npos);

  auto s = test::run_vdsokit({"catalog", "show", "5.10.0-32-amd64/x86_64"});
  REQUIRE(s.code == 0);
  CHECK(s.out.find("__vdso_clock_gettime") != std::string::npos);
  CHECK(s.out.find("bullseye") != std::string::npos);
  CHECK(test::run_vdsokit({"catalog", "show", "nope"}).code == 2);

  auto v = test::run_vdsokit({"catalog", "verify"});
  CHECK_MESSAGE(v.code == 0, v.out);

  // A user catalog with one file added, then corrupted: verify exits 3.
  test::TempDir tmp;
  auto a = test::run_vdsokit({"catalog", "add", test::source("corpora/kernels/6.1.0-47-amd64/x86_64.so"),
                              "--release", "6.1.0-99-test", "--layout", "vvar=4,vclock=0,order=vvar-before-vdso",
                              "--catalog", tmp / "u.yaml"});
  REQUIRE_MESSAGE(a.code == 0, a.err);
  auto c = Catalog::load(tmp / "u.yaml");
  REQUIRE(c);
  const auto* e = c->find("6.1.0-99-test/x86_64");
  REQUIRE(e);
  CHECK(e->order.source == catalog::Source::User);
  CHECK(test::run_vdsokit({"catalog", "verify", "--no-builtin", "--catalog", tmp / "u.yaml"}).code == 0);
  auto bytes = test::read_bytes(tmp / e->file);
  bytes[0x400] ^= 0xff;
  test::write_bytes(tmp / e->file, bytes);
  auto bad = test::run_vdsokit({"catalog", "verify", "--no-builtin", "--catalog", tmp / "u.yaml"});
  CHECK(bad.code == 3);
  CHECK(bad.out.find("MISMATCH 6.1.0-99-test/x86_64") != std::string::npos);
}

TEST_CASE("vdsokit catalog rebuild reproduces corpora/catalog.yaml") {
  test::TempDir tmp;
  // Same relative layout as corpora/: link kernels/ and layouts/ beside the output.
  std::filesystem::create_directory_symlink(test::source("corpora/kernels"), tmp / "kernels");
  if (std::filesystem::exists(test::source("corpora/layouts")))
    std::filesystem::create_directory_symlink(test::source("corpora/layouts"), tmp / "layouts");
  auto r = test::run_vdsokit({"catalog", "rebuild", "--from", tmp / "kernels", "-o", tmp / "catalog.yaml"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(test::read_text(tmp / "catalog.yaml") == test::read_text(test::source("corpora/catalog.yaml")));
}
