// rewriters/: pagemap schema conversion, vvar retarget, transactions and archive rewrites, on copies of
// the real checkpoints in ../shared/fixtures/criu (docs/rewrite.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include "analyzers/check.h"
#include "formats/archive/archive.h"
#include "formats/catalog/catalog.h"
#include "formats/common/sha256.h"
#include "formats/criu/inputs.h"
#include "rewriters/archive_writer.h"
#include "rewriters/batch.h"
#include "rewriters/pagemap.h"
#include "rewriters/transaction.h"
#include "rewriters/vvar.h"
#include "support/fixtures.h"
#include "support/tarball.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

const char* kSha42 = "a69d197744ad4b99394dad10f35bb90ac51c8ad16cf8bf4ed6b0967688da720a";
const char* kSha41 = "892c03a2fa167c75558144dcbd05df5be470575581322d433d5d4332cfa37118";
const char* kXk612 = "xk-6.12.117+deb13-amd64";
const char* kTarget616 = "6.16.12+deb13-cloud-amd64";

std::map<std::string, std::vector<uint8_t>> dir_bytes(const std::string& dir) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().filename().string()] = test::read_bytes(e.path().string());
  return out;
}

rewrite::BatchReport pagemap_batch(const std::vector<std::string>& inputs, rewrite::PagemapSchema to, bool dry_run = false,
                                   std::string output = "") {
  rewrite::BatchOptions o;
  o.dry_run = dry_run;
  o.output = std::move(output);
  return rewrite::run_batch(inputs, [to](const criu::ImageSet& s, const std::string&) { return rewrite::plan_pagemap(s, to); },
                            o, "pagemap");
}

rewrite::BatchReport vvar_batch(const std::vector<std::string>& inputs, const std::string& target, bool dry_run = false,
                                const std::string& restorer = "criu-4.2", bool force = false) {
  auto cat = std::make_shared<catalog::Catalog>(catalog::effective_catalog({}).take());
  const auto* r = analyze::find_restorer(restorer);
  rewrite::BatchOptions o;
  o.dry_run = dry_run;
  return rewrite::run_batch(inputs, [cat, r, target, force](const criu::ImageSet& s, const std::string& label) {
    return rewrite::plan_vvar(s, label, *cat, target, *r, force);
  }, o, "vvar");
}

}  // namespace

TEST_CASE("pagemap: 4.2 -> 4.1 gives exactly host-pagemap-legacy's file, and back gives the original") {
  auto img42 = test::read_bytes(test::fixture("host-vdsoloop/images/pagemap-7660.img"));
  auto img41 = test::read_bytes(test::fixture("host-pagemap-legacy/images/pagemap-7660.img"));
  REQUIRE(sha256_hex(img42) == kSha42);
  REQUIRE(sha256_hex(img41) == kSha41);

  auto parsed42 = criu::parse_image("pagemap-7660.img", img42);
  REQUIRE(parsed42);
  auto to41 = rewrite::convert_pagemap(*parsed42, rewrite::PagemapSchema::V41);
  REQUIRE(to41);
  CHECK(to41->entries == 11);
  CHECK(to41->changed == 11);
  REQUIRE(to41->bytes);
  CHECK(sha256_hex(*to41->bytes) == kSha41);
  CHECK(*to41->bytes == img41);

  auto parsed41 = criu::parse_image("pagemap-7660.img", *to41->bytes);
  REQUIRE(parsed41);
  auto back = rewrite::convert_pagemap(*parsed41, rewrite::PagemapSchema::V42);
  REQUIRE(back);
  REQUIRE(back->bytes);
  CHECK(sha256_hex(*back->bytes) == kSha42);

  // Already in the target schema: nothing to write.
  auto same = rewrite::convert_pagemap(*parsed42, rewrite::PagemapSchema::V42);
  REQUIRE(same);
  CHECK(same->changed == 0);
  CHECK_FALSE(same->bytes);
}

