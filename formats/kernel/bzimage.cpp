#include "formats/kernel/bzimage.h"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <memory>

namespace vk::kernel {

namespace {

uint32_t le32(std::span<const uint8_t> b, size_t off) {
  return uint32_t(b[off]) | uint32_t(b[off + 1]) << 8 | uint32_t(b[off + 2]) << 16 |
         uint32_t(b[off + 3]) << 24;
}
uint16_t le16(std::span<const uint8_t> b, size_t off) { return uint16_t(b[off] | b[off + 1] << 8); }

constexpr size_t kSetupSectsAt = 0x1f1;
constexpr size_t kMagicAt = 0x202;
constexpr size_t kVersionAt = 0x206;
constexpr size_t kPayloadOffsetAt = 0x248;
constexpr size_t kPayloadLengthAt = 0x24c;
constexpr uint16_t kMinProtocol = 0x0208;   // payload_offset/length exist since boot protocol 2.08

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

}  // namespace

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kGzip: return "gzip";
    case Codec::kXz: return "xz";
    case Codec::kZstd: return "zstd";
    case Codec::kLz4: return "lz4";
    case Codec::kBzip2: return "bzip2";
    case Codec::kLzma: return "lzma";
    case Codec::kUnknown: break;
  }
  return "unknown";
}

Codec sniff_codec(std::span<const uint8_t> p) {
  auto starts = [&](std::initializer_list<uint8_t> m) {
    return p.size() >= m.size() && std::equal(m.begin(), m.end(), p.begin());
  };
  if (starts({0x1f, 0x8b})) return Codec::kGzip;
  if (starts({0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00})) return Codec::kXz;
  if (starts({0x28, 0xb5, 0x2f, 0xfd})) return Codec::kZstd;
  if (starts({0x02, 0x21, 0x4c, 0x18})) return Codec::kLz4;
  if (starts({'B', 'Z', 'h'})) return Codec::kBzip2;
  if (starts({0x5d, 0x00, 0x00})) return Codec::kLzma;
  return Codec::kUnknown;
}

Expected<BzImageHeader> parse_bzimage(std::span<const uint8_t> f, const std::string& name) {
  if (f.size() < kPayloadLengthAt + 4)
    return bad_input_at(name, f.size(), "file too short for a bzImage setup header (" +
                                            std::to_string(f.size()) + " bytes)");
  if (std::memcmp(f.data() + kMagicAt, "HdrS", 4) != 0)
    return bad_input_at(name, kMagicAt, "no \"HdrS\" setup header magic: not a bzImage");
  BzImageHeader h;
  h.boot_protocol = le16(f, kVersionAt);
  if (h.boot_protocol < kMinProtocol)
    return bad_input_at(name, kVersionAt, "boot protocol " + hex(h.boot_protocol) +
                                              " predates payload_offset (2.08)");
  h.setup_sects = f[kSetupSectsAt] == 0 ? 4 : f[kSetupSectsAt];
  h.pm_offset = (uint64_t(h.setup_sects) + 1) * 512;
  if (h.pm_offset > f.size())
    return bad_input_at(name, kSetupSectsAt, "setup_sects " + std::to_string(h.setup_sects) +
                                                 " puts the kernel past end of file");
  uint64_t rel = le32(f, kPayloadOffsetAt);
  h.payload_length = le32(f, kPayloadLengthAt);
  h.payload_offset = h.pm_offset + rel;
  if (h.payload_offset > f.size() || h.payload_length > f.size() - h.payload_offset)
    return bad_input_at(name, kPayloadOffsetAt,
                        "payload at " + hex(h.payload_offset) + " of " + std::to_string(h.payload_length) +
                            " bytes past end of file (" + std::to_string(f.size()) + " bytes)");
  if (h.payload_length < 8)
    return bad_input_at(name, kPayloadLengthAt, "payload of " + std::to_string(h.payload_length) +
                                                    " bytes is too short");
  auto payload = f.subspan(h.payload_offset, h.payload_length);
  h.codec = sniff_codec(payload);
  if (h.codec == Codec::kUnknown)
    return bad_input_at(name, h.payload_offset, "payload has no known compression magic");
  h.uncompressed_size = le32(payload, payload.size() - 4);
  return h;
}

namespace {
// libarchive may return no error string (NULL) for some failures (issue 12, D4: a NULL appended to a
// std::string crashed); never build a message from it unchecked.
std::string why(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown error";
}
}  // namespace

Expected<std::vector<uint8_t>> decompress_raw(std::span<const uint8_t> data, uint64_t limit,
                                              const std::string& name, uint64_t base_offset) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return bad_input(name, "libarchive: out of memory");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
    return bad_input_at(name, base_offset,
                        "cannot open compressed data: " + why(a.get()));
  archive_entry* e = nullptr;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return bad_input_at(name, base_offset,
                        "cannot decode compressed data: " + why(a.get()));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0)
      return bad_input_at(name, base_offset,
                          "decompression failed after " + std::to_string(out.size()) + " output bytes: " + why(a.get()));
    if (n == 0) break;
    if (out.size() + uint64_t(n) > limit)
      return bad_input_at(name, base_offset,
                          "decompressed data exceeds the limit of " + std::to_string(limit) + " bytes");
    // Growth capped at the limit, so the buffer never holds more than `limit` (doubling would reach
    // twice the limit, and a copy of it while growing).
    if (out.capacity() < out.size() + uint64_t(n)) out.reserve(size_t(std::min<uint64_t>(limit, std::max<uint64_t>(out.size() * 2, 1 << 20))));
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

Expected<Vmlinux> decompress_bzimage(std::span<const uint8_t> f, const std::string& name) {
  VK_TRY(h, parse_bzimage(f, name));
  if (h.uncompressed_size > kMaxVmlinux)
    return bad_input_at(name, h.payload_offset + h.payload_length - 4,
                        "uncompressed size " + std::to_string(h.uncompressed_size) + " exceeds the limit");
  // The stream proper excludes the trailing size field (some decoders reject trailing bytes).
  auto stream = f.subspan(h.payload_offset, h.payload_length - 4);
  // The trailer's size (checked against kMaxVmlinux above) is the limit: more output is an error anyway.
  VK_TRY(bytes, decompress_raw(stream, h.uncompressed_size, name, h.payload_offset));
  if (bytes.size() != h.uncompressed_size)
    return bad_input_at(name, h.payload_offset + h.payload_length - 4,
                        std::string(codec_name(h.codec)) + " payload decompressed to " +
                            std::to_string(bytes.size()) + " bytes, trailer says " +
                            std::to_string(h.uncompressed_size));
  return Vmlinux{h, std::move(bytes)};
}

}  // namespace vk::kernel
