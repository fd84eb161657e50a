#include "analyzers/matrix.h"
#include "formats/common/text.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace vk::analyze {

using nlohmann::ordered_json;

namespace {

MatrixCell summarise(const Outcome& o) {
  MatrixCell c;
  c.verdict = o.verdict;
  c.worst = o.worst();
  std::set<std::string> codes;
  for (const auto& f : o.findings) codes.insert(f.code);
  c.codes.assign(codes.begin(), codes.end());
  for (const auto& f : o.findings)
    if (f.severity != Severity::Info) {
      c.reason = f.code + ": " + f.message;
      c.remedy = f.remedy;
      break;
    }
  if (c.reason.empty() && !o.findings.empty()) c.reason = o.findings.front().code + ": " + o.findings.front().message;
  return c;
}

const char* colour(const MatrixCell& c) {
  switch (c.verdict) {
    case Verdict::Inplace: return c.worst == Severity::Info ? "#2e7d32" : "#9e9d24";
    case Verdict::Proxy:
      return c.worst == Severity::Info ? "#1565c0" : c.worst == Severity::Warning ? "#ef6c00" : "#ad1457";
    case Verdict::Retargetable: return "#6a1b9a";
    default: return "#b71c1c";
  }
}

std::string esc(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

const char* kLegend[][3] = {
    {"I", "#2e7d32", "in place, clean"},
    {"I!", "#9e9d24", "in place, but an uncompared export moved (VK005)"},
    {"P", "#1565c0", "proxy, every vvar reader redirected"},
    {"P*", "#ef6c00", "proxy, some exports stay on old code (VK003)"},
    {"P!", "#ad1457", "proxy, a call can crash (VK004/VK019)"},
    {"R", "#6a1b9a", "retargetable: a vvar rewrite gives in place (VK006)"},
    {"B", "#b71c1c", "blocked"},
    {"✓", "#ffffff", "a real restore of this pair (corpora/truth) did what the cell predicts"},
    {"✗", "#ffffff", "a real restore of this pair contradicts the cell"},
};

std::string truth_mark(const MatrixCell& c) {
  if (c.truth.empty()) return "";
  return c.truth == "agrees" ? "✓" : "✗";
}

}  // namespace

std::string cell_symbol(const MatrixCell& c) {
  std::string s;
  switch (c.verdict) {
    case Verdict::Inplace: s = c.worst == Severity::Info ? "I" : "I!"; break;
    case Verdict::Proxy: s = c.worst == Severity::Info ? "P" : c.worst == Severity::Warning ? "P*" : "P!"; break;
    case Verdict::Retargetable: s = "R"; break;
    default: s = "B";
  }
  return s + truth_mark(c);
}

Expected<std::vector<Matrix>> build_matrices(const catalog::Catalog& cat, const std::vector<std::string>& abis,
                                             const std::vector<std::string>& restorer_list,
                                             const std::vector<TruthRecord>& truth) {
  std::vector<Matrix> out;
  for (const auto& abi : abis) {
    std::vector<const catalog::Entry*> entries;
    for (const auto& e : cat.entries())
      if (vdso::abi_name(e.abi) == abi) entries.push_back(&e);
    if (entries.empty()) continue;
    std::vector<Subject> subjects;
    for (const auto* e : entries) {
      VK_TRY(s, subject_from_entry(cat, *e));
      subjects.push_back(std::move(s));
    }
    for (const auto& rname : restorer_list) {
      const Restorer* r = find_restorer(rname);
      if (!r) return usage_error("unknown restorer '" + rname + "'");
      Matrix m;
      m.restorer = rname;
      m.abi = abi;
      for (const auto* e : entries) m.ids.push_back(e->id);
      for (size_t i = 0; i < entries.size(); ++i) {
        std::vector<MatrixCell> row;
        for (size_t j = 0; j < entries.size(); ++j) {
          auto o = evaluate(subjects[i], *entries[j], *r);
          fill_remedies(o.findings, "", entries[j]->id);
          auto cell = summarise(o);
          for (const auto& t : truth) {
            if (t.dumped_id != entries[i]->id || t.restored_id != entries[j]->id || t.restorer != rname) continue;
            auto d = truth_disagreements(t, o);
            if (d.empty() && cell.truth.empty()) cell.truth = "agrees";
            if (!d.empty()) cell.truth = "disagrees: " + d.front();
          }
          row.push_back(std::move(cell));
        }
        m.cells.push_back(std::move(row));
      }
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::string render_matrix_md(const std::vector<Matrix>& ms) {
  std::ostringstream o;
  o << "# vdsokit matrix\n\nRows: the kernel a checkpoint was dumped on. Columns: the kernel it is restored on.\n\n";
  for (const auto& l : kLegend) o << "- `" << l[0] << "` " << l[2] << "\n";
  for (const auto& m : ms) {
    o << "\n## " << m.abi << ", " << m.restorer << "\n\n| # | dumped on \\ restored on |";
    for (size_t j = 0; j < m.ids.size(); ++j) o << " " << j + 1 << " |";
    o << "\n|---|---|";
    for (size_t j = 0; j < m.ids.size(); ++j) o << "---|";
    o << "\n";
    for (size_t i = 0; i < m.ids.size(); ++i) {
      o << "| " << i + 1 << " | " << m.ids[i] << " |";
      for (const auto& c : m.cells[i]) o << " " << cell_symbol(c) << " |";
      o << "\n";
    }
  }
  return o.str();
}

std::string render_matrix_json(const std::vector<Matrix>& ms) {
  ordered_json all = ordered_json::array();
  for (const auto& m : ms) {
    ordered_json cells = ordered_json::array();
    for (size_t i = 0; i < m.ids.size(); ++i)
      for (size_t j = 0; j < m.ids.size(); ++j) {
        const auto& c = m.cells[i][j];
        ordered_json cell{{"from", m.ids[i]}, {"to", m.ids[j]}, {"verdict", verdict_name(c.verdict)},
                          {"severity", severity_name(c.worst)}, {"symbol", cell_symbol(c)},
                          {"codes", c.codes}, {"reason", c.reason},
                          {"remedy", c.remedy.empty() ? ordered_json(nullptr) : ordered_json(c.remedy)}};
        if (!c.truth.empty()) cell["truth"] = c.truth;
        cells.push_back(std::move(cell));
      }
    all.push_back(ordered_json{{"abi", m.abi}, {"restorer", m.restorer}, {"ids", m.ids}, {"cells", cells}});
  }
  return dump_json(ordered_json{{"schema", "vdsokit.matrix/1"}, {"matrices", all}}, 1) + "\n";
}

std::string render_matrix_svg(const std::vector<Matrix>& ms) {
  const int cell = 18, label = 260, gap = 40;
  int width = label, height = 40;
  for (const auto& m : ms) {
    width = std::max(width, label + int(m.ids.size()) * cell + 20);
    height += int(m.ids.size()) * cell + gap + 30;
  }
  height += 24 * int(std::size(kLegend));
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"monospace\" font-size=\"11\">\n";
  int y = 20;
  for (const auto& m : ms) {
    o << "<text x=\"4\" y=\"" << y << "\" font-size=\"14\" font-weight=\"bold\">" << esc(m.abi + ", " + m.restorer) << "</text>\n";
    y += 14;
    for (size_t i = 0; i < m.ids.size(); ++i) {
      int ry = y + int(i) * cell;
      o << "<text x=\"4\" y=\"" << ry + 13 << "\">" << esc(m.ids[i]) << "</text>\n";
      for (size_t j = 0; j < m.ids.size(); ++j) {
        const auto& c = m.cells[i][j];
        o << "<rect x=\"" << label + int(j) * cell << "\" y=\"" << ry << "\" width=\"" << cell - 1 << "\" height=\"" << cell - 1
          << "\" fill=\"" << colour(c) << "\"><title>" << esc(m.ids[i] + " -> " + m.ids[j] + ": " + verdict_name(c.verdict) + (c.truth.empty() ? "" : " (real restore: " + c.truth + ")") +
                                                             (c.reason.empty() ? "" : "\n" + c.reason) + (c.remedy.empty() ? "" : "\nfix: " + c.remedy))
          << "</title></rect>\n";
      }
    }
    y += int(m.ids.size()) * cell + gap;
  }
  for (const auto& l : kLegend) {
    o << "<rect x=\"4\" y=\"" << y << "\" width=\"14\" height=\"14\" fill=\"" << l[1] << "\"/><text x=\"24\" y=\"" << y + 11 << "\">"
      << l[0] << "  " << esc(l[2]) << "</text>\n";
    y += 20;
  }
  o << "</svg>\n";
  return o.str();
}

std::string render_matrix_html(const std::vector<Matrix>& ms) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vdsokit matrix</title><style>"
       "body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:2em}"
       "td,th{border:1px solid #ccc;padding:2px 4px;font-size:11px;text-align:center}"
       "td.c{color:#fff;font-weight:bold;cursor:help}th.row{text-align:left;white-space:nowrap}"
       "</style></head><body>\n<h1>vdsokit matrix</h1>\n<p>Rows: the kernel a checkpoint was dumped on. "
       "Columns: the kernel it is restored on. Hover a cell for the reason.</p>\n<ul>\n";
  for (const auto& l : kLegend)
    o << "<li><span style=\"background:" << l[1] << ";color:#fff;padding:0 4px\">" << l[0] << "</span> " << esc(l[2]) << "</li>\n";
  o << "</ul>\n";
  for (const auto& m : ms) {
    o << "<h2>" << esc(m.abi + ", " + m.restorer) << "</h2>\n<table><tr><th>dumped on \\ restored on</th>";
    for (size_t j = 0; j < m.ids.size(); ++j) o << "<th title=\"" << esc(m.ids[j]) << "\">" << j + 1 << "</th>";
    o << "</tr>\n";
    for (size_t i = 0; i < m.ids.size(); ++i) {
      o << "<tr><th class=\"row\">" << i + 1 << " " << esc(m.ids[i]) << "</th>";
      for (size_t j = 0; j < m.ids.size(); ++j) {
        const auto& c = m.cells[i][j];
        o << "<td class=\"c\" style=\"background:" << colour(c) << "\" title=\""
          << esc(m.ids[i] + " -> " + m.ids[j] + ": " + verdict_name(c.verdict) + (c.truth.empty() ? "" : " (real restore: " + c.truth + ")") + (c.reason.empty() ? "" : "\n" + c.reason) + (c.remedy.empty() ? "" : "\nfix: " + c.remedy)) << "\">"
          << cell_symbol(c) << "</td>";
      }
      o << "</tr>\n";
    }
    o << "</table>\n";
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace vk::analyze