TEST_CASE("pagemap: a directory round trip, the second run is unchanged, other files byte-identical") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "set");
  auto before = dir_bytes(tmp / "set");
  auto r = pagemap_batch({tmp / "set"}, rewrite::PagemapSchema::V41);
  REQUIRE(r.units.size() == 1);
  CHECK(r.units[0].status == "rewritten");
  CHECK(r.exit_code() == 0);
  auto after = dir_bytes(tmp / "set");
  CHECK(after == dir_bytes(test::fixture("host-pagemap-legacy/images")));
  for (const auto& [f, b] : before)
    if (f != "pagemap-7660.img") CHECK(after[f] == b);
  // The rewritten set reads as schema 4.1 with the same runs.
  auto sets = criu::open_sets({tmp / "set"});
  REQUIRE(sets);
  auto pm = sets->front().set.pagemap(7660);
  REQUIRE(pm);
  CHECK(pm->schema() == "4.1");
  CHECK(pm->runs.size() == 11);
  // No temporary files left behind.
  CHECK(after.size() == before.size());

  auto again = pagemap_batch({tmp / "set"}, rewrite::PagemapSchema::V41);
  CHECK(again.units[0].status == "unchanged");
  auto back = pagemap_batch({tmp / "set"}, rewrite::PagemapSchema::V42);
  CHECK(back.units[0].status == "rewritten");
  CHECK(dir_bytes(tmp / "set") == before);
}

TEST_CASE("pagemap: a count above UINT32_MAX is refused for 4.1, naming the file and entry offset (synthetic)") {
  // Synthetic: the real head of host-vdsoloop's pagemap, then one 4.2 entry with 2^32 pages in field 5.
  auto real = criu::parse_image("pagemap-7660.img", test::read_bytes(test::fixture("host-vdsoloop/images/pagemap-7660.img")));
  REQUIRE(real);
  criu::Image img = *real;
  img.entries.resize(1);
  img::pagemap_entry e;
  e.set_vaddr(0x7f0000000000);
  e.set_compat_nr_pages(0);
  e.set_flags(criu::kPePresent);
  e.set_nr_pages(uint64_t(1) << 32);
  criu::encode_entry(img, 1, e);
  auto reparsed = criu::parse_image("pagemap-7660.img", criu::write_image(img));
  REQUIRE(reparsed);
  auto r = rewrite::convert_pagemap(*reparsed, rewrite::PagemapSchema::V41);
  REQUIRE_FALSE(r);
  CHECK(r.error().file == "pagemap-7660.img");
  REQUIRE(r.error().offset);
  CHECK(*r.error().offset == reparsed->entries[1].offset);
  CHECK(r.error().message.find("4294967296") != std::string::npos);
  // To 4.2 it is already in the schema.
  auto ok = rewrite::convert_pagemap(*reparsed, rewrite::PagemapSchema::V42);
  REQUIRE(ok);
  CHECK(ok->changed == 0);
}

TEST_CASE("pagemap: unknown fields keep their bytes and place (synthetic entry with field 9)") {
  auto real = criu::parse_image("pagemap-7660.img", test::read_bytes(test::fixture("host-pagemap-legacy/images/pagemap-7660.img")));
  REQUIRE(real);
  criu::Image img = *real;
  // Field 9 (varint 7) appended after the real fields of entry #0: 0x48 0x07.
  img.entries[1].payload += std::string("\x48\x07", 2);
  auto parsed = criu::parse_image("p.img", criu::write_image(img));
  REQUIRE(parsed);
  auto c = rewrite::convert_pagemap(*parsed, rewrite::PagemapSchema::V42);
  REQUIRE(c);
  REQUIRE(c->bytes);
  auto out = criu::parse_image("p.img", *c->bytes);
  REQUIRE(out);
  const std::string& p = out->entries[1].payload;
  // ... field 4 (flags), then the new field 5, then field 9 as it was.
  REQUIRE(p.size() >= 4);
  CHECK(p.substr(p.size() - 2) == std::string("\x48\x07", 2));
  CHECK(p[p.size() - 4] == 0x28);
  auto back = criu::parse_image("p.img", *c->bytes);
  auto c2 = rewrite::convert_pagemap(*back, rewrite::PagemapSchema::V41);
  REQUIRE(c2);
  REQUIRE(c2->bytes);
  CHECK(*c2->bytes == criu::write_image(img));
}

