// crit-compatible JSON by protobuf reflection (docs/criu-images.md §8, docs/decode.md).
//
// Written from the documented behaviour of crit (§8.2) and checked against the fixtures' crit output;
// no crit/pycriu code is reused. The mapping is generic: nothing here knows a field by name except the
// CRIU 3.17 view (kCriu317Fields), which describes how Debian's older schema differs from ours.
#include "formats/criu/crit_json.h"

#include <yaml-cpp/binary.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>

#include "core.pb.h"
#include "inventory.pb.h"
#include "mm.pb.h"
#include "opts.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"

namespace vk::criu {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;
using json = nlohmann::ordered_json;
__extension__ using i128 = __int128;  // holds every int64 and uint64, for range checks
__extension__ using u128 = unsigned __int128;

// ---------------------------------------------------------------------------------------------------
// Schema views

// How Debian's crit 3.17.1 schema differs from ours (CRIU 4.2). Derived by listing the descriptors of
// Debian's pycriu (/usr/lib/python3/dist-packages/pycriu/images/*_pb2.py) against formats/proto:
// §2.3 (pagemap field 2 was "nr_pages", field 5 did not exist), §2.4 (inventory 12-14 are new), §2.5
// (task_core 21/22, thread_core 16, xsave 9 are new) and creds 18/19, which 3.17.1 lacks as well.
// An empty `name` means "3.17 does not know this field": crit 3.17 neither prints nor accepts it.
struct LegacyField {
  std::string_view message;
  int number;
  std::string_view name;
};
constexpr std::array<LegacyField, 11> kCriu317Fields{{
    {"vk.img.pagemap_entry", 2, "nr_pages"},
    {"vk.img.pagemap_entry", 5, {}},
    {"vk.img.inventory_entry", 12, {}},
    {"vk.img.inventory_entry", 13, {}},
    {"vk.img.inventory_entry", 14, {}},
    {"vk.img.task_core_entry", 21, {}},
    {"vk.img.task_core_entry", 22, {}},
    {"vk.img.thread_core_entry", 16, {}},
    {"vk.img.creds_entry", 18, {}},
    {"vk.img.creds_entry", 19, {}},
    {"vk.img.user_x86_xsave_entry", 9, {}},
}};

// The JSON key of a field under `schema`, or nullopt when that schema has no such field.
std::optional<std::string_view> json_name(const FD* f, CritSchema schema) {
  if (schema == CritSchema::Criu317) {
    for (const auto& l : kCriu317Fields)
      if (l.number == f->number() && l.message == f->containing_type()->full_name())
        return l.name.empty() ? std::nullopt : std::optional<std::string_view>(l.name);
  }
  return std::string_view(f->name());
}

const FD* field_by_json_name(const pb::Descriptor* d, std::string_view key, CritSchema schema) {
  for (int i = 0; i < d->field_count(); ++i) {
    auto n = json_name(d->field(i), schema);
    if (n && *n == key) return d->field(i);
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------
// Rendering tables (§8.2). Order matters: names are listed in table order.

struct Flag {
  std::string_view name;
  uint64_t value;
};
// Entries marked `since42` are absent from Debian's 3.17.1 tables (MAP_DROPPABLE, MEMFD, SHSTK,
// UPROBES). VMA_AREA_GUARD (0x10000) is in neither table, so it renders as a hex leftover.
struct FlagRow {
  Flag f;
  bool since42;
};
constexpr FlagRow kMmapProt[] = {{{"PROT_READ", 0x1}, false}, {{"PROT_WRITE", 0x2}, false}, {{"PROT_EXEC", 0x4}, false}};
constexpr FlagRow kMmapFlags[] = {{{"MAP_SHARED", 0x1}, false},    {{"MAP_PRIVATE", 0x2}, false},
                                  {{"MAP_DROPPABLE", 0x08}, true}, {{"MAP_ANON", 0x20}, false},
                                  {{"MAP_GROWSDOWN", 0x100}, false}};
constexpr FlagRow kMmapStatus[] = {
    {{"VMA_AREA_NONE", 0}, false},           {{"VMA_AREA_REGULAR", 1u << 0}, false},
    {{"VMA_AREA_STACK", 1u << 1}, false},    {{"VMA_AREA_VSYSCALL", 1u << 2}, false},
    {{"VMA_AREA_VDSO", 1u << 3}, false},     {{"VMA_AREA_HEAP", 1u << 5}, false},
    {{"VMA_FILE_PRIVATE", 1u << 6}, false},  {{"VMA_FILE_SHARED", 1u << 7}, false},
    {{"VMA_ANON_SHARED", 1u << 8}, false},   {{"VMA_ANON_PRIVATE", 1u << 9}, false},
    {{"VMA_AREA_SYSVIPC", 1u << 10}, false}, {{"VMA_AREA_SOCKET", 1u << 11}, false},
    {{"VMA_AREA_VVAR", 1u << 12}, false},    {{"VMA_AREA_AIORING", 1u << 13}, false},
    {{"VMA_AREA_MEMFD", 1u << 14}, true},    {{"VMA_AREA_SHSTK", 1u << 15}, true},
    {{"VMA_AREA_UPROBES", 1u << 17}, true},  {{"VMA_UNSUPP", 1u << 31}, false},
};
constexpr FlagRow kPmapFlags[] = {{{"PE_PARENT", 1}, false}, {{"PE_LAZY", 2}, false}, {{"PE_PRESENT", 4}, false}};

// The flag table named by a (criu).flags option, or empty when there is none of that name.
std::vector<Flag> flag_table(std::string_view name, CritSchema schema) {
  std::span<const FlagRow> rows;
  if (name == "mmap.prot") rows = kMmapProt;
  else if (name == "mmap.flags") rows = kMmapFlags;
  else if (name == "mmap.status") rows = kMmapStatus;
  else if (name == "pmap.flags") rows = kPmapFlags;
  std::vector<Flag> out;
  for (const auto& r : rows)
    if (!r.since42 || schema == CritSchema::Criu42) out.push_back(r.f);
  return out;
}

// (criu).dict tables: the "gen" dictionary is keyed by field name (task_state only).
struct DictRow {
  std::string_view dict, field;
  uint64_t value;
  std::string_view name;
};
constexpr DictRow kDicts[] = {
    {"gen", "task_state", 1, "Alive"},
    {"gen", "task_state", 3, "Zombie"},
    {"gen", "task_state", 6, "Stopped"},
};

const vk::img::CRIU_Opts& criu_opts(const FD* f) { return f->options().GetExtension(vk::img::criu); }

// Python's "%x" % v: negative numbers keep their sign ("0x%x" % -5 == "0x-5").
std::string py_hex(i128 v) {
  bool neg = v < 0;
  u128 m = neg ? static_cast<u128>(-v) : static_cast<u128>(v);
  std::string digits;
  do {
    digits.insert(digits.begin(), "0123456789abcdef"[static_cast<int>(m & 15)]);
    m >>= 4;
  } while (m);
  return std::string("0x") + (neg ? "-" : "") + digits;
}

// dev_t as "major:minor": dev uses the new 20-bit minor layout, odev the old 8-bit one (§8.2).
std::string render_dev(uint64_t v, bool old) {
  int bits = old ? 8 : 20;
  return std::to_string(v >> bits) + ":" + std::to_string(v & ((uint64_t(1) << bits) - 1));
}

// ---------------------------------------------------------------------------------------------------
// Image -> JSON

bool is_signed(const FD* f) {
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_INT64: return true;
    default: return false;
  }
}

i128 get_int(const pb::Message& m, const FD* f, int index) {
  const auto* r = m.GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FD::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FD::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FD::CPPTYPE_UINT64: return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    default: return 0;
  }
}

json int_json(i128 v, bool is_signed_type) {
  if (is_signed_type) return json(static_cast<int64_t>(v));
  return json(static_cast<uint64_t>(v));
}

// One integer as crit renders it: pretty applies hex (inherited or own), dev, flags, dict (in that order).
json render_int(const FD* f, i128 v, bool hex, const CritOptions& o) {
  if (!o.pretty) return int_json(v, is_signed(f));
  const auto& opt = criu_opts(f);
  if (hex) return py_hex(v);
  if (opt.dev() || opt.odev()) return render_dev(static_cast<uint64_t>(v), opt.odev());
  if (!opt.flags().empty()) {
    auto table = flag_table(opt.flags(), o.schema);
    if (table.empty()) return py_hex(v);  // unknown table: crit falls back to hex
    std::string s;
    i128 all = 0;
    for (const auto& fl : table) {
      if (v & fl.value) s += (s.empty() ? "" : " | ") + std::string(fl.name);
      all += fl.value;
    }
    i128 rest = v & ~all;
    if (rest) s += (s.empty() ? "" : " | ") + py_hex(rest);
    return s;
  }
  if (!opt.dict().empty()) {
    for (const auto& d : kDicts)
      if (d.dict == opt.dict() && d.field == f->name() && i128(d.value) == v) return std::string(d.name);
  }
  return int_json(v, is_signed(f));
}

json message_json(const pb::Message& m, bool hex, const CritOptions& o);

json value_json(const pb::Message& m, const FD* f, int index, bool hex, const CritOptions& o) {
  const auto* r = m.GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_MESSAGE:
      return message_json(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), hex, o);
    case FD::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FD::TYPE_BYTES) return base64_encodebytes(s);
      return s;
    }
    case FD::CPPTYPE_ENUM:
      return std::string((rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name());
    case FD::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FD::CPPTYPE_DOUBLE: return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case FD::CPPTYPE_FLOAT: return double(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    default: return render_int(f, get_int(m, f, index), hex, o);
  }
}

