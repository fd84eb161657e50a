// Strings from untrusted inputs (process names, file and member names, ELF strings) in our outputs.
// One policy for every renderer (docs/cli.md "Untrusted strings"):
//   - JSON and YAML: every byte that is not part of a valid UTF-8 sequence becomes the four characters
//     \xNN (a process name may hold any byte except NUL, and Linux allows it); the documents are then
//     written in ASCII (\uXXXX in JSON, \x/\u escapes in YAML), so they hold no raw control byte.
//   - text on a terminal or in a file: the same, and in addition C0 control bytes (except newline and
//     tab between lines), DEL and the C1 controls U+0080..U+009F become \xNN, so an input cannot move
//     the cursor, recolour or retitle the terminal.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace vk {

// Invalid UTF-8 bytes as \xNN; everything else unchanged.
std::string utf8_escape(std::string_view s);
// utf8_escape, plus every control byte/code point (including newline and tab) as \xNN: for one field.
std::string printable(std::string_view s);
// printable, but newline and tab stay: for a whole rendered text report.
std::string printable_text(std::string_view s);
// Whether printable_text would return `s` unchanged (lets a large report be written without a copy).
bool is_printable_text(std::string_view s);

// `s` inside an XML/HTML attribute or element: the five markup characters as entities (`'` as `apos`,
// which HTML writers may set to "&#39;"), and control bytes other than newline and tab, which XML 1.0
// forbids, as '?'.
std::string markup_escape(std::string_view s, const char* apos = "&apos;");

// A JSON tree with utf8_escape applied to every string and key, then dumped (indent as json::dump)
// in ASCII only (non-ASCII characters as \uXXXX escapes).
std::string dump_json(const nlohmann::ordered_json& j, int indent);
// The same walk, for callers that render the tree themselves (YAML).
nlohmann::ordered_json utf8_clean(const nlohmann::ordered_json& j);

}  // namespace vk