TEST_CASE("vvar: the retargetable xk-6.12 checkpoint is refused for VK005, forced it becomes inplace on 6.16, only mm-*.img changes") {
  test::TempDir tmp;
  test::copy_dir(test::fixture(std::string(kXk612) + "/images"), tmp / "set");
  CHECK(test::single_outcome(tmp / "set", kTarget616).verdict == analyze::Verdict::Retargetable);
  auto before = dir_bytes(tmp / "set");

  // In place afterwards, but __vdso_sgx_enter_enclave moved (VK005): refused unless forced.
  auto refused = vvar_batch({tmp / "set"}, kTarget616);
  CHECK(refused.units[0].status == "refused");
  CHECK(refused.exit_code() == kExitFindings);
  REQUIRE(refused.units[0].error);
  CHECK(refused.units[0].error->message.find("VK005") != std::string::npos);
  CHECK(dir_bytes(tmp / "set") == before);

  auto dry = vvar_batch({tmp / "set"}, kTarget616, true, "criu-4.2", true);
  CHECK(dry.units[0].status == "would-rewrite");
  CHECK(dir_bytes(tmp / "set") == before);

  auto r = vvar_batch({tmp / "set"}, kTarget616, false, "criu-4.2", true);
  REQUIRE(r.units.size() == 1);
  CHECK(r.units[0].status == "rewritten");
  CHECK(r.exit_code() == 0);
  CHECK(test::single_outcome(tmp / "set", kTarget616).verdict == analyze::Verdict::Inplace);
  auto after = dir_bytes(tmp / "set");
  CHECK(after.size() == before.size());
  for (const auto& [f, b] : before) {
    if (f.rfind("mm-", 0) == 0) CHECK(after[f] != b);
    else CHECK(after[f] == b);
  }
  // The new vvar VMA: 6 pages ending at the vdso; the VMA list stays sorted; every other VMA is equal.
  auto sets = criu::open_sets({tmp / "set"});
  REQUIRE(sets);
  const auto& set = sets->front().set;
  auto mm = set.mm(set.pstree().front().pid());
  REQUIRE(mm);
  auto orig_set = criu::open_sets({test::fixture(std::string(kXk612) + "/images")});
  REQUIRE(orig_set);
  auto orig = orig_set->front().set.mm(set.pstree().front().pid());
  REQUIRE(orig);
  REQUIRE(mm->vmas_size() == orig->vmas_size());
  uint64_t vdso_start = 0;
  for (const auto& v : mm->vmas())
    if ((v.status() & criu::kVmaVdso) == criu::kVmaVdso) vdso_start = v.start();
  for (int i = 0; i < mm->vmas_size(); ++i) {
    const auto& v = mm->vmas(i);
    if (i > 0) CHECK(mm->vmas(i - 1).end() <= v.start());
    if (v.status() & criu::kVmaVvar) {
      CHECK(v.end() - v.start() == 6 * criu::kPageSize);
      CHECK(v.end() == vdso_start);
      CHECK(v.madv() == orig->vmas(i).madv());
      CHECK(v.status() == orig->vmas(i).status());
    } else {
      CHECK(v.SerializeAsString() == orig->vmas(i).SerializeAsString());
    }
  }
  CHECK(mm->mm_saved_auxv_size() == orig->mm_saved_auxv_size());

  auto again = vvar_batch({tmp / "set"}, kTarget616, false, "criu-4.2", true);
  CHECK(again.units[0].status == "unchanged");
}