// Only fields present on the wire, in field-number order (Reflection::ListFields, like Python's).
// A message field marked hex makes every integer below it hex (gpregs).
json message_json(const pb::Message& m, bool hex, const CritOptions& o) {
  json d = json::object();
  std::vector<const FD*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const FD* f : fields) {
    auto name = json_name(f, o.schema);
    if (!name) continue;
    bool h = hex || criu_opts(f).hex();
    if (f->is_repeated()) {
      json a = json::array();
      int n = m.GetReflection()->FieldSize(m, f);
      for (int i = 0; i < n; ++i) a.push_back(value_json(m, f, i, h, o));
      d[std::string(*name)] = std::move(a);
    } else {
      d[std::string(*name)] = value_json(m, f, -1, h, o);
    }
  }
  return d;
}

// The message type of entry `index` in an image of this magic (pagemap: a head, then entries).
std::unique_ptr<pb::Message> new_entry(uint32_t magic, size_t index) {
  switch (kind_of(magic)) {
    case Kind::Inventory: return std::make_unique<vk::img::inventory_entry>();
    case Kind::Pstree: return std::make_unique<vk::img::pstree_entry>();
    case Kind::Core: return std::make_unique<vk::img::core_entry>();
    case Kind::Mm: return std::make_unique<vk::img::mm_entry>();
    case Kind::Pagemap:
      if (index == 0) return std::make_unique<vk::img::pagemap_head>();
      return std::make_unique<vk::img::pagemap_entry>();
    case Kind::Other: break;
  }
  return nullptr;
}

