#include "formats/kernel/carve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "formats/common/source.h"
#include "formats/kernel/deb.h"
#include "formats/vdso/elfcheck.h"
#include "llvm/Object/ELF.h"
#include "llvm/Support/Error.h"

namespace vk::kernel {

namespace {

using llvm::object::ELF32LE;
using llvm::object::ELF64LE;
using llvm::object::ELFFile;

constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};

template <class T>
std::string take(llvm::Expected<T>& e) { return llvm::toString(e.takeError()); }

struct Notes {
  std::optional<uint32_t> version_code;
  std::string build_salt;
};

// Parses an ELF note area (4-byte aligned namesz/descsz/type headers), every length bounds-checked.
Notes parse_notes(llvm::ArrayRef<uint8_t> d) {
  Notes n;
  size_t p = 0;
  auto rd = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, d.data() + at, 4);
    return v;
  };
  while (p + 12 <= d.size()) {
    uint64_t namesz = rd(p), descsz = rd(p + 4);
    uint32_t type = rd(p + 8);
    uint64_t name_at = p + 12, name_end = name_at + ((namesz + 3) & ~uint64_t(3));
    uint64_t desc_at = name_end, desc_end = desc_at + ((descsz + 3) & ~uint64_t(3));
    if (name_end > d.size() || desc_at + descsz > d.size()) break;
    std::string nm(reinterpret_cast<const char*>(d.data() + name_at), namesz);
    while (!nm.empty() && nm.back() == '\0') nm.pop_back();
    if (nm == "Linux" && type == 0 && descsz >= 4) n.version_code = rd(desc_at);
    if (nm == "Linux" && type == 0x100 && descsz > 0) {
      std::string s(reinterpret_cast<const char*>(d.data() + desc_at), descsz);
      while (!s.empty() && s.back() == '\0') s.pop_back();
      n.build_salt = s;
    }
    p = std::min<uint64_t>(desc_end, d.size());
  }
  return n;
}

template <class ELFT>
const char* abi_of(uint16_t machine) {
  if constexpr (ELFT::Is64Bits) return machine == llvm::ELF::EM_X86_64 ? "x86_64" : nullptr;
  else {
    if (machine == llvm::ELF::EM_386) return "i386";
    if (machine == llvm::ELF::EM_X86_64) return "x32";
    return nullptr;
  }
}

