// formats/kernel: bzImage parsing, payload decompression, vDSO carving, .deb reading, .altinstructions.
// Every kernel here is crafted in the test around real vDSO images from corpora/kernels, so no download
// is needed: a vmlinux-like blob, compressed with libarchive's writers (raw format), behind a setup header.
#include <doctest/doctest.h>

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/kernel/bzimage.h"
#include "formats/kernel/carve.h"
#include "formats/kernel/deb.h"
#include "support/fixtures.h"

using namespace vk;
using Bytes = std::vector<uint8_t>;

namespace {

const char* kRelease = "6.1.0-50-amd64";   // a build with all three ABIs, xz-compressed in Debian

Bytes corpus(const std::string& abi) {
  return test::read_bytes(test::source(std::string("corpora/kernels/") + kRelease + "/" + abi + ".so"));
}

void put32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Compresses with one of libarchive's write filters and the raw format (one anonymous entry).
Bytes compress(const Bytes& in, int (*add_filter)(archive*)) {
  archive* a = archive_write_new();
  REQUIRE(add_filter(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_format_raw(a) == ARCHIVE_OK);
  archive_write_set_bytes_in_last_block(a, 1);
  Bytes out(in.size() + (1 << 16));
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_pathname(e, "vmlinux");
  archive_entry_set_size(e, la_int64_t(in.size()));
  REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
  REQUIRE(archive_write_data(a, in.data(), in.size()) == la_ssize_t(in.size()));
  archive_entry_free(e);
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  out.resize(used);
  return out;
}

// A vmlinux stand-in: filler, a decoy ELF magic, then the real vDSO images at page-aligned offsets.
struct FakeVmlinux {
  Bytes bytes;
  std::vector<std::pair<std::string, uint64_t>> placed;
};
FakeVmlinux make_vmlinux() {
  FakeVmlinux v;
  v.bytes.assign(0x3000, 0xcc);
  const uint8_t decoy[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  std::memcpy(v.bytes.data() + 0x800, decoy, sizeof decoy);   // truncated header: must be skipped
  for (const char* abi : {"x86_64", "x32", "i386"}) {
    Bytes img = corpus(abi);
    uint64_t at = v.bytes.size();
    v.bytes.insert(v.bytes.end(), img.begin(), img.end());
    v.bytes.resize((v.bytes.size() + 0xfff) & ~size_t(0xfff), 0);
    v.placed.emplace_back(abi, at);
  }
  v.bytes.resize(v.bytes.size() + 0x1000, 0x90);
  return v;
}

constexpr uint32_t kSetupSects = 1;
constexpr uint32_t kPayloadRel = 0x100;

// A bzImage: boot sector + 1 setup sector (header at 0x1f1..), then the payload at pm+0x100.
Bytes make_bzimage(const Bytes& vmlinux, int (*add_filter)(archive*)) {
  Bytes payload = compress(vmlinux, add_filter);
  size_t n = payload.size();
  payload.resize(n + 4);
  put32(payload, n, uint32_t(vmlinux.size()));
  Bytes f((kSetupSects + 1) * 512 + kPayloadRel, 0);
  f[0x1f1] = uint8_t(kSetupSects);
  std::memcpy(f.data() + 0x202, "HdrS", 4);
  f[0x206] = 0x0f;
  f[0x207] = 0x02;
  put32(f, 0x248, kPayloadRel);
  put32(f, 0x24c, uint32_t(payload.size()));
  f.insert(f.end(), payload.begin(), payload.end());
  f.resize(f.size() + 64, 0);   // trailing bytes after the payload are allowed
  return f;
}

}  // namespace

TEST_CASE("carve_bzimage finds every real vDSO in a crafted bzImage, for each codec libarchive writes") {
  FakeVmlinux vm = make_vmlinux();
  struct C {
    const char* name;
    int (*add)(archive*);
    kernel::Codec codec;
  };
  for (C c : {C{"xz", archive_write_add_filter_xz, kernel::Codec::kXz},
              C{"zstd", archive_write_add_filter_zstd, kernel::Codec::kZstd},
              C{"gzip", archive_write_add_filter_gzip, kernel::Codec::kGzip},
              C{"bzip2", archive_write_add_filter_bzip2, kernel::Codec::kBzip2},
              C{"lzma", archive_write_add_filter_lzma, kernel::Codec::kLzma}}) {
    CAPTURE(c.name);
    Bytes bz = make_bzimage(vm.bytes, c.add);
    auto r = kernel::carve_bzimage(bz, "test.bzImage");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
    CHECK(r->bzimage.codec == c.codec);
    CHECK(r->bzimage.setup_sects == kSetupSects);
    CHECK(r->bzimage.payload_offset == (kSetupSects + 1) * 512 + kPayloadRel);
    CHECK(r->vmlinux_size == vm.bytes.size());
    REQUIRE(r->images.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(r->images[i].abi == vm.placed[i].first);
      CHECK(r->images[i].offset == vm.placed[i].second);
      CHECK(r->images[i].bytes == corpus(vm.placed[i].first));
      CHECK(r->images[i].build_salt == kRelease);
      CHECK(r->images[i].comment.find("GCC") != std::string::npos);
      REQUIRE(r->images[i].linux_version_code);
      CHECK((*r->images[i].linux_version_code >> 8) == 0x0601);
    }
    CHECK(r->images[0].soname == "linux-vdso.so.1");
    CHECK(r->images[2].soname == "linux-gate.so.1");
  }
}

TEST_CASE("hostile or truncated bzImages give a clean error naming the offset") {
  FakeVmlinux vm = make_vmlinux();
  const Bytes good = make_bzimage(vm.bytes, archive_write_add_filter_xz);
  auto expect_err = [](const Bytes& b, uint64_t offset, const char* words) {
    auto r = kernel::carve_bzimage(b, "evil.bzImage");
    REQUIRE_FALSE(r);
    CAPTURE(r.error().str());
    CHECK(r.error().file == "evil.bzImage");
    REQUIRE(r.error().offset);
    CHECK(*r.error().offset == offset);
    CHECK(r.error().message.find(words) != std::string::npos);
  };
  SUBCASE("shorter than the setup header") { expect_err(Bytes(good.begin(), good.begin() + 0x240), 0x240, "too short"); }
  SUBCASE("no HdrS") {
    Bytes b = good;
    b[0x202] = 'X';
    expect_err(b, 0x202, "HdrS");
  }
  SUBCASE("setup_sects past end of file") {
    Bytes b(good.begin(), good.begin() + 0x300);
    b[0x1f1] = 0xff;
    expect_err(b, 0x1f1, "setup_sects");
  }
  SUBCASE("payload_length past end of file") {
    Bytes b = good;
    put32(b, 0x24c, 0x7fffffff);
    expect_err(b, 0x248, "past end of file");
  }
  SUBCASE("payload truncated by cutting the file") {
    Bytes b(good.begin(), good.begin() + good.size() / 2);
    expect_err(b, 0x248, "past end of file");
  }
  SUBCASE("unknown codec magic") {
    Bytes b = good;
    b[(kSetupSects + 1) * 512 + kPayloadRel] = 0;
    expect_err(b, (kSetupSects + 1) * 512 + kPayloadRel, "compression magic");
  }
  SUBCASE("corrupt compressed stream") {
    Bytes b = good;
    for (size_t i = 0; i < 64; ++i) b[(kSetupSects + 1) * 512 + kPayloadRel + 40 + i] ^= 0x5a;
    expect_err(b, (kSetupSects + 1) * 512 + kPayloadRel, "compressed data");
  }
  SUBCASE("trailer disagrees with the decompressed size") {
    Bytes b = good;
    uint64_t trailer = (kSetupSects + 1) * 512 + kPayloadRel;
    uint32_t plen = uint32_t(b[0x24c] | b[0x24d] << 8 | b[0x24e] << 16 | b[0x24f] << 24);
    trailer += plen - 4;
    put32(b, trailer, uint32_t(vm.bytes.size() + 1));
    expect_err(b, trailer, "trailer says");
  }
  SUBCASE("trailer claims a huge kernel") {
    Bytes b = good;
    uint64_t trailer = (kSetupSects + 1) * 512 + kPayloadRel;
    uint32_t plen = uint32_t(b[0x24c] | b[0x24d] << 8 | b[0x24e] << 16 | b[0x24f] << 24);
    trailer += plen - 4;
    put32(b, trailer, 0xffffffffu);
    expect_err(b, trailer, "exceeds the limit");
  }
}

TEST_CASE("find_vdso_images skips malformed candidates and fails cleanly when none is left") {
  FakeVmlinux vm = make_vmlinux();
  // Section header table pushed past the end of the blob: no longer a candidate.
  Bytes b = vm.bytes;
  for (auto& [abi, at] : vm.placed) {
    if (abi == "x86_64") {
      uint64_t huge = 0x7ffffffffff0ull;
      std::memcpy(b.data() + at + 0x28, &huge, 8);   // e_shoff (ELF64)
    } else {
      uint32_t huge = 0x7ffffff0u;
      std::memcpy(b.data() + at + 0x20, &huge, 4);   // e_shoff (ELF32)
    }
  }
  auto r = kernel::find_vdso_images(b, "evil.vmlinux");
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("no vDSO image") != std::string::npos);
  // A blob that ends inside an image.
  Bytes cut(vm.bytes.begin(), vm.bytes.begin() + vm.placed[0].second + 100);
  CHECK_FALSE(kernel::find_vdso_images(cut, "cut.vmlinux"));
}

// Issue 12: fuzz_kernel's first finding (a SEGV in libObject's dynamicEntries(), which builds its array
// from PT_DYNAMIC's p_offset/p_filesz unchecked). Synthetic mutation of the real corpus images placed in
// a vmlinux-like blob: the candidate with the bad PT_DYNAMIC is skipped, the intact ones are still found.
TEST_CASE("find_vdso_images skips a candidate whose PT_DYNAMIC lies outside it, without reading there") {
  FakeVmlinux vm = make_vmlinux();
  Bytes b = vm.bytes;
  auto [abi, at] = vm.placed[0];
  REQUIRE(abi == "x86_64");
  uint64_t phoff = 0, phnum = 0;
  std::memcpy(&phoff, b.data() + at + 0x20, 8);
  std::memcpy(&phnum, b.data() + at + 0x38, 2);
  bool mutated = false;
  for (uint64_t i = 0; i < phnum; ++i) {
    uint8_t* ph = b.data() + at + phoff + i * 56;
    uint32_t type;
    std::memcpy(&type, ph, 4);
    if (type != 2 /* PT_DYNAMIC */) continue;
    uint64_t far = 0x7fff00000000ull;
    std::memcpy(ph + 8, &far, 8);   // p_offset
    mutated = true;
  }
  REQUIRE(mutated);
  auto r = kernel::find_vdso_images(b, "evil.vmlinux");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
  std::vector<std::string> found;
  for (const auto& v : *r) found.push_back(v.abi);
  CHECK(found == std::vector<std::string>{"x32", "i386"});
}

TEST_CASE(".altinstructions patch sites of a real vDSO lie inside its text") {
  for (const char* abi : {"x86_64", "x32", "i386"}) {
    CAPTURE(abi);
    Bytes img = corpus(abi);
    auto alt = kernel::alt_patch_sites(img, abi);
    REQUIRE_MESSAGE(alt, (alt ? "" : alt.error().str()));
    CHECK(alt->entry_size == 12);   // 6.1: s32, s32, u16 cpuid, u8 instrlen, u8 replacementlen
    CHECK_FALSE(alt->sites.empty());
    for (const auto& s : alt->sites) CHECK(s.offset + s.length <= img.size());
  }
  CHECK_FALSE(kernel::alt_patch_sites(Bytes(8, 0), "tiny"));
}

TEST_CASE("carve_deb reads the vmlinuz out of a crafted .deb (ar + data.tar.xz, both via libarchive)") {
  FakeVmlinux vm = make_vmlinux();
  Bytes bz = make_bzimage(vm.bytes, archive_write_add_filter_zstd);
  // data.tar.xz with a decoy file first, then usr/lib/modules/<rel>/vmlinuz (the 6.19+ layout).
  auto tar = [&](const std::vector<std::pair<std::string, Bytes>>& files) {
    archive* a = archive_write_new();
    archive_write_add_filter_xz(a);
    archive_write_set_format_pax_restricted(a);
    Bytes out(bz.size() * 2 + (1 << 16));
    size_t used = 0;
    REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
    for (const auto& [path, data] : files) {
      archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, path.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, la_int64_t(data.size()));
      REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
      REQUIRE(archive_write_data(a, data.data(), data.size()) == la_ssize_t(data.size()));
      archive_entry_free(e);
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    out.resize(used);
    return out;
  };
  Bytes data = tar({{"./usr/share/doc/x/changelog", Bytes(100, 'x')},
                    {"./usr/lib/modules/9.9.9-test/vmlinuz", bz}});
  Bytes control = tar({{"./control", Bytes(10, 'c')}});
  test::TempDir dir;
  {
    archive* a = archive_write_new();
    archive_write_set_format_ar_svr4(a);
    REQUIRE(archive_write_open_filename(a, (dir / "k.deb").c_str()) == ARCHIVE_OK);
    for (auto& [name, bytes] : std::vector<std::pair<std::string, Bytes>>{
             {"debian-binary", Bytes{'2', '.', '0', '\n'}}, {"control.tar.xz", control}, {"data.tar.xz", data}}) {
      archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, name.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, la_int64_t(bytes.size()));
      REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
      REQUIRE(archive_write_data(a, bytes.data(), bytes.size()) == la_ssize_t(bytes.size()));
      archive_entry_free(e);
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
  }
  auto r = kernel::carve_file(dir / "k.deb");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
  CHECK(r->vmlinuz_path == "usr/lib/modules/9.9.9-test/vmlinuz");
  CHECK(r->release == "9.9.9-test");
  CHECK(r->bzimage.codec == kernel::Codec::kZstd);
  REQUIRE(r->images.size() == 3);
  CHECK(r->images[1].bytes == corpus("x32"));

  // Not a .deb / no kernel inside.
  test::write_bytes(dir / "junk.deb", Bytes{'!', '<', 'a', 'r', 'c', 'h', '>', '\n', 'z'});
  CHECK_FALSE(kernel::carve_file(dir / "junk.deb"));
  CHECK(kernel::is_vmlinuz_path("./boot/vmlinuz-6.1.0-50-amd64"));
  CHECK(kernel::release_of_vmlinuz_path("boot/vmlinuz-6.1.0-50-amd64") == "6.1.0-50-amd64");
  CHECK_FALSE(kernel::is_vmlinuz_path("usr/lib/modules/7.0/kernel/vmlinuz"));
}