std::string no_schema_message(uint32_t magic) {
  auto name = magic_name(magic);
  std::string what = name.empty() ? "unknown image magic " + hex(magic) : std::string(name) + " images";
  return "cannot decode: no schema for " + what + " (vdsokit models INVENTORY, PSTREE, CORE, MM and PAGEMAP)";
}

// ---------------------------------------------------------------------------------------------------
// Python json printer

void put_utf16(std::string& out, unsigned cp) {
  char buf[16];   // "\\u" + up to 8 hex digits for any unsigned, plus NUL
  std::snprintf(buf, sizeof buf, "\\u%04x", cp);
  out += buf;
}

// ensure_ascii: everything outside ' '..'~' is escaped, code points above U+FFFF as surrogate pairs.
// Invalid UTF-8 (proto2 strings are not validated) becomes U+FFFD.
void put_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') { out += "\\\""; ++i; continue; }
    if (c == '\\') { out += "\\\\"; ++i; continue; }
    if (c >= 0x20 && c < 0x7f) { out += static_cast<char>(c); ++i; continue; }
    if (c < 0x80) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: put_utf16(out, c);
      }
      ++i;
      continue;
    }
    int len = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    unsigned cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
    bool ok = len != 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if (!ok) {
      put_utf16(out, 0xfffd);
      ++i;
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put_utf16(out, 0xd800 + (cp >> 10));
      put_utf16(out, 0xdc00 + (cp & 0x3ff));
    } else {
      put_utf16(out, cp);
    }
    i += len;
  }
  out += '"';
}