// Tries to read a vDSO image at `off`. Returns nullopt when the candidate is not one (no error),
// an Error when it claims a vDSO soname but is malformed.
template <class ELFT>
Expected<std::optional<CarvedVdso>> try_image(std::span<const uint8_t> all, uint64_t off,
                                              const std::string& name) {
  using Ehdr = typename ELFT::Ehdr;
  std::span<const uint8_t> rest = all.subspan(off);
  if (rest.size() < sizeof(Ehdr)) return std::optional<CarvedVdso>{};
  Ehdr eh;
  std::memcpy(&eh, rest.data(), sizeof eh);
  if (eh.e_type != llvm::ELF::ET_DYN || eh.e_ehsize != sizeof(Ehdr)) return std::optional<CarvedVdso>{};
  const char* abi = abi_of<ELFT>(eh.e_machine);
  if (!abi) return std::optional<CarvedVdso>{};
  // Everything below is untrusted: work inside a window no larger than the image limit.
  std::span<const uint8_t> win = rest.first(std::min<uint64_t>(rest.size(), kMaxVdsoImage));
  llvm::StringRef wref(reinterpret_cast<const char*>(win.data()), win.size());
  auto wf = ELFFile<ELFT>::create(wref);
  if (!wf) { llvm::consumeError(wf.takeError()); return std::optional<CarvedVdso>{}; }
  uint64_t len = uint64_t(eh.e_shoff) + uint64_t(eh.e_shnum) * eh.e_shentsize;
  if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(typename ELFT::Shdr) || len > win.size())
    return std::optional<CarvedVdso>{};
  auto phdrs = wf->program_headers();
  if (!phdrs) { llvm::consumeError(phdrs.takeError()); return std::optional<CarvedVdso>{}; }
  for (const auto& ph : *phdrs)
    if (ph.p_type == llvm::ELF::PT_LOAD) {
      uint64_t end = uint64_t(ph.p_offset) + ph.p_filesz;
      if (end < ph.p_offset || end > win.size()) return std::optional<CarvedVdso>{};
      len = std::max(len, end);
    }
  std::span<const uint8_t> img = win.first(len);
  // A bzImage holds many stray ELF magics; a candidate whose tables do not fit is not a vDSO (and
  // libObject must not see it: formats/vdso/elfcheck.h).
  if (!vdso::check_elf_tables(llvm::ArrayRef<uint8_t>(img.data(), img.size()), name, ELFT::Is64Bits)) return std::optional<CarvedVdso>{};
  llvm::StringRef iref(reinterpret_cast<const char*>(img.data()), img.size());
  auto ef = ELFFile<ELFT>::create(iref);
  if (!ef) { llvm::consumeError(ef.takeError()); return std::optional<CarvedVdso>{}; }
  // DT_SONAME through DT_STRTAB (mapped via PT_LOAD), bounded by DT_STRSZ and the image.
  auto dyn = ef->dynamicEntries();
  if (!dyn) { llvm::consumeError(dyn.takeError()); return std::optional<CarvedVdso>{}; }
  std::optional<uint64_t> strtab, strsz, soname_off;
  for (const auto& d : *dyn) {
    if (d.d_tag == llvm::ELF::DT_STRTAB) strtab = d.getPtr();
    if (d.d_tag == llvm::ELF::DT_STRSZ) strsz = d.getVal();
    if (d.d_tag == llvm::ELF::DT_SONAME) soname_off = d.getVal();
  }
  if (!strtab || !strsz || !soname_off || *soname_off >= *strsz) return std::optional<CarvedVdso>{};
  auto sp = ef->toMappedAddr(*strtab);
  if (!sp) { llvm::consumeError(sp.takeError()); return std::optional<CarvedVdso>{}; }
  uint64_t str_at = uint64_t(*sp - img.data());
  if (str_at > img.size() || *strsz > img.size() - str_at) return std::optional<CarvedVdso>{};
  const char* s = reinterpret_cast<const char*>(img.data() + str_at + *soname_off);
  std::string soname(s, strnlen(s, *strsz - *soname_off));
  if (soname != "linux-vdso.so.1" && soname != "linux-gate.so.1") return std::optional<CarvedVdso>{};

  CarvedVdso v;
  v.abi = abi;
  v.offset = off;
  v.soname = soname;
  v.bytes.assign(img.begin(), img.end());
  auto secs = ef->sections();
  if (!secs)
    return bad_input_at(name, off, std::string(abi) + " vDSO has bad section headers: " + take(secs));
  for (const auto& sh : *secs) {
    auto nm = ef->getSectionName(sh);
    if (!nm) { llvm::consumeError(nm.takeError()); continue; }
    if (*nm != ".comment") continue;
    auto c = ef->getSectionContents(sh);
    if (!c) return bad_input_at(name, off, std::string(abi) + " vDSO .comment: " + take(c));
    std::string out;
    std::string cur;
    for (uint8_t ch : *c) {
      if (ch == 0) {
        if (!cur.empty()) out += (out.empty() ? "" : "; ") + cur;
        cur.clear();
      } else {
        cur += char(ch);
      }
    }
    if (!cur.empty()) out += (out.empty() ? "" : "; ") + cur;
    v.comment = out;
  }
  for (const auto& ph : *phdrs) {
    if (ph.p_type != llvm::ELF::PT_NOTE) continue;
    uint64_t end = uint64_t(ph.p_offset) + ph.p_filesz;
    if (end < ph.p_offset || end > img.size()) continue;
    Notes n = parse_notes(llvm::ArrayRef<uint8_t>(img.data() + ph.p_offset, ph.p_filesz));
    if (n.version_code) v.linux_version_code = n.version_code;
    if (!n.build_salt.empty()) v.build_salt = n.build_salt;
  }
  return std::optional<CarvedVdso>(std::move(v));
}

}  // namespace

Expected<std::vector<CarvedVdso>> find_vdso_images(std::span<const uint8_t> vm, const std::string& name) {
  std::vector<CarvedVdso> out;
  const uint8_t* p = vm.data();
  const uint8_t* end = vm.data() + vm.size();
  while (p + 16 <= end) {
    auto* hit = static_cast<const uint8_t*>(memmem(p, size_t(end - p), kElfMagic, 4));
    if (!hit || hit + 16 > end) break;
    uint64_t off = uint64_t(hit - vm.data());
    uint8_t cls = hit[4], data = hit[5], ver = hit[6];
    if (data == llvm::ELF::ELFDATA2LSB && ver == llvm::ELF::EV_CURRENT) {
      if (cls == llvm::ELF::ELFCLASS64) {
        VK_TRY(r, try_image<ELF64LE>(vm, off, name));
        if (r) out.push_back(std::move(*r));
      } else if (cls == llvm::ELF::ELFCLASS32) {
        VK_TRY(r, try_image<ELF32LE>(vm, off, name));
        if (r) out.push_back(std::move(*r));
      }
    }
    p = hit + 1;
  }
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = i + 1; j < out.size(); ++j)
      if (out[i].abi == out[j].abi && out[i].bytes != out[j].bytes)
        return bad_input_at(name, out[j].offset,
                            "two different " + out[j].abi + " vDSO images (first at " + hex(out[i].offset) + ")");
  // Identical duplicates (none seen in Debian kernels) collapse to the first.
  std::vector<CarvedVdso> uniq;
  for (auto& v : out)
    if (std::none_of(uniq.begin(), uniq.end(), [&](const CarvedVdso& u) { return u.abi == v.abi; }))
      uniq.push_back(std::move(v));
  if (uniq.empty()) return bad_input(name, "no vDSO image found in the decompressed kernel");
  return uniq;
}

