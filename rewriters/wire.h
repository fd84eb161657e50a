// Protobuf wire format at the field level (docs/criu-images.md §1.3, §2): a message is split into its
// fields, each kept as the exact bytes it had, so a rewrite changes only the fields it means to and
// every other field (unknown ones included) is written back byte for byte, in its original order.
// A decode/encode round trip through generated classes would reorder unknown fields and canonicalise
// varints; rewriting at this level cannot. Tags, varints and lengths are read and written by
// libprotobuf's CodedInputStream/CodedOutputStream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/common/error.h"

namespace vk::rewrite::wire {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  std::string bytes;       // the whole field as it was: tag, then value (length prefix included)
  uint64_t varint = 0;     // the value, for kVarint
  size_t value_offset = 0; // offset of the value (after the tag) inside `bytes`
  size_t body_offset = 0;  // kLen: offset of the payload (after the length) inside `bytes`
  std::string_view body() const { return std::string_view(bytes).substr(body_offset); }
};

// Splits `msg` into fields. Errors name `file` and `base` + the offset inside the message.
Expected<std::vector<Field>> split(std::string_view msg, const std::string& file, uint64_t base);

void put_varint(std::string& out, uint64_t v);
// A varint field: tag (number, kVarint) then the value, in canonical (shortest) form.
Field varint_field(uint32_t number, uint64_t value);
// A length-delimited field holding `payload`.
Field len_field(uint32_t number, std::string_view payload);

std::string join(const std::vector<Field>& fields);

}  // namespace vk::rewrite::wire