void newline(std::string& out, int depth) {
  out += '\n';
  out.append(static_cast<size_t>(depth) * 4, ' ');
}

void dump_to(const json& j, bool pretty, int depth, std::string& out) {
  switch (j.type()) {
    case json::value_t::object: {
      if (j.empty()) { out += "{}"; return; }
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(out, depth + 1);
        put_string(out, k);
        out += ": ";
        dump_to(v, pretty, depth + 1, out);
      }
      if (pretty) newline(out, depth);
      out += '}';
      return;
    }
    case json::value_t::array: {
      if (j.empty()) { out += "[]"; return; }
      out += '[';
      bool first = true;
      for (const auto& v : j) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(out, depth + 1);
        dump_to(v, pretty, depth + 1, out);
      }
      if (pretty) newline(out, depth);
      out += ']';
      return;
    }
    case json::value_t::string: put_string(out, j.get_ref<const std::string&>()); return;
    case json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case json::value_t::number_integer: out += std::to_string(j.get<int64_t>()); return;
    case json::value_t::number_unsigned: out += std::to_string(j.get<uint64_t>()); return;
    case json::value_t::number_float: {
      // Python's float repr: shortest round trip, always with a '.' or exponent.
      char buf[32];
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, j.get<double>());
      std::string s(buf, ec == std::errc() ? p : buf);
      if (s.find_first_of(".eni") == std::string::npos) s += ".0";
      out += s;
      return;
    }
    default: out += "null"; return;
  }
}

// ---------------------------------------------------------------------------------------------------
// JSON -> image (crit encode)

struct Encoder {
  std::string file;
  CritSchema schema;

  Error fail(const std::string& path, const std::string& msg) const {
    return bad_input(file, (path.empty() ? "" : path + ": ") + msg);
  }

  static std::string kind(const json& v) {
    return v.is_object() ? "an object" : v.is_array() ? "an array" : v.is_string() ? "a string"
           : v.is_boolean() ? "a boolean" : v.is_null() ? "null" : "a number";
  }

  Expected<i128> py_int(std::string_view s, const std::string& path) const {
    auto p = parse_python_int(s);
    if (!p) return fail(path, "invalid integer \"" + std::string(s) + "\"");
    return p->negative ? -i128(p->magnitude) : i128(p->magnitude);
  }

