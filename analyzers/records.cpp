#include "analyzers/records.h"

#include "formats/common/text.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "formats/common/source.h"

namespace vk::analyze {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr const char* kRecordSchema = "vdsokit.unit/1";
constexpr const char* kReportSchema = "vdsokit.report/1";
// A shard output is a few KiB per unit; 1 GiB is far beyond any real store and bounds the read.
constexpr uint64_t kMaxRecordFile = 1ull << 30;

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Millisecond resolution keeps lines short and avoids float noise (0.30000000000000004).
double round_ms(double s) { return std::round(s * 1000.0) / 1000.0; }

// Image-derived strings (process names) may hold any bytes; JSON output stays valid UTF-8.
std::string dump(const ordered_json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

const std::vector<std::string>& verdict_order() {
  static const std::vector<std::string> order{"inplace", "retargetable", "proxy", "blocked"};
  return order;
}

std::string escape(const std::string& s, bool xml) { return markup_escape(s, xml ? "&apos;" : "&#39;"); }

std::string seconds_text(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f s", s);
  return b;
}

}  // namespace

ordered_json to_json(const UnitRecord& r) {
  ordered_json j{{"schema", kRecordSchema}, {"command", r.command}, {"operation", r.operation}, {"unit", r.unit},
                 {"key", r.key}, {"seq", r.seq}, {"total", r.total}, {"shard", r.shard}, {"status", r.status},
                 {"exit_code", r.exit_code}, {"started", round_ms(r.started)}, {"seconds", round_ms(r.seconds)},
                 {"resumed", r.resumed}};
  ordered_json f = ordered_json::array();
  for (const auto& x : r.findings)
    f.push_back(ordered_json{{"where", x.where}, {"code", x.code}, {"severity", x.severity}, {"message", x.message}});
  j["findings"] = f;
  j["detail"] = r.detail;
  return j;
}

std::string to_jsonl(const UnitRecord& r) { return dump(to_json(r)) + "\n"; }

Expected<UnitRecord> record_from_json(const json& j, const std::string& file, uint64_t offset) {
  auto bad = [&](const std::string& what) { return bad_input_at(file, offset, "not a vdsokit unit record: " + what); };
  if (!j.is_object()) return bad("not a JSON object");
  if (j.value("schema", "") != kRecordSchema) return bad("schema is not " + std::string(kRecordSchema));
  UnitRecord r;
  try {
    r.command = j.at("command").get<std::string>();
    r.operation = j.at("operation").get<std::string>();
    r.unit = j.at("unit").get<std::string>();
    r.key = j.at("key").get<std::string>();
    r.seq = j.at("seq").get<size_t>();
    r.total = j.at("total").get<size_t>();
    r.shard = j.at("shard").get<std::string>();
    r.status = j.at("status").get<std::string>();
    r.exit_code = j.at("exit_code").get<int>();
    r.started = j.at("started").get<double>();
    r.seconds = j.at("seconds").get<double>();
    r.resumed = j.at("resumed").get<bool>();
    for (const auto& f : j.at("findings"))
      r.findings.push_back(UnitFinding{f.at("where").get<std::string>(), f.at("code").get<std::string>(),
                                       f.at("severity").get<std::string>(), f.at("message").get<std::string>()});
    r.detail = j.contains("detail") ? ordered_json(j["detail"]) : ordered_json(nullptr);
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  if (r.key.empty() || r.seq >= std::max<size_t>(r.total, 1) || r.exit_code < 0 || r.exit_code > 4)
    return bad("key, seq/total or exit_code out of range");
  return r;
}

void fill_error(UnitRecord& r, const Error& e) {
  r.status = "error";
  r.exit_code = e.exit_code;
  r.findings.push_back(UnitFinding{e.file, "", "error", e.str()});
}

void fill_identify(UnitRecord& r, const std::vector<Identification>& ids) {
  // Weakest first wins; a weak nearest match is an unknown build (analyzers/identify.h).
  static const std::vector<std::string> order = {"exact", "proxied-from", "nearest", "unknown"};
  size_t worst = 0;
  ordered_json results = ordered_json::array();
  for (const auto& id : ids) {
    std::string kind = id.weak ? "unknown" : match_kind_name(id.kind);
    worst = std::max(worst, size_t(std::find(order.begin(), order.end(), kind) - order.begin()));
    r.findings.push_back(UnitFinding{id.input, "", "info", summary_line(id)});
    results.push_back(to_json(id));
  }
  r.status = ids.empty() ? "no-process" : order[worst];
  r.detail = results;
}

void fill_check(UnitRecord& r, const std::vector<SetCheck>& checks) {
  size_t worst = 0;
  bool any = false;
  for (const auto& c : checks) {
    r.exit_code = std::max(r.exit_code, c.exit_code());
    for (const auto& p : c.processes) {
      std::string v = verdict_name(p.outcome.verdict);
      auto at = size_t(std::find(verdict_order().begin(), verdict_order().end(), v) - verdict_order().begin());
      worst = any ? std::max(worst, at) : at;
      any = true;
      std::string where = (checks.size() > 1 ? c.input + ": " : "") + "pid " + std::to_string(p.pid) + " (" + p.comm + ")";
      for (const auto& f : p.outcome.findings) r.findings.push_back(UnitFinding{where, f.code, severity_name(f.severity), f.message});
    }
  }
  r.status = any ? verdict_order()[worst] : "no-process";
  r.detail = json::parse(render_check_json(checks), nullptr, false).value("image_sets", json::array());
}

int run_units(const std::vector<criu::Unit>& units, size_t total, const criu::Shard& shard, const std::string& command,
              const std::string& operation, const std::function<void(const criu::Unit&, UnitRecord&)>& fn,
              const std::function<void(const UnitRecord&)>& sink) {
  int code = kExitOk;
  for (const auto& u : units) {
    UnitRecord r;
    r.command = command;
    r.operation = operation;
    r.unit = u.path;
    r.key = u.key;
    r.seq = u.seq;
    r.total = total;
    r.shard = shard.str();
    r.started = now();
    auto t0 = std::chrono::steady_clock::now();
    fn(u, r);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    code = std::max(code, r.exit_code);
    sink(r);
  }
  return code;
}

Expected<RecordFile> read_records(const std::string& path) {
  VK_TRY(bytes, read_file(path, kMaxRecordFile));
  RecordFile out;
  out.path = path;
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.warnings.push_back(path + ": offset " + std::to_string(pos) +
                             ": last line has no newline (a task killed while writing it): skipped");
      break;
    }
    std::string_view line = text.substr(pos, nl - pos);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) return bad_input_at(path, pos, "not a JSON line");
      VK_TRY(rec, record_from_json(j, path, pos));
      out.records.push_back(rec);
    }
    pos = nl + 1;
  }
  return out;
}

