#include "rewriters/wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace vk::rewrite::wire {

namespace io = google::protobuf::io;

Expected<std::vector<Field>> split(std::string_view msg, const std::string& file, uint64_t base) {
  std::vector<Field> out;
  io::CodedInputStream in(reinterpret_cast<const uint8_t*>(msg.data()), int(msg.size()));
  while (size_t(in.CurrentPosition()) < msg.size()) {
    size_t start = size_t(in.CurrentPosition());
    uint32_t tag = in.ReadTag();
    if (tag == 0 || (tag >> 3) == 0) return bad_input_at(file, base + start, "malformed protobuf field tag");
    Field f;
    f.number = tag >> 3;
    f.type = tag & 7;
    size_t value = size_t(in.CurrentPosition());
    switch (f.type) {
      case kVarint:
        if (!in.ReadVarint64(&f.varint))
          return bad_input_at(file, base + start, "truncated varint in field " + std::to_string(f.number));
        break;
      case kFixed64:
      case kFixed32:
        if (!in.Skip(f.type == kFixed64 ? 8 : 4))
          return bad_input_at(file, base + start, "truncated fixed field " + std::to_string(f.number));
        break;
      case kLen: {
        uint32_t len = 0;
        if (!in.ReadVarint32(&len))
          return bad_input_at(file, base + start, "truncated length of field " + std::to_string(f.number));
        f.body_offset = size_t(in.CurrentPosition()) - start;
        if (!in.Skip(int(len)))
          return bad_input_at(file, base + start, "length of field " + std::to_string(f.number) + " runs past the message");
        break;
      }
      default:
        return bad_input_at(file, base + start, "unsupported protobuf wire type " + std::to_string(f.type) +
                                                    " (field " + std::to_string(f.number) + ")");
    }
    f.value_offset = value - start;
    f.bytes.assign(msg.substr(start, size_t(in.CurrentPosition()) - start));
    out.push_back(std::move(f));
  }
  return out;
}

void put_varint(std::string& out, uint64_t v) {
  io::StringOutputStream sink(&out);
  io::CodedOutputStream o(&sink);
  o.WriteVarint64(v);
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
