// x86 bzImage (vmlinuz): the boot setup header and the compressed kernel payload it locates.
// Facts used (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, setup_sects at 0x1f1 (0 means 4),
// payload_offset (u32) at 0x248 and payload_length (u32) at 0x24c, both relative to the protected-mode
// part at (setup_sects + 1) * 512; the payload's last 4 bytes are the uncompressed size (LE).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::kernel {

enum class Codec { kGzip, kXz, kZstd, kLz4, kBzip2, kLzma, kUnknown };
const char* codec_name(Codec c);
Codec sniff_codec(std::span<const uint8_t> payload);

struct BzImageHeader {
  uint16_t boot_protocol = 0;      // 0x206: e.g. 0x020f
  uint32_t setup_sects = 0;        // effective (0 read as 4)
  uint64_t pm_offset = 0;          // (setup_sects + 1) * 512
  uint64_t payload_offset = 0;     // absolute offset of the compressed payload in the file
  uint32_t payload_length = 0;
  Codec codec = Codec::kUnknown;
  uint32_t uncompressed_size = 0;  // the payload's trailing u32
};

// Parses and bounds-checks the setup header against the file size. `name` is used in errors.
Expected<BzImageHeader> parse_bzimage(std::span<const uint8_t> file, const std::string& name);

struct Vmlinux {
  BzImageHeader header;
  std::vector<uint8_t> bytes;      // the decompressed kernel (an ELF vmlinux)
};

// Largest decompressed kernel accepted (no allocation is sized by an unchecked field). The corpus's
// largest vmlinux is 63 MiB (corpora/kernels/*/build.json); the limit keeps one hostile kernel image
// under the 256 MiB memory bound (issue 12).
inline constexpr uint64_t kMaxVmlinux = 96ull << 20;

// Decompresses the payload with libarchive (raw format + every filter) and checks its length against
// the trailing size field.
Expected<Vmlinux> decompress_bzimage(std::span<const uint8_t> file, const std::string& name);

// Decompresses a whole buffer with libarchive's raw format + all filters; fails past `limit` bytes.
Expected<std::vector<uint8_t>> decompress_raw(std::span<const uint8_t> data, uint64_t limit,
                                              const std::string& name, uint64_t base_offset);

}  // namespace vk::kernel
