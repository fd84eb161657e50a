// crit-compatible JSON for CRIU images: `vdsokit decode` / `vdsokit encode` (docs/decode.md).
//
// The JSON is built generically by protobuf reflection over our schemas (formats/proto/*.proto), which
// are the single source of truth: field names, field-number order, presence and the (criu) rendering
// options all come from the descriptors. The output equals upstream crit (CRIU 4.2) byte for byte
// (docs/criu-images.md §8), or Debian's crit 3.17.1 with CritSchema::Criu317.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "formats/common/error.h"
#include "formats/criu/image.h"

namespace vk::criu {

// Which crit the JSON must look like. The wire format is the same; the schemas differ in names and
// known fields (docs/criu-images.md §2.3, §2.4, §8.2).
enum class CritSchema {
  Criu42,   // upstream CRIU 4.2: pagemap field 2 "compat_nr_pages", field 5 "nr_pages"
  Criu317,  // CRIU 3.17.1 as Debian 12 ships it: field 2 is "nr_pages", no field 5, older flag tables
};

// "criu-4.2" / "criu-3.17" (the names the CLI accepts).
std::optional<CritSchema> crit_schema_by_name(std::string_view name);
std::string_view crit_schema_name(CritSchema s);

struct CritOptions {
  bool pretty = false;                      // crit --pretty / crit show rendering
  CritSchema schema = CritSchema::Criu42;
};

// The JSON tree crit builds for an image ({"magic": ..., "entries": [...]}). Fails (exit 3) for images
// we have no schema for (naming the magic) and for entries that do not parse.
Expected<nlohmann::ordered_json> image_to_crit_tree(const Image& img, const CritOptions& opts);

// Prints a tree the way Python's json.dumps does: default separators (", ", ": ") on one line, or
// indent=4 with "," + newline when `pretty`; always ensure_ascii. No trailing newline.
std::string dump_python_json(const nlohmann::ordered_json& j, bool pretty);

// image_to_crit_tree + dump_python_json.
Expected<std::string> image_to_crit_json(const Image& img, const CritOptions& opts);

// crit encode: the JSON (compact or pretty, any of the value forms crit's dict2pb accepts) back to an
// image. `name` is used in error messages. Header words follow pycriu (§1.2): SERVICE for STATS and
// IRMAP_CACHE, none for INVENTORY, COMMON for everything else.
// Values (objects, arrays, scalars) one JSON document may hold; more are refused before parsing.
inline constexpr uint64_t kMaxJsonValues = uint64_t(1) << 20;
Expected<Image> crit_json_to_image(std::string_view text, const std::string& name,
                                   CritSchema schema = CritSchema::Criu42);

// Python's int(s, 0): optional sign, 0x/0o/0b prefixes, '_' between digits, surrounding whitespace;
// a decimal with a leading zero is rejected. Values must fit in 64 bits (signed or unsigned).
struct ParsedInt {
  bool negative = false;
  uint64_t magnitude = 0;
};
std::optional<ParsedInt> parse_python_int(std::string_view s);

// Python base64.encodebytes / decodebytes.
std::string base64_encodebytes(std::string_view bytes);
std::optional<std::string> base64_decodebytes(std::string_view text);

}  // namespace vk::criu