TEST_CASE("vvar: a proxy verdict is refused with exit 1, a blocked one with 4, the set is untouched") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("xk-5.10.0-46-amd64/images"), tmp / "proxy");
  auto before = dir_bytes(tmp / "proxy");
  auto r = vvar_batch({tmp / "proxy"}, kTarget616);
  CHECK(r.units[0].status == "refused");
  CHECK(r.exit_code() == kExitFindings);
  REQUIRE(r.units[0].error);
  CHECK(r.units[0].error->message.find("not retargetable") != std::string::npos);
  CHECK(dir_bytes(tmp / "proxy") == before);

  // criu-4.0 cannot restore anything on a >= 6.13 kernel (VK010): blocked.
  test::copy_dir(test::fixture(std::string(kXk612) + "/images"), tmp / "blocked");
  auto before_b = dir_bytes(tmp / "blocked");
  auto b = vvar_batch({tmp / "blocked"}, kTarget616, false, "criu-4.0");
  CHECK(b.units[0].status == "refused");
  CHECK(b.exit_code() == kExitBlocked);
  CHECK(dir_bytes(tmp / "blocked") == before_b);
}

TEST_CASE("archive: .tar.zst pagemap to 4.1 keeps every other member byte-identical and the zstd filter") {
  test::TempDir tmp;
  std::string src = test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst");
  std::string ar = tmp / "host-vdsoloop.tar.zst";
  fs::copy_file(src, ar);
  auto r = pagemap_batch({ar}, rewrite::PagemapSchema::V41);
  REQUIRE(r.units.size() == 1);
  CHECK(r.units[0].kind == "archive");
  CHECK(r.units[0].status == "rewritten");
  // Still zstd (magic 28 b5 2f fd).
  auto head = test::read_bytes(ar);
  REQUIRE(head.size() > 4);
  CHECK(head[0] == 0x28);
  CHECK(head[1] == 0xb5);
  CHECK(head[2] == 0x2f);
  CHECK(head[3] == 0xfd);
  // Read back through discovery: one set, pagemap now 4.1 with the legacy fixture's bytes.
  auto found = criu::discover(ar);
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  auto a = vk::archive::Archive::open(src);
  auto b = vk::archive::Archive::open(ar);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE((*a)->members().size() == (*b)->members().size());
  for (const auto& [path, m] : (*a)->members()) {
    auto it = (*b)->members().find(path);
    REQUIRE(it != (*b)->members().end());
    CHECK(m.is_dir == it->second.is_dir);
    if (!m.blob) continue;
    auto x = m.blob->read_all(UINT64_MAX);
    auto y = it->second.blob->read_all(UINT64_MAX);
    REQUIRE(x);
    REQUIRE(y);
    if (path == "checkpoint/pagemap-7660.img") CHECK(sha256_hex(*y) == kSha41);
    else CHECK(*x == *y);
  }
  auto sets = criu::open_sets({ar});
  REQUIRE(sets);
  auto pm = sets->front().set.pagemap(7660);
  REQUIRE(pm);
  CHECK(pm->schema() == "4.1");
  // No temporary left beside it.
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);

  // --output: the input stays, the output is the 4.2 archive again.
  auto back = pagemap_batch({ar}, rewrite::PagemapSchema::V42, false, tmp / "out.tar.zst");
  CHECK(back.units[0].status == "rewritten");
  auto o = vk::archive::Archive::open(tmp / "out.tar.zst");
  REQUIRE(o);
  auto pmo = (*o)->members().at("checkpoint/pagemap-7660.img").blob->read_all(UINT64_MAX);
  REQUIRE(pmo);
  CHECK(sha256_hex(*pmo) == kSha42);
  CHECK(sets->front().set.pagemap(7660)->schema() == "4.1");
}