int Report::exit_code() const {
  int code = kExitOk;
  for (const auto& u : units) code = std::max(code, u.exit_code);
  if (!missing.empty()) code = std::max(code, int(kExitBadInput));
  return code;
}

Expected<Report> merge_records(const std::vector<RecordFile>& files) {
  Report rep;
  std::map<std::string, UnitRecord> latest;
  std::map<std::string, int> executed_rewrites;
  std::set<size_t> totals;
  std::set<std::string> shards;
  double first = 0, last = 0;
  bool have = false;
  for (const auto& f : files) {
    rep.warnings.insert(rep.warnings.end(), f.warnings.begin(), f.warnings.end());
    for (const auto& r : f.records) {
      if (!have) {
        rep.command = r.command;
        rep.operation = r.operation;
        first = r.started;
        last = r.started + r.seconds;
        have = true;
      }
      if (r.command != rep.command || r.operation != rep.operation)
        return usage_error(f.path + ": records of '" + r.command + " " + r.operation + "' cannot merge with '" +
                           rep.command + " " + rep.operation + "'");
      totals.insert(r.total);
      shards.insert(r.shard);
      first = std::min(first, r.started);
      last = std::max(last, r.started + r.seconds);
      rep.busy_seconds += r.seconds;
      if (r.status == "rewritten" && !r.resumed) ++executed_rewrites[r.key];
      auto it = latest.find(r.key);
      if (it == latest.end()) {
        latest.emplace(r.key, r);
        continue;
      }
      ++rep.superseded;
      if (r.started >= it->second.started) it->second = r;
    }
  }
  rep.wall_seconds = have ? last - first : 0;
  rep.shards.assign(shards.begin(), shards.end());
  for (auto& [k, n] : executed_rewrites)
    if (n > 1) rep.rewritten_twice.push_back(k);
  if (totals.size() > 1)
    rep.warnings.push_back("the shards saw different numbers of units (the store changed during the run): missing units are not computed");
  rep.total = totals.size() == 1 ? *totals.begin() : 0;
  for (auto& [k, r] : latest) rep.units.push_back(std::move(r));
  std::sort(rep.units.begin(), rep.units.end(), [](const UnitRecord& a, const UnitRecord& b) {
    return a.seq != b.seq ? a.seq < b.seq : a.key < b.key;
  });
  if (rep.total) {
    std::vector<bool> seen(rep.total, false);
    for (const auto& u : rep.units)
      if (u.seq < rep.total) seen[u.seq] = true;
    for (size_t i = 0; i < rep.total; ++i)
      if (!seen[i]) rep.missing.push_back(i);
  }
  return rep;
}

