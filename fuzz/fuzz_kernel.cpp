// Kernel images: a bzImage (setup header, payload decompression, vDSO carving), a vmlinux scanned
// for vDSO images, and .deb packages (ar + data.tar.*), chosen by the input's content.
#include <cstdint>

#include "formats/kernel/bzimage.h"
#include "formats/kernel/carve.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)vk::kernel::parse_bzimage(in, "fuzz-vmlinuz");
  (void)vk::kernel::find_vdso_images(in, "fuzz-vmlinux");
  // carve_file picks .deb (ar magic) or bzImage by content, through the path API.
  vk::fuzz::MemFile f(data, size);
  if (f.fd >= 0) (void)vk::kernel::carve_file(f.path);
  return 0;
}