Expected<CarveResult> carve_bzimage(std::span<const uint8_t> vmlinuz, const std::string& name) {
  VK_TRY(vm, decompress_bzimage(vmlinuz, name));
  VK_TRY(imgs, find_vdso_images(vm.bytes, name + " (decompressed)"));
  CarveResult r;
  r.input = name;
  r.bzimage = vm.header;
  r.vmlinux_size = vm.bytes.size();
  r.images = std::move(imgs);
  return r;
}

Expected<CarveResult> carve_deb(const std::string& deb_path) {
  VK_TRY(f, deb_extract(deb_path, [](const std::string& p) { return is_vmlinuz_path(p); }));
  VK_TRY(r, carve_bzimage(f.bytes, deb_path + ":" + f.path));
  r.input = deb_path;
  r.vmlinuz_path = f.path;
  r.release = release_of_vmlinuz_path(f.path);
  return r;
}

Expected<CarveResult> carve_file(const std::string& path) {
  VK_TRY(blob, open_file(path));
  uint8_t magic[8] = {};
  if (blob->size() >= 8) VK_CHECK(blob->read(0, magic, 8));
  if (std::memcmp(magic, "!<arch>\n", 8) == 0) return carve_deb(path);
  VK_TRY(bytes, blob->read_all(kMaxDebMember));
  return carve_bzimage(bytes, path);
}

namespace {

template <class ELFT>
Expected<AltInfo> alt_sites_impl(std::span<const uint8_t> img, const std::string& name) {
  llvm::StringRef ref(reinterpret_cast<const char*>(img.data()), img.size());
  auto ef = ELFFile<ELFT>::create(ref);
  if (!ef) return bad_input(name, "not an ELF image: " + take(ef));
  auto secs = ef->sections();
  if (!secs) return bad_input(name, "bad section headers: " + take(secs));
  const typename ELFT::Shdr* alt = nullptr;
  std::vector<std::pair<uint64_t, uint64_t>> exec;   // file ranges of executable sections
  for (const auto& sh : *secs) {
    auto nm = ef->getSectionName(sh);
    if (!nm) { llvm::consumeError(nm.takeError()); continue; }
    if (*nm == ".altinstructions") alt = &sh;
    if ((sh.sh_flags & llvm::ELF::SHF_EXECINSTR) && sh.sh_type == llvm::ELF::SHT_PROGBITS)
      exec.emplace_back(sh.sh_offset, uint64_t(sh.sh_offset) + sh.sh_size);
  }
  AltInfo info;
  if (!alt) return info;   // no alternatives: nothing is patched
  auto c = ef->getSectionContents(*alt);
  if (!c) return bad_input(name, ".altinstructions: " + take(c));
  // vDSO sections are linked at address == file offset; the s32 fields are relative to themselves.
  const uint64_t base = alt->sh_offset;
  auto in_exec = [&](int64_t at, uint64_t len) {
    if (at < 0) return false;
    for (auto [b, e] : exec)
      if (uint64_t(at) >= b && uint64_t(at) + len <= e) return true;
    return false;
  };
  // struct alt_instr: s32 instr_offset, s32 repl_offset, then cpuid (u16, or u32 ft_flags from 6.3),
  // u8 instrlen, u8 replacementlen (and u8 padlen up to 5.11). Try each known size.
  for (unsigned es : {14u, 12u, 13u}) {
    if (c->size() % es != 0) continue;
    unsigned len_at = es == 14 ? 12 : 10;
    std::vector<PatchSite> sites;
    bool ok = true;
    for (size_t i = 0; i + es <= c->size() && ok; i += es) {
      int32_t io, ro;
      std::memcpy(&io, c->data() + i, 4);
      std::memcpy(&ro, c->data() + i + 4, 4);
      uint8_t ilen = (*c)[i + len_at], rlen = (*c)[i + len_at + 1];
      int64_t instr = int64_t(base + i) + io, repl = int64_t(base + i + 4) + ro;
      ok = ilen > 0 && in_exec(instr, ilen) && (rlen == 0 || in_exec(repl, rlen));
      if (ok) sites.push_back({uint64_t(instr), ilen});
    }
    if (ok) {
      info.entry_size = es;
      info.sites = std::move(sites);
      return info;
    }
  }
  return bad_input_at(name, base, ".altinstructions of " + std::to_string(c->size()) +
                                      " bytes matches no known struct alt_instr layout");
}

}  // namespace

Expected<AltInfo> alt_patch_sites(std::span<const uint8_t> img, const std::string& name) {
  if (img.size() < 16 || std::memcmp(img.data(), kElfMagic, 4) != 0)
    return bad_input(name, "not an ELF image");
  if (img[4] == llvm::ELF::ELFCLASS64) return alt_sites_impl<ELF64LE>(img, name);
  if (img[4] == llvm::ELF::ELFCLASS32) return alt_sites_impl<ELF32LE>(img, name);
  return bad_input_at(name, 4, "unknown ELF class");
}

}  // namespace vk::kernel