  // An integer in any form dict2pb accepts: numbers, booleans, or strings read as dev ("maj:min"),
  // flag names joined by '|', dict names, or int(s, 0).
  Expected<i128> to_int(const json& v, const FD* f, const std::string& path) const {
    if (v.is_number_unsigned()) return i128(v.get<uint64_t>());
    if (v.is_number_integer()) return i128(v.get<int64_t>());
    if (v.is_boolean()) return i128(v.get<bool>() ? 1 : 0);
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (!(d > -9.3e18 && d < 1.85e19)) return fail(path, "number out of range");
      return i128(d);  // Python int(float) truncates
    }
    if (!v.is_string()) return fail(path, "expected an integer, got " + kind(v));
    const std::string& s = v.get_ref<const std::string&>();
    const auto& opt = criu_opts(f);
    if (opt.dev() || opt.odev()) {
      auto colon = s.find(':');
      if (colon != std::string::npos) {
        VK_TRY(maj, py_int(std::string_view(s).substr(0, colon), path));
        VK_TRY(min, py_int(std::string_view(s).substr(colon + 1), path));
        return maj << (opt.odev() ? 8 : 20) | min;
      }
    }
    if (!opt.flags().empty()) {
      auto table = flag_table(opt.flags(), schema);
      if (!table.empty()) {
        // "" is 0; otherwise the sum of the '|'-separated tokens, each a name or an int(tok, 0).
        i128 sum = 0;
        std::string_view rest = s;
        if (rest.empty()) return i128(0);
        while (true) {
          auto bar = rest.find('|');
          std::string_view tok = rest.substr(0, bar);
          while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.front()))) tok.remove_prefix(1);
          while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back()))) tok.remove_suffix(1);
          const Flag* named = nullptr;
          for (const auto& fl : table)
            if (fl.name == tok) named = &fl;
          if (named) {
            sum += named->value;
          } else {
            auto p = parse_python_int(tok);
            if (!p) return fail(path, "unknown flag \"" + std::string(tok) + "\" for table " + opt.flags());
            sum += p->negative ? -i128(p->magnitude) : i128(p->magnitude);
          }
          if (bar == std::string_view::npos) break;
          rest.remove_prefix(bar + 1);
        }
        return sum;
      }
    }
    if (!opt.dict().empty()) {
      for (const auto& d : kDicts)
        if (d.dict == opt.dict() && d.field == f->name() && d.name == s) return i128(d.value);
    }
    return py_int(s, path);
  }

  Status set_scalar(pb::Message& m, const FD* f, const json& v, const std::string& path) const {
    const auto* r = m.GetReflection();
    bool rep = f->is_repeated();
    if (v.is_null()) return fail(path, "null is not a value");
    switch (f->cpp_type()) {
      case FD::CPPTYPE_STRING: {
        std::string s;
        if (f->type() == FD::TYPE_BYTES) {
          if (!v.is_string()) return fail(path, "expected base64 bytes, got " + kind(v));
          auto b = base64_decodebytes(v.get_ref<const std::string&>());
          if (!b) return fail(path, "invalid base64");
          s = std::move(*b);
        } else if (v.is_string()) {
          s = v.get<std::string>();
        } else if (v.is_number()) {
          s = v.dump();  // Python str(number)
        } else if (v.is_boolean()) {
          s = v.get<bool>() ? "True" : "False";
        } else {
          return fail(path, "expected a string, got " + kind(v));
        }
        rep ? r->AddString(&m, f, std::move(s)) : r->SetString(&m, f, std::move(s));
        return Status::ok();
      }
      case FD::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* ev = nullptr;
        if (v.is_string()) ev = f->enum_type()->FindValueByName(v.get<std::string>());
        else if (v.is_number_integer()) ev = f->enum_type()->FindValueByNumber(static_cast<int>(v.get<int64_t>()));
        if (!ev)
          return fail(path, "unknown " + std::string(f->enum_type()->name()) + " value " + v.dump());
        rep ? r->AddEnum(&m, f, ev) : r->SetEnum(&m, f, ev);
        return Status::ok();
      }
      case FD::CPPTYPE_BOOL: {
        // Python bool(value): any non-zero number or non-empty string is true.
        bool b;
        if (v.is_boolean()) b = v.get<bool>();
        else if (v.is_number()) b = v.get<double>() != 0;
        else if (v.is_string()) b = !v.get_ref<const std::string&>().empty();
        else return fail(path, "expected a boolean, got " + kind(v));
        rep ? r->AddBool(&m, f, b) : r->SetBool(&m, f, b);
        return Status::ok();
      }
      case FD::CPPTYPE_DOUBLE:
      case FD::CPPTYPE_FLOAT: {
        if (!v.is_number()) return fail(path, "expected a number, got " + kind(v));
        double d = v.get<double>();
        if (f->cpp_type() == FD::CPPTYPE_DOUBLE) rep ? r->AddDouble(&m, f, d) : r->SetDouble(&m, f, d);
        else rep ? r->AddFloat(&m, f, float(d)) : r->SetFloat(&m, f, float(d));
        return Status::ok();
      }
      case FD::CPPTYPE_MESSAGE: return fail(path, "internal: message as scalar");
      default: break;
    }
    VK_TRY(x, to_int(v, f, path));
    auto range = [&](i128 lo, i128 hi) -> Status {
      if (x < lo || x > hi)
        return fail(path, "value " + py_hex(x) + " out of range for " + std::string(f->type_name()));
      return Status::ok();
    };
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32:
        VK_CHECK(range(INT32_MIN, INT32_MAX));
        rep ? r->AddInt32(&m, f, int32_t(x)) : r->SetInt32(&m, f, int32_t(x));
        break;
      case FD::CPPTYPE_INT64:
        VK_CHECK(range(INT64_MIN, INT64_MAX));
        rep ? r->AddInt64(&m, f, int64_t(x)) : r->SetInt64(&m, f, int64_t(x));
        break;
      case FD::CPPTYPE_UINT32:
        VK_CHECK(range(0, UINT32_MAX));
        rep ? r->AddUInt32(&m, f, uint32_t(x)) : r->SetUInt32(&m, f, uint32_t(x));
        break;
      default:
        VK_CHECK(range(0, UINT64_MAX));
        rep ? r->AddUInt64(&m, f, uint64_t(x)) : r->SetUInt64(&m, f, uint64_t(x));
        break;
    }
    return Status::ok();
  }

  // Keys the schema does not know are ignored (a newer crit's JSON still encodes).
  Status fill(pb::Message& m, const json& j, const std::string& path) const {
    if (!j.is_object())
      return fail(path, "expected an object for " + std::string(m.GetDescriptor()->name()) + ", got " + kind(j));
    const auto* r = m.GetReflection();
    for (const auto& [key, v] : j.items()) {
      const FD* f = field_by_json_name(m.GetDescriptor(), key, schema);
      if (!f) continue;
      std::string here = path + "." + key;
      if (f->is_repeated()) {
        if (!v.is_array()) return fail(here, "expected an array, got " + kind(v));
        r->ClearField(&m, f);
        for (size_t i = 0; i < v.size(); ++i) {
          std::string at = here + "[" + std::to_string(i) + "]";
          if (f->cpp_type() == FD::CPPTYPE_MESSAGE) VK_CHECK(fill(*r->AddMessage(&m, f), v[i], at));
          else VK_CHECK(set_scalar(m, f, v[i], at));
        }
      } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        VK_CHECK(fill(*r->MutableMessage(&m, f), v, here));
      } else {
        VK_CHECK(set_scalar(m, f, v, here));
      }
    }
    return Status::ok();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------