namespace {

std::map<std::string, size_t> counts(const Report& r) {
  std::map<std::string, size_t> c;
  for (const auto& u : r.units) ++c[u.status];
  return c;
}

std::string title(const Report& r) { return r.command + (r.operation.empty() ? "" : " " + r.operation); }

ordered_json report_json(const Report& r) {
  ordered_json j{{"schema", kReportSchema}, {"command", r.command}, {"operation", r.operation}};
  ordered_json s{{"units", r.units.size()}, {"total", r.total}};
  ordered_json by = ordered_json::object();
  for (auto& [k, n] : counts(r)) by[k] = n;
  s["by_status"] = by;
  s["missing"] = r.missing;
  s["rewritten_twice"] = r.rewritten_twice;
  s["exit_code"] = r.exit_code();
  j["summary"] = s;
  j["run"] = ordered_json{{"shards", r.shards}, {"superseded", r.superseded}, {"wall_seconds", round_ms(r.wall_seconds)},
                          {"busy_seconds", round_ms(r.busy_seconds)}, {"warnings", r.warnings}};
  ordered_json units = ordered_json::array();
  for (const auto& u : r.units) units.push_back(to_json(u));
  j["units"] = units;
  return j;
}

}  // namespace

std::string render_report_json(const Report& r) { return dump(report_json(r), 2) + "\n"; }

std::string render_report_text(const Report& r) {
  std::ostringstream o;
  for (const auto& u : r.units) {
    o << u.key << ": " << u.status << (u.exit_code ? " (exit " + std::to_string(u.exit_code) + ")" : "") << "\n";
    for (const auto& f : u.findings)
      o << "  " << (f.where.empty() ? "" : f.where + ": ") << (f.code.empty() ? "" : f.code + " ") << f.severity << ": "
        << f.message << "\n";
  }
  o << title(r) << ": " << r.units.size() << " unit" << (r.units.size() == 1 ? "" : "s");
  for (auto& [k, n] : counts(r)) o << ", " << n << " " << k;
  o << "; exit " << r.exit_code() << "\n";
  if (!r.missing.empty()) {
    o << "missing: " << r.missing.size() << " of " << r.total << " units were reported by no shard (seq";
    for (size_t i = 0; i < r.missing.size() && i < 20; ++i) o << " " << r.missing[i];
    o << (r.missing.size() > 20 ? " ...)" : ")") << "\n";
  }
  for (const auto& k : r.rewritten_twice) o << "rewritten twice: " << k << "\n";
  for (const auto& w : r.warnings) o << "warning: " << w << "\n";
  return o.str();
}

