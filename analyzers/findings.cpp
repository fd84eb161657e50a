#include "analyzers/findings.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace vk::analyze {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// The cells of a markdown table row "| a | b | c |" (cells hold no escaped pipes in findings.md).
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return out;
}

// Markdown to terminal text: backticks and bold markers dropped.
std::string plain(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '`'), s.end());
  for (size_t p; (p = s.find("**")) != std::string::npos;) s.erase(p, 2);
  return s;
}

std::string normalise(const std::string& code) {
  std::string c;
  for (char ch : code) c += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (c.rfind("VK", 0) != 0) c = "VK" + c;
  std::string digits = c.substr(2);
  if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return c;
  return "VK" + std::string(3 - digits.size(), '0') + digits;
}

}  // namespace

std::vector<FindingDoc> finding_docs() {
  std::vector<FindingDoc> docs;
  std::map<std::string, std::string> remedies;
  std::istringstream in{std::string(findings_doc())};
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) section = trim(line.substr(3));
    if (line.rfind("| VK", 0) != 0) continue;
    auto c = cells(line);
    if (section == "Codes" && c.size() >= 4) docs.push_back({c[0], c[1], c[2], c[3], ""});
    else if (section == "Remedies" && c.size() >= 2) remedies[c[0]] = c[1];
  }
  for (auto& d : docs)
    if (auto it = remedies.find(d.code); it != remedies.end()) d.remedy = it->second;
  return docs;
}

std::optional<FindingDoc> finding_doc(const std::string& code) {
  std::string want = normalise(code);
  for (auto& d : finding_docs())
    if (d.code == want) return d;
  return std::nullopt;
}

std::string render_finding_doc(const FindingDoc& d) {
  std::string s = d.code + " (" + d.severity + ")\n  " + plain(d.meaning) + "\n";
  if (!d.remedy.empty()) s += "  fix: " + plain(d.remedy) + "\n";
  return s;   // the facts column cites the project's research notes: not for a terminal
}

}  // namespace vk::analyze