TEST_CASE("archive: .tar and .tar.gz keep their format, dry run writes nothing") {
  test::TempDir tmp;
  for (const char* name : {"host-vdsoloop.tar", "host-vdsoloop.tar.gz"}) {
    std::string ar = tmp / name;
    fs::copy_file(test::fixture(std::string("host-vdsoloop-podman/") + name), ar);
    auto orig = test::read_bytes(ar);
    auto dry = pagemap_batch({ar}, rewrite::PagemapSchema::V41, true);
    CHECK(dry.units[0].status == "would-rewrite");
    CHECK(test::read_bytes(ar) == orig);
    auto r = pagemap_batch({ar}, rewrite::PagemapSchema::V41);
    CHECK(r.units[0].status == "rewritten");
    auto now = test::read_bytes(ar);
    REQUIRE(now.size() > 262);
    if (std::string(name).size() > 18) {
      CHECK(now[0] == 0x1f);
      CHECK(now[1] == 0x8b);
    } else {
      CHECK(std::string(now.begin() + 257, now.begin() + 265) == std::string("ustar  \0", 8));
    }
    auto sets = criu::open_sets({ar});
    REQUIRE(sets);
    CHECK(sets->front().set.pagemap(7660)->schema() == "4.1");
  }
}

TEST_CASE("failures leave inputs untouched: a malformed pagemap beside a good one, other inputs still processed") {
  test::TempDir tmp;
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "bad");
  test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "good");
  // Synthetic: a second pagemap cut in the middle of an entry; pagemap-7660 (sorted first) is valid.
  auto pm = test::read_bytes(tmp / "bad/pagemap-7660.img");
  pm.resize(pm.size() - 5);
  test::write_bytes(tmp / "bad/pagemap-9999.img", pm);
  auto before = dir_bytes(tmp / "bad");
  auto r = pagemap_batch({tmp / "bad", tmp / "good"}, rewrite::PagemapSchema::V41);
  REQUIRE(r.units.size() == 2);
  CHECK(r.units[0].status == "error");
  REQUIRE(r.units[0].error);
  CHECK(r.units[0].error->file.find("pagemap-9999.img") != std::string::npos);
  CHECK(r.units[0].error->offset.has_value());
  CHECK(dir_bytes(tmp / "bad") == before);
  CHECK(r.units[1].status == "rewritten");
  CHECK(r.exit_code() == kExitBadInput);
}

TEST_CASE("transaction: a failure while staging leaves every target untouched") {
  test::TempDir tmp;
  test::write_bytes(tmp / "a", {1, 2, 3});
  rewrite::Transaction t(tmp.path);
  t.stage(tmp / "a", {9, 9});
  t.stage(tmp / "missing-dir/b", {7});
  auto st = t.commit();
  CHECK_FALSE(st);
  CHECK(test::read_bytes(tmp / "a") == std::vector<uint8_t>{1, 2, 3});
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);

  rewrite::Transaction ok(tmp.path);
  ok.stage(tmp / "a", {9, 9});
  CHECK(ok.commit());
  CHECK(test::read_bytes(tmp / "a") == std::vector<uint8_t>{9, 9});
}

TEST_CASE("archive: of a duplicated name only the last copy is rewritten; a plain .tar round trip gives the input's bytes (issue 12 D19)") {
  test::TempDir tmp;
  // Synthetic: the real set, preceded by an older copy of its pagemap under the same name.
  auto members = test::members_of(test::fixture("host-vdsoloop/images"), "checkpoint");
  std::vector<uint8_t> older = {0xde, 0xad, 0xbe, 0xef};
  members.insert(members.begin(), test::TarMember{"checkpoint/pagemap-7660.img", older, 0, 0});
  std::string ar = tmp / "dup.tar";
  test::write_tar(ar, "none", members);
  auto orig = test::read_bytes(ar);
  auto r = pagemap_batch({ar}, rewrite::PagemapSchema::V41);
  REQUIRE(r.units[0].status == "rewritten");
  auto rd = vk::archive::Reader::open(ar);
  REQUIRE(rd);
  std::vector<std::vector<uint8_t>> copies;
  for (;;) {
    auto e = (*rd)->next();
    REQUIRE(e);
    if (!*e) break;
    if ((*rd)->member() != "checkpoint/pagemap-7660.img") continue;
    std::vector<uint8_t> bytes(1 << 16);
    auto n = (*rd)->read(bytes.data(), bytes.size());
    REQUIRE(n);
    bytes.resize(*n);
    copies.push_back(bytes);
  }
  REQUIRE(copies.size() == 2);
  CHECK(copies[0] == older);
  CHECK(sha256_hex(copies[1]) == kSha41);
  auto back = pagemap_batch({ar}, rewrite::PagemapSchema::V42);
  REQUIRE(back.units[0].status == "rewritten");
  CHECK(test::read_bytes(ar) == orig);
}

