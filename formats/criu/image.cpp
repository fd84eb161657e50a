#include "formats/criu/image.h"

#include <google/protobuf/message.h>

#include <cstring>

namespace vk::criu {
namespace {

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void put_le32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

// Header rule as pycriu applies it: one word, and a second when the first is the common or service
// head. This reads both img_version 1 (one word) and 2 (two words) without consulting the inventory.
Expected<Image> parse_image(std::string name, std::span<const uint8_t> bytes) {
  Image img;
  img.name = std::move(name);
  if (bytes.size() < 4) return bad_input_at(img.name, 0, "file too short for an image magic");
  uint32_t first = le32(bytes.data());
  uint64_t pos = 4;
  if (first == kCommonMagic || first == kServiceMagic) {
    if (bytes.size() < 8) return bad_input_at(img.name, 4, "image header ends after the first magic word");
    img.head = first;
    img.magic = le32(bytes.data() + 4);
    pos = 8;
  } else {
    img.magic = first;
  }
  if (img.magic != kInventoryMagic && img.head == 0 && magic_name(img.magic).empty())
    return bad_input_at(img.name, 0, "unknown image magic " + hex(first) + " (raw data such as a pages file?)");

  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4)
      return bad_input_at(img.name, pos, "truncated entry: " + std::to_string(bytes.size() - pos) +
                                             " bytes where a 4-byte entry length is expected");
    uint32_t len = le32(bytes.data() + pos);
    if (len > bytes.size() - pos - 4)
      return bad_input_at(img.name, pos, "entry length " + std::to_string(len) + " past end of file (" +
                                             std::to_string(bytes.size() - pos - 4) + " bytes left)");
    if (img.entries.size() == kMaxEntries)
      return bad_input_at(img.name, pos, "more than " + std::to_string(kMaxEntries) + " entries (limit of this reader)");
    Entry e;
    e.offset = pos;
    e.payload.assign(reinterpret_cast<const char*>(bytes.data() + pos + 4), len);
    img.entries.push_back(std::move(e));
    pos += 4 + uint64_t(len);
  }
  return img;
}

Expected<Image> read_image(const Blob& blob, uint64_t limit) {
  VK_TRY(bytes, blob.read_all(limit));
  return parse_image(blob.name(), bytes);
}

std::vector<uint8_t> write_image(const Image& img) {
  std::vector<uint8_t> out;
  if (img.head) put_le32(out, img.head);
  put_le32(out, img.magic);
  for (const auto& e : img.entries) {
    put_le32(out, static_cast<uint32_t>(e.payload.size()));
    out.insert(out.end(), e.payload.begin(), e.payload.end());
  }
  return out;
}

Status decode_entry(const Image& img, size_t index, google::protobuf::Message& msg) {
  if (index >= img.entries.size())
    return bad_input(img.name, "expected entry #" + std::to_string(index) + " of " +
                                   std::string(msg.GetTypeName()) + ", file has " +
                                   std::to_string(img.entries.size()));
  const Entry& e = img.entries[index];
  msg.Clear();
  if (!msg.ParsePartialFromString(e.payload))
    return bad_input_at(img.name, e.offset, "entry #" + std::to_string(index) + " is not a valid " +
                                                std::string(msg.GetTypeName()) + " message");
  if (!msg.IsInitialized())
    return bad_input_at(img.name, e.offset, "entry #" + std::to_string(index) + " (" +
                                                std::string(msg.GetTypeName()) +
                                                ") lacks required fields: " + msg.InitializationErrorString());
  return Status::ok();
}

void encode_entry(Image& img, size_t index, const google::protobuf::Message& msg) {
  std::string bytes;
  msg.SerializeToString(&bytes);
  if (index >= img.entries.size()) {
    img.entries.push_back(Entry{0, std::move(bytes)});
  } else {
    img.entries[index].payload = std::move(bytes);
  }
}

}  // namespace vk::criu