std::optional<CritSchema> crit_schema_by_name(std::string_view name) {
  if (name == "criu-4.2") return CritSchema::Criu42;
  if (name == "criu-3.17") return CritSchema::Criu317;
  return std::nullopt;
}

std::string_view crit_schema_name(CritSchema s) { return s == CritSchema::Criu317 ? "criu-3.17" : "criu-4.2"; }

Expected<nlohmann::ordered_json> image_to_crit_tree(const Image& img, const CritOptions& opts) {
  if (img.kind() == Kind::Other) return bad_input(img.name, no_schema_message(img.magic));
  json entries = json::array();
  for (size_t i = 0; i < img.entries.size(); ++i) {
    auto msg = new_entry(img.magic, i);
    VK_CHECK(decode_entry(img, i, *msg));
    entries.push_back(message_json(*msg, false, opts));
  }
  json doc = json::object();
  doc["magic"] = std::string(img.magic == kInventoryMagic ? "INVENTORY" : magic_name(img.magic));
  doc["entries"] = std::move(entries);
  return doc;
}

std::string dump_python_json(const nlohmann::ordered_json& j, bool pretty) {
  std::string out;
  dump_to(j, pretty, 0, out);
  return out;
}

Expected<std::string> image_to_crit_json(const Image& img, const CritOptions& opts) {
  // The text dump_python_json(image_to_crit_tree(...)) gives, written entry by entry: the whole tree
  // costs about 20 times the image for small entries, one entry's tree is tiny (issue 12, memory).
  if (img.kind() == Kind::Other) return bad_input(img.name, no_schema_message(img.magic));
  const bool pretty = opts.pretty;
  std::string out = "{";
  if (pretty) newline(out, 1);
  put_string(out, "magic");
  out += ": ";
  put_string(out, img.magic == kInventoryMagic ? "INVENTORY" : std::string(magic_name(img.magic)));
  out += pretty ? "," : ", ";
  if (pretty) newline(out, 1);
  put_string(out, "entries");
  out += ": ";
  if (img.entries.empty()) {
    out += "[]";
  } else {
    out += '[';
    for (size_t i = 0; i < img.entries.size(); ++i) {
      if (i) out += pretty ? "," : ", ";
      if (pretty) newline(out, 2);
      auto msg = new_entry(img.magic, i);
      VK_CHECK(decode_entry(img, i, *msg));
      dump_to(message_json(*msg, false, opts), pretty, 2, out);
    }
    if (pretty) newline(out, 1);
    out += ']';
  }
  if (pretty) newline(out, 0);
  out += '}';
  return out;
}

