#include "rewriters/wire.h"

namespace vk::rewrite::wire {

namespace {

// Reads a varint at `pos`; false when it is truncated or longer than 10 bytes.
bool get_varint(std::string_view s, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos >= s.size()) return false;
    uint8_t b = uint8_t(s[pos++]);
    if (shift == 63 && b > 1) return false;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace

Expected<std::vector<Field>> split(std::string_view msg, const std::string& file, uint64_t base) {
  std::vector<Field> out;
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t start = pos;
    uint64_t tag = 0;
    if (!get_varint(msg, pos, tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
      return bad_input_at(file, base + start, "malformed protobuf field tag");
    Field f;
    f.number = uint32_t(tag >> 3);
    f.type = uint32_t(tag & 7);
    size_t value = pos;
    switch (f.type) {
      case kVarint:
        if (!get_varint(msg, pos, f.varint))
          return bad_input_at(file, base + start, "truncated varint in field " + std::to_string(f.number));
        break;
      case kFixed64:
      case kFixed32: {
        size_t n = f.type == kFixed64 ? 8 : 4;
        if (msg.size() - pos < n) return bad_input_at(file, base + start, "truncated fixed field " + std::to_string(f.number));
        pos += n;
        break;
      }
      case kLen: {
        uint64_t len = 0;
        if (!get_varint(msg, pos, len) || len > msg.size() - pos)
          return bad_input_at(file, base + start, "length of field " + std::to_string(f.number) + " runs past the message");
        pos += size_t(len);
        break;
      }
      default:
        return bad_input_at(file, base + start, "unsupported protobuf wire type " + std::to_string(f.type) +
                                                    " (field " + std::to_string(f.number) + ")");
    }
    f.bytes.assign(msg.substr(start, pos - start));
    f.value_offset = value - start;
    if (f.type == kLen) {
      size_t p = f.value_offset;
      uint64_t len = 0;
      get_varint(f.bytes, p, len);
      f.body_offset = p;
    }
    out.push_back(std::move(f));
  }
  return out;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}

Field varint_field(uint32_t number, uint64_t value) {
  Field f;
  f.number = number;
  f.type = kVarint;
  f.varint = value;
  put_varint(f.bytes, uint64_t(number) << 3 | kVarint);
  f.value_offset = f.bytes.size();
  put_varint(f.bytes, value);
  return f;
}

Field len_field(uint32_t number, std::string_view payload) {
  Field f;
  f.number = number;
  f.type = kLen;
  put_varint(f.bytes, uint64_t(number) << 3 | kLen);
  f.value_offset = f.bytes.size();
  put_varint(f.bytes, payload.size());
  f.body_offset = f.bytes.size();
  f.bytes.append(payload);
  return f;
}

std::string join(const std::vector<Field>& fields) {
  std::string out;
  for (const auto& f : fields) out += f.bytes;
  return out;
}

}  // namespace vk::rewrite::wire
