#include "formats/procmaps/maps.h"

#include <sstream>

namespace vk::procmaps {

Expected<std::vector<Line>> parse(const std::string& text, const std::string& label) {
  std::vector<Line> out;
  std::istringstream in(text);
  std::string line;
  size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return bad_input(label, "line " + std::to_string(no) + ": " + why + ": '" + line + "'");
    };
    Line m;
    std::istringstream ls(line);
    std::string range, pgoff, inode;
    if (!(ls >> range >> m.perms >> pgoff >> m.dev >> inode)) return bad("fewer than 5 fields");
    auto dash = range.find('-');
    if (dash == std::string::npos || m.perms.size() != 4) return bad("not an address range and permissions");
    try {
      size_t used = 0;
      m.start = std::stoull(range.substr(0, dash), &used, 16);
      if (used != dash) return bad("bad start address");
      m.end = std::stoull(range.substr(dash + 1), &used, 16);
      if (used != range.size() - dash - 1) return bad("bad end address");
      m.pgoff = std::stoull(pgoff, nullptr, 16);
      m.inode = std::stoull(inode, nullptr, 10);
    } catch (const std::exception&) {
      return bad("bad number");
    }
    if (m.end <= m.start) return bad("empty range");
    std::getline(ls, m.name);
    auto first = m.name.find_first_not_of(' ');
    m.name = first == std::string::npos ? "" : m.name.substr(first);
    out.push_back(std::move(m));
  }
  return out;
}

const Line* find(const std::vector<Line>& lines, const std::string& name) {
  for (const auto& l : lines)
    if (l.name == name) return &l;
  return nullptr;
}

}  // namespace vk::procmaps