Expected<Image> crit_json_to_image(std::string_view text, const std::string& name, CritSchema schema) {
  // Parsed through the SAX interface so that every refusal carries its position: the DOM parser
  // reports a number like 1E400 as out_of_range without one, and only parse_error was caught before
  // (issue 12, D7: abort).
  struct Sax : nlohmann::detail::json_sax_dom_parser<json> {
    using nlohmann::detail::json_sax_dom_parser<json>::json_sax_dom_parser;
    uint64_t position = 0;
    std::string what;
    bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
      position = pos;
      what = ex.what();
      return false;
    }
  };
  // A JSON tree costs about 80 bytes per value: the number of values is counted on the text before
  // any is built (a structural scan: commas and openings outside strings), so that 16 MiB of "[],"
  // cannot become 300 MB (issue 12: 256 MiB for any single input).
  {
    uint64_t values = 1;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == ',' || c == '[' || c == '{') ++values;
      if (values > kMaxJsonValues)
        return bad_input_at(name, i, "more than " + std::to_string(kMaxJsonValues) + " JSON values (limit of this reader)");
    }
  }
  json doc;
  Sax sax(doc, false);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const json::exception& e) {
    return bad_input(name, std::string("invalid JSON: ") + e.what());
  }
  if (!ok) {
    // nlohmann's position counts the characters read, one past the offending one.
    uint64_t off = sax.position > 0 ? sax.position - 1 : 0;
    auto colon = sax.what.find("syntax error");
    if (colon == std::string::npos) colon = sax.what.find("] ");
    if (colon != std::string::npos && sax.what[colon] == ']') colon += 2;
    return bad_input_at(name, off, "invalid JSON: " + (colon == std::string::npos ? sax.what : sax.what.substr(colon)));
  }
  Encoder enc{name, schema};
  if (!doc.is_object()) return enc.fail("", "expected a JSON object {\"magic\": ..., \"entries\": [...]}");
  auto mit = doc.find("magic");
  if (mit == doc.end() || !mit->is_string()) return enc.fail("", "missing \"magic\" string");
  auto ename = mit->get<std::string>();
  auto magic = magic_by_name(ename);
  if (!magic) return enc.fail("magic", "unknown magic name \"" + ename + "\"");
  auto eit = doc.find("entries");
  if (eit == doc.end() || !eit->is_array()) return enc.fail("", "missing \"entries\" array");

  Image img;
  img.name = name;
  img.magic = *magic;
  img.head = *magic == kInventoryMagic ? 0 : is_service(*magic) ? kServiceMagic : kCommonMagic;
  if (img.kind() == Kind::Other) return bad_input(name, "cannot encode: no schema for " + ename +
                                                           " images (vdsokit models INVENTORY, PSTREE, CORE, MM and PAGEMAP)");
  for (size_t i = 0; i < eit->size(); ++i) {
    auto msg = new_entry(img.magic, i);
    std::string path = "entries[" + std::to_string(i) + "]";
    VK_CHECK(enc.fill(*msg, (*eit)[i], path));
    if (!msg->IsInitialized())
      return enc.fail(path, std::string(msg->GetDescriptor()->name()) +
                                " lacks required fields: " + msg->InitializationErrorString());
    encode_entry(img, img.entries.size(), *msg);
  }
  return img;
}

