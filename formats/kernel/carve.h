// Carving the vDSO images embedded in an x86 kernel: a .deb -> vmlinuz -> bzImage payload -> vmlinux
// -> every ET_DYN ELF whose DT_SONAME is linux-vdso.so.1 / linux-gate.so.1.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/kernel/bzimage.h"

namespace vk::kernel {

struct CarvedVdso {
  std::string abi;                 // "x86_64", "i386" or "x32"
  uint64_t offset = 0;             // where the image starts in the vmlinux
  std::vector<uint8_t> bytes;      // the whole image: max(end of section headers, end of PT_LOAD)
  std::string soname;
  std::string comment;             // .comment (compiler), NULs between strings turned into "; "
  std::optional<uint32_t> linux_version_code;   // "Linux" note, type 0
  std::string build_salt;                       // "Linux" note, type 0x100
};

inline constexpr uint64_t kMaxVdsoImage = 1u << 20;

// Scans a decompressed vmlinux. `name` is used in errors. Candidates that are not well-formed vDSO
// images are skipped; a malformed image that does carry a vDSO soname is an error.
Expected<std::vector<CarvedVdso>> find_vdso_images(std::span<const uint8_t> vmlinux,
                                                   const std::string& name);

struct CarveResult {
  std::string input;               // the file carved
  std::string vmlinuz_path;        // path inside the .deb ("" for a bare vmlinuz)
  std::string release;             // from the vmlinuz path ("" when unknown)
  BzImageHeader bzimage;
  uint64_t vmlinux_size = 0;
  std::vector<CarvedVdso> images;
};

Expected<CarveResult> carve_bzimage(std::span<const uint8_t> vmlinuz, const std::string& name);
Expected<CarveResult> carve_deb(const std::string& deb_path);
// A .deb (ar magic) or a bare vmlinuz.
Expected<CarveResult> carve_file(const std::string& path);

// Byte ranges [offset, offset+length) of a vDSO image that the kernel may rewrite at boot:
// the original-instruction sites named by its .altinstructions entries.
struct PatchSite {
  uint64_t offset = 0;
  uint64_t length = 0;
};
struct AltInfo {
  unsigned entry_size = 0;         // detected struct alt_instr size (12, 13 or 14 bytes)
  std::vector<PatchSite> sites;
};
Expected<AltInfo> alt_patch_sites(std::span<const uint8_t> vdso, const std::string& name);

}  // namespace vk::kernel
