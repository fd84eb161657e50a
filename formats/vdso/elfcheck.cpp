#include "formats/vdso/elfcheck.h"

#include <llvm/BinaryFormat/ELF.h>

namespace vk::vdso {

namespace elf = llvm::ELF;

namespace {

uint64_t le(llvm::ArrayRef<uint8_t> b, uint64_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + i];
  return v;
}

}  // namespace

// LLVM 14's libObject trusts some ELF structures it is handed (issue 12, D1-D3): dynamicEntries() makes
// an array from PT_DYNAMIC's p_offset/p_filesz without a bounds check, a note's size is summed in 32
// bits for ELF32 (0xffffffff wraps and getName() reads past the buffer), and getVersionDefinitions()/
// getVersionDependencies() loop sh_info times even when vd_next/vn_next is 0 (3.7 G entries, then the
// OOM killer). These are checked here, on the raw bytes and in 64-bit arithmetic, before libObject
// sees the image; every refusal names the offset of the structure at fault.
Status check_elf_tables(llvm::ArrayRef<uint8_t> b, const std::string& name, bool is64) {
  struct { bool is64; uint64_t phdr_size, shdr_size; } L{is64, is64 ? 56u : 32u, is64 ? 64u : 40u};
  const uint64_t size = b.size();
  auto fits = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  auto word = [&](uint64_t off, int n) { return le(b, off, n); };
  const int W = L.is64 ? 8 : 4;   // Elf_Addr/Off width
  uint64_t ehsize = L.is64 ? 64 : 52;
  if (!fits(0, ehsize)) return bad_input_at(name, 0, "ELF header truncated");
  uint64_t phoff = word(L.is64 ? 32 : 28, W), shoff = word(L.is64 ? 40 : 32, W);
  uint64_t phentsize = word(L.is64 ? 54 : 42, 2), phnum = word(L.is64 ? 56 : 44, 2);
  uint64_t shentsize = word(L.is64 ? 58 : 46, 2), shnum = word(L.is64 ? 60 : 48, 2);
  if (phnum && (phentsize != L.phdr_size || !fits(phoff, phnum * phentsize)))
    return bad_input_at(name, phoff, "program header table (" + std::to_string(phnum) + " entries of " +
                                           std::to_string(phentsize) + " bytes) does not fit the image");
  for (uint64_t i = 0; i < phnum; ++i) {
    uint64_t ph = phoff + i * phentsize;
    uint32_t type = uint32_t(word(ph, 4));
    uint64_t off = L.is64 ? word(ph + 8, 8) : word(ph + 4, 4);
    uint64_t filesz = L.is64 ? word(ph + 32, 8) : word(ph + 16, 4);
    if (type == elf::PT_DYNAMIC) {
      if (!fits(off, filesz))
        return bad_input_at(name, ph, "PT_DYNAMIC at " + hex(off) + " (" + std::to_string(filesz) +
                                            " bytes) lies outside the " + std::to_string(size) + "-byte image");
      if (off % W != 0)
        return bad_input_at(name, ph, "PT_DYNAMIC at " + hex(off) + " is not " + std::to_string(W) + "-byte aligned");
    }
    if (type == elf::PT_NOTE) {
      if (!fits(off, filesz))
        return bad_input_at(name, ph, "PT_NOTE at " + hex(off) + " lies outside the image");
      // Each note: 12-byte header, name and descriptor each padded to 4 bytes (the rule libObject
      // applies); summed in 64 bits so that no size can wrap.
      uint64_t at = off, end = off + filesz;
      while (end - at >= 12) {
        uint64_t namesz = word(at, 4), descsz = word(at + 4, 4);
        uint64_t note = 12 + ((namesz + 3) & ~3ull) + ((descsz + 3) & ~3ull);
        if (note > end - at)
          return bad_input_at(name, at, "note (name " + std::to_string(namesz) + " bytes, descriptor " +
                                              std::to_string(descsz) + " bytes) runs past its PT_NOTE segment");
        at += note;
      }
    }
  }
  if (shnum == 0 || shoff == 0) return Status::ok();
  if (shentsize != L.shdr_size || !fits(shoff, shnum * shentsize))
    return bad_input_at(name, shoff, "section header table (" + std::to_string(shnum) + " entries of " +
                                           std::to_string(shentsize) + " bytes) does not fit the image");
  for (uint64_t i = 0; i < shnum; ++i) {
    uint64_t sh = shoff + i * shentsize;
    uint32_t type = uint32_t(word(sh + 4, 4));
    if (type != elf::SHT_GNU_verdef && type != elf::SHT_GNU_verneed) continue;
    uint64_t off = L.is64 ? word(sh + 24, 8) : word(sh + 16, 4);
    uint64_t len = L.is64 ? word(sh + 32, 8) : word(sh + 20, 4);
    uint64_t count = word(L.is64 ? sh + 44 : sh + 28, 4);   // sh_info: number of entries
    bool def = type == elf::SHT_GNU_verdef;
    const char* what = def ? "version definition" : "version dependency";
    if (!fits(off, len)) return bad_input_at(name, sh, std::string(what) + " section lies outside the image");
    // Entries are at least 20 bytes (libObject reads a Verdef-sized header for both), auxiliaries 8
    // (verdaux) or 16 (vernaux): a count above what the bytes can hold is refused before any loop.
    const uint64_t ent = 20, aux = def ? 8 : 16;
    if (count > len / ent)
      return bad_input_at(name, sh, std::string(what) + " count " + std::to_string(count) + " exceeds the " +
                                          std::to_string(len) + "-byte section");
    uint64_t at = 0, aux_total = 0;
    for (uint64_t k = 0; k < count; ++k) {
      if (at > len - ent) return bad_input_at(name, off + at, std::string(what) + " #" + std::to_string(k + 1) + " runs past its section");
      uint64_t e = off + at;
      uint64_t cnt = word(e + (def ? 6 : 2), 2);   // vd_cnt / vn_cnt
      uint64_t aux_off = word(e + (def ? 12 : 8), 4), next = word(e + (def ? 16 : 12), 4);
      aux_total += cnt;
      if (aux_total > len / aux)
        return bad_input_at(name, e, std::string(what) + " auxiliary count exceeds the section");
      uint64_t a = at + aux_off;
      for (uint64_t j = 0; j < cnt; ++j) {
        if (a > len || len - a < aux) return bad_input_at(name, e, std::string(what) + " auxiliary entry runs past its section");
        a += word(off + a + (def ? 4 : 12), 4);
      }
      if (k + 1 < count && next == 0)
        return bad_input_at(name, e, std::string(what) + " #" + std::to_string(k + 1) + " has no successor but " +
                                           std::to_string(count) + " are declared");
      at += next;
    }
  }
  return Status::ok();
}

}  // namespace vk::vdso