std::string render_report_junit(const Report& r) {
  size_t failures = 0, errors = 0;
  for (const auto& u : r.units) {
    errors += u.exit_code == kExitBadInput || u.exit_code == kExitUsage;
    failures += u.exit_code == 1 || u.exit_code == 4;
  }
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"vdsokit " << escape(title(r), true) << "\" tests=\"" << r.units.size() + r.missing.size()
    << "\" failures=\"" << failures << "\" errors=\"" << errors + r.missing.size() << "\" time=\""
    << round_ms(r.wall_seconds) << "\">\n";
  o << "  <testsuite name=\"" << escape(title(r), true) << "\" tests=\"" << r.units.size() + r.missing.size()
    << "\" failures=\"" << failures << "\" errors=\"" << errors + r.missing.size() << "\" time=\""
    << round_ms(r.busy_seconds) << "\">\n";
  for (const auto& u : r.units) {
    o << "    <testcase classname=\"vdsokit_" << escape(r.command, true) << "\" name=\"" << escape(u.key, true)
      << "\" time=\"" << round_ms(u.seconds) << "\">\n";
    std::string body;
    for (const auto& f : u.findings)
      body += (f.where.empty() ? "" : f.where + ": ") + (f.code.empty() ? "" : f.code + " ") + f.severity + ": " + f.message + "\n";
    std::string tag = u.exit_code == kExitBadInput || u.exit_code == kExitUsage ? "error"
                      : u.exit_code != kExitOk                                  ? "failure"
                                                                                : "";
    if (!tag.empty())
      o << "      <" << tag << " type=\"" << escape(u.status, true) << "\" message=\"" << escape(u.status, true) << "\">"
        << escape(body, true) << "</" << tag << ">\n";
    o << "      <system-out>" << escape("status: " + u.status + "\n" + body, true) << "</system-out>\n";
    o << "    </testcase>\n";
  }
  for (size_t seq : r.missing)
    o << "    <testcase classname=\"vdsokit_" << escape(r.command, true) << "\" name=\"unit " << seq
      << "\"><error type=\"missing\" message=\"no shard reported this unit\"/></testcase>\n";
  o << "  </testsuite>\n</testsuites>\n";
  return o.str();
}

std::string render_report_html(const Report& r) {
  static const std::map<std::string, std::string> colour{
      {"inplace", "#c8e6c9"}, {"rewritten", "#c8e6c9"}, {"unchanged", "#e0e0e0"}, {"ok", "#c8e6c9"},
      {"retargetable", "#fff9c4"}, {"would-rewrite", "#fff9c4"}, {"proxy", "#ffe0b2"}, {"refused", "#ffe0b2"},
      {"blocked", "#ffcdd2"}, {"error", "#ffcdd2"}};
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vdsokit " << escape(title(r), false)
    << "</title>\n<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
       "padding:2px 6px;vertical-align:top}</style></head><body>\n";
  o << "<h1>vdsokit " << escape(title(r), false) << "</h1>\n<p>" << r.units.size() << " units";
  for (auto& [k, n] : counts(r)) o << ", " << n << " " << escape(k, false);
  o << "; exit " << r.exit_code() << "; " << r.shards.size() << " shard(s), wall " << seconds_text(r.wall_seconds)
    << ", busy " << seconds_text(r.busy_seconds) << "</p>\n";
  if (!r.missing.empty()) o << "<p><b>" << r.missing.size() << " of " << r.total << " units reported by no shard</b></p>\n";
  for (const auto& k : r.rewritten_twice) o << "<p><b>rewritten twice: " << escape(k, false) << "</b></p>\n";
  for (const auto& w : r.warnings) o << "<p>warning: " << escape(w, false) << "</p>\n";
  o << "<table><tr><th>unit</th><th>status</th><th>exit</th><th>findings</th></tr>\n";
  for (const auto& u : r.units) {
    auto c = colour.find(u.status);
    o << "<tr><td>" << escape(u.key, false) << "</td><td style=\"background:" << (c == colour.end() ? "#fff" : c->second)
      << "\">" << escape(u.status, false) << "</td><td>" << u.exit_code << "</td><td>";
    for (const auto& f : u.findings)
      o << escape((f.where.empty() ? "" : f.where + ": ") + (f.code.empty() ? "" : f.code + " ") + f.severity + ": " + f.message, false)
        << "<br>";
    o << "</td></tr>\n";
  }
  o << "</table></body></html>\n";
  return o.str();
}

}  // namespace vk::analyze
