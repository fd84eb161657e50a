// The documentation of the finding codes: docs/findings.md, compiled in (analyzers/embed_text.cmake),
// so `vdsokit explain VKnnn` and the docs are one text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vk::analyze {

std::string_view findings_doc();   // docs/findings.md as built

struct FindingDoc {
  std::string code;       // VK003
  std::string severity;   // info | warning | error
  std::string meaning;
  std::string facts;      // where the facts come from
  std::string remedy;     // what to change (empty for info findings)
};

// Every code of the "Codes" table, with its remedy from the "Remedies" table.
std::vector<FindingDoc> finding_docs();
std::optional<FindingDoc> finding_doc(const std::string& code);   // case-insensitive ("vk3" too)
std::string render_finding_doc(const FindingDoc& d);                // plain text for a terminal

}  // namespace vk::analyze
