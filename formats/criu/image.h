// One CRIU image file: its header words and its length-prefixed protobuf entries, kept as raw bytes so
// that writing an unchanged image reproduces it byte for byte (docs/criu-images.md §1.2, §1.3).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"
#include "formats/criu/magic.h"

namespace google::protobuf { class Message; }

namespace vk::criu {

struct Entry {
  uint64_t offset = 0;          // file offset of the entry's u32 length word
  std::string payload;          // the protobuf message bytes
};

struct Image {
  std::string name;             // file name for messages
  uint32_t head = 0;            // kCommonMagic, kServiceMagic, or 0 for a one-word header
  uint32_t magic = 0;           // the type magic
  std::vector<Entry> entries;

  Kind kind() const { return kind_of(magic); }
  uint64_t header_size() const { return head ? 8 : 4; }
};

// Limits that hold before allocation (issue 12, D10: every 4 zero bytes were an entry, a 255 MiB
// image cost 2.9 GB). Images larger than kMaxImageBytes are refused before reading (pages files are
// never parsed as images); an image of more than kMaxEntries entries is refused while framing. Real
// images are far below both: a pagemap holds one entry per run of pages (a few thousand), the other
// images one message or one per process. Images of one message (mm, core, inventory) are capped at
// kMaxMessageImageBytes, since protobuf holds a repeated field in several times its wire size.
inline constexpr uint64_t kMaxImageBytes = 32ull << 20;
inline constexpr size_t kMaxEntries = size_t(1) << 20;
inline constexpr uint64_t kMaxMessageImageBytes = 8ull << 20;

Expected<Image> parse_image(std::string name, std::span<const uint8_t> bytes);
Expected<Image> read_image(const Blob& blob, uint64_t limit = kMaxImageBytes);
std::vector<uint8_t> write_image(const Image& img);

// Decodes entry `index` as `msg`; the error names the file and the entry's offset.
Status decode_entry(const Image& img, size_t index, google::protobuf::Message& msg);
// Replaces entry `index` (or appends when index == size) with the serialised message.
void encode_entry(Image& img, size_t index, const google::protobuf::Message& msg);

}  // namespace vk::criu