TEST_CASE("archive: a sparse member (synthetic, 10 GiB logical) is read, but the archive is not rewritten; no temporary left (issue 12 D14)") {
  test::TempDir tmp;
  auto members = test::members_of(test::fixture("host-vdsoloop/images"), "checkpoint");
  members.push_back(test::TarMember{"checkpoint/rootfs-diff.tar", std::vector<uint8_t>(4096, 7), 0, 10ull << 30});
  std::string ar = tmp / "sparse.tar";
  test::write_tar(ar, "none", members);
  REQUIRE(std::filesystem::file_size(ar) < (1u << 20));
  auto sets = criu::open_sets({ar});
  REQUIRE_MESSAGE(sets, (sets ? "" : sets.error().str()));
  auto orig = test::read_bytes(ar);
  auto r = pagemap_batch({ar}, rewrite::PagemapSchema::V41);
  CHECK(r.units[0].status == "error");
  REQUIRE(r.units[0].error);
  CHECK(r.units[0].error->file == ar);
  CHECK(r.units[0].error->message.find("sparse") != std::string::npos);
  CHECK(test::read_bytes(ar) == orig);
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);
}

TEST_CASE("archive: the threaded copy carries members of many chunks exactly, and stops cleanly when the input fails mid-stream (synthetic)") {
  // Synthetic .tar.zst: a member to replace, a pseudo-random member of several 256 KiB chunks plus a
  // tail, and 8 MiB of zeros; the reading, writing and verify threads each see many pieces.
  test::TempDir tmp;
  std::vector<uint8_t> rnd(4 * 256 * 1024 + 123);
  uint32_t x = 7;
  for (auto& b : rnd) b = uint8_t((x = x * 1103515245 + 12345) >> 24);
  std::vector<test::TarMember> members = {{"ckpt/a.img", {1, 2, 3}}, {"ckpt/rnd.img", rnd}, {"ckpt/zeros.img", {}, 8u << 20}};
  std::string ar = tmp / "in.tar.zst";
  test::write_tar(ar, "zstd", members);
  auto src = vk::archive::Archive::open(ar);
  REQUIRE(src);
  std::map<std::string, std::vector<uint8_t>> replace = {{"ckpt/a.img", std::vector<uint8_t>(300000, 0x5a)}};
  REQUIRE(rewrite::rewrite_archive(**src, replace, tmp / "out.tar.zst"));
  auto out = vk::archive::Archive::open(tmp / "out.tar.zst");
  REQUIRE(out);
  auto read = [&](const char* name) {
    auto b = (*out)->members().at(name).blob->read_all(UINT64_MAX);
    REQUIRE(b);
    return *b;
  };
  CHECK(read("ckpt/a.img") == replace["ckpt/a.img"]);
  CHECK(read("ckpt/rnd.img") == rnd);
  CHECK(read("ckpt/zeros.img") == std::vector<uint8_t>(8u << 20, 0));

  // The input cut short after it was planned (as if it changed underneath): the reading thread fails
  // mid-stream; the error names the input, nothing is written and no temporary is left.
  fs::resize_file(ar, fs::file_size(ar) / 2);
  fs::remove(tmp / "out.tar.zst");
  Status st = rewrite::rewrite_archive(**src, replace, tmp / "out.tar.zst");
  REQUIRE(!st);
  CHECK(st.error().str().find(ar) != std::string::npos);
  CHECK(!fs::exists(tmp / "out.tar.zst"));
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);
}