std::optional<ParsedInt> parse_python_int(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  ParsedInt out;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    out.negative = s.front() == '-';
    s.remove_prefix(1);
  }
  unsigned base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x') base = 16;
    else if (p == 'o') base = 8;
    else if (p == 'b') base = 2;
    if (base != 10) {
      s.remove_prefix(2);
      prefixed = true;
    }
  }
  // Underscores may separate digits (and follow a base prefix), never lead, trail or double.
  if (s.empty()) return std::nullopt;
  bool prev_digit = prefixed;  // "0x_1" is valid
  bool any = false, all_zero = true;
  u128 v = 0;
  for (char c : s) {
    if (c == '_') {
      if (!prev_digit) return std::nullopt;
      prev_digit = false;
      continue;
    }
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = static_cast<unsigned>((c | 0x20) - 'a' + 10);
    else return std::nullopt;
    if (d >= base) return std::nullopt;
    v = v * base + d;
    if (v > UINT64_MAX) return std::nullopt;
    if (d) all_zero = false;
    any = prev_digit = true;
  }
  if (!any || !prev_digit) return std::nullopt;
  // int("007", 0) is an error (ambiguous octal); int("000", 0) is 0.
  if (base == 10 && s.size() > 1 && s[0] == '0' && !all_zero) return std::nullopt;
  out.magnitude = static_cast<uint64_t>(v);
  if (out.negative && out.magnitude > uint64_t(INT64_MAX) + 1) return std::nullopt;
  return out;
}

std::string base64_encodebytes(std::string_view bytes) {
  // Python's base64.encodebytes: 57 input bytes per 76-character line, each line ending in '\n'.
  std::string out;
  for (size_t line = 0; line < bytes.size(); line += 57) {
    auto chunk = bytes.substr(line, 57);
    out += YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(chunk.data()), chunk.size());
    out += '\n';
  }
  return out;
}

std::optional<std::string> base64_decodebytes(std::string_view text) {
  // Python's base64.decodebytes on what crit writes: the RFC 4648 alphabet in groups of four, '='
  // padding only at the end, line breaks and other whitespace skipped. Anything else (a non-ASCII
  // byte, a stray symbol, missing padding) is refused. Our own decoder: yaml-cpp's indexes its
  // table with a signed char and crashed on non-ASCII text (issue 12, D6).
  auto value = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  size_t quads = 0;   // characters of the current group of four
  size_t pad = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
    if (c == '=') {
      if (quads < 2) return std::nullopt;   // "=" cannot start a group or follow one character
      ++pad;
      ++quads;
      if (quads == 4) quads = 0;
      continue;
    }
    int d = value(c);
    if (d < 0 || pad) return std::nullopt;
    acc = acc << 6 | uint32_t(d);
    if (++quads == 4) {
      out += char(acc >> 16 & 0xff);
      out += char(acc >> 8 & 0xff);
      out += char(acc & 0xff);
      acc = 0;
      quads = 0;
    }
  }
  if (quads != 0 || pad > 2) return std::nullopt;
  if (pad) {
    // The last group held 4 - pad characters: 1 (pad 2) or 2 (pad 1) bytes.
    // acc holds the group's 4 - pad digits; shift as if each '=' were a zero digit.
    size_t keep = 3 - pad;
    uint32_t v = acc << (6 * pad);
    out += char(v >> 16 & 0xff);
    if (keep == 2) out += char(v >> 8 & 0xff);
  }
  return out;
}

}  // namespace vk::criu
