#include "formats/common/text.h"

#include <cstdint>

namespace vk {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the byte there does not start
// one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). Sets *cp.
size_t utf8_len(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v, min;
  if (c >= 0xc2 && c <= 0xdf) n = 2, v = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) n = 3, v = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, v = c & 0x07, min = 0x10000;
  else return 0;
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    v = v << 6 | (b(k) & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

void put_hex(std::string& out, uint8_t c) {
  static const char digits[] = "0123456789abcdef";
  out += "\\x";
  out += digits[c >> 4];
  out += digits[c & 15];
}

// mode 0: invalid bytes only; 1: also every control; 2: controls except '\n' and '\t'.
std::string escape(std::string_view s, int mode) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_len(s, i, &cp);
    if (n == 0) {
      put_hex(out, static_cast<uint8_t>(s[i]));
      ++i;
      continue;
    }
    bool control = cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
    if (mode == 2 && (cp == '\n' || cp == '\t')) control = false;
    if (mode != 0 && control) {
      for (size_t k = 0; k < n; ++k) put_hex(out, static_cast<uint8_t>(s[i + k]));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace

std::string utf8_escape(std::string_view s) { return escape(s, 0); }
std::string printable(std::string_view s) { return escape(s, 1); }
std::string printable_text(std::string_view s) { return escape(s, 2); }

bool is_printable_text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x7f) {   // the common case, byte by byte
      ++i;
      continue;
    }
    if (c == '\n' || c == '\t') {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t n = utf8_len(s, i, &cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) return false;
    i += n;
  }
  return true;
}

nlohmann::ordered_json utf8_clean(const nlohmann::ordered_json& j) {
  using json = nlohmann::ordered_json;
  if (j.is_string()) return json(utf8_escape(j.get_ref<const std::string&>()));
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(utf8_clean(v));
    return out;
  }
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : j.items()) out[utf8_escape(k)] = utf8_clean(v);
    return out;
  }
  return j;
}

// ensure_ascii: every non-ASCII character as \uXXXX, so the JSON holds no raw C1 control either and
// passes the text filter (printable_text) unchanged.
std::string dump_json(const nlohmann::ordered_json& j, int indent) { return utf8_clean(j).dump(indent, ' ', true); }

std::string markup_escape(std::string_view s, const char* apos) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += apos; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += '?';
        else out += c;
    }
  }
  return out;
}

}  // namespace vk
