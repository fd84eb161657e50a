#include "analyzers/check.h"
#include "formats/common/text.h"

#include <algorithm>
#include <sstream>

#include "analyzers/identify.h"

namespace vk::analyze {

using nlohmann::ordered_json;

int SetCheck::exit_code() const {
  int code = kExitOk;
  for (const auto& p : processes) code = std::max(code, p.outcome.exit_code());
  return code;
}

Expected<catalog::Entry> resolve_target(const catalog::Catalog& cat, const std::string& target, vdso::Abi abi) {
  if (target == "host") return catalog::host_entry(abi);
  if (const auto* e = cat.find(target)) {
    if (e->abi != abi)
      return usage_error("target " + target + " is an " + vdso::abi_name(e->abi) + " build, the process needs " + vdso::abi_name(abi));
    return *e;
  }
  if (const auto* e = cat.find(target + "/" + vdso::abi_name(abi))) return *e;
  return usage_error("unknown target '" + target + "' for ABI " + vdso::abi_name(abi) +
                     " (use `vdsokit catalog list`, a catalog id, a release, or host)");
}

namespace {

// The source kernel of a dumped vDSO, as the identifier sees it.
ordered_json identify_source(const Identifier& ident, const Process& p) {
  if (!p.vdso) return nullptr;
  auto id = ident.identify(*p.vdso, 3);
  ordered_json j{{"kind", match_kind_name(id.kind)}};
  j["id"] = id.candidates.empty() ? ordered_json(nullptr) : ordered_json(id.candidates.front().entry->id);
  j["score"] = id.candidates.empty() ? 0.0 : id.candidates.front().score;
  j["explanation"] = id.explanation;
  return j;
}

}  // namespace

Checker::Checker(const catalog::Catalog& cat, std::string target, const Restorer& r)
    : cat_(cat), target_(std::move(target)), r_(r), ident_(std::make_unique<Identifier>(cat)) {}

Checker::~Checker() = default;

const Expected<catalog::Entry>& Checker::target_for(vdso::Abi abi) const {
  std::lock_guard lock(mu_);
  auto it = targets_.find(abi);
  if (it == targets_.end()) it = targets_.emplace(abi, resolve_target(cat_, target_, abi)).first;
  return it->second;
}

Expected<SetCheck> Checker::check(const criu::ImageSet& set, const std::string& label) const {
  SetCheck c;
  c.input = label;
  c.target = target_;
  c.restorer = r_.name;
  VK_TRY(report, inspect(set, label));
  for (const Process& p : report.processes) {
    ProcessCheck pc;
    pc.pid = p.pid;
    pc.comm = p.comm;
    vdso::Abi abi = p.vdso && p.vdso->elf ? p.vdso->abi : p.compat ? vdso::Abi::I386 : vdso::Abi::X86_64;
    pc.abi = vdso::abi_name(abi);
    const auto& t = target_for(abi);   // std::map nodes stay put: the reference outlives the lock
    if (!t) return t.error();
    pc.source = identify_source(*ident_, p);
    pc.outcome = evaluate(subject_from_process(p, report.pagemap_schema), *t, r_);
    c.processes.push_back(std::move(pc));
  }
  return c;
}

Expected<SetCheck> check(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                         const std::string& target, const Restorer& r) {
  return Checker(cat, target, r).check(set, label);
}

ordered_json outcome_json(const Outcome& o) {
  ordered_json j;
  j["target"] = o.target;
  j["restorer"] = o.restorer;
  j["verdict"] = verdict_name(o.verdict);
  j["exit_code"] = o.exit_code();
  j["clocks_ok"] = o.clocks_ok;
  j["clock_getres_ok"] = o.clock_getres_ok;
  if (o.retarget)
    j["retarget"] = ordered_json{{"vvar_start", hex(o.retarget->vvar_start)}, {"vvar_size", o.retarget->vvar_size}};
  ordered_json f = ordered_json::array();
  for (const auto& x : o.findings) f.push_back(ordered_json{{"code", x.code}, {"severity", severity_name(x.severity)}, {"message", x.message}});
  j["findings"] = f;
  ordered_json s = ordered_json::array();
  for (const auto& x : o.symbols) {
    ordered_json e{{"name", x.name}, {"aliases", x.aliases}, {"old_offset", hex(x.old_offset)}};
    e["new_offset"] = x.new_offset ? ordered_json(hex(*x.new_offset)) : ordered_json(nullptr);
    e["fate"] = x.fate;
    e["effect"] = x.effect;
    s.push_back(e);
  }
  j["symbols"] = s;
  return j;
}

namespace {

ordered_json checks_json(const std::vector<SetCheck>& checks) {
  ordered_json all = ordered_json::array();
  int code = kExitOk;
  for (const auto& c : checks) {
    ordered_json cj{{"input", c.input}, {"target", c.target}, {"restorer", c.restorer}, {"exit_code", c.exit_code()}};
    ordered_json procs = ordered_json::array();
    for (const auto& p : c.processes)
      procs.push_back(ordered_json{{"pid", p.pid}, {"comm", p.comm}, {"abi", p.abi}, {"source", p.source}, {"outcome", outcome_json(p.outcome)}});
    cj["processes"] = procs;
    all.push_back(cj);
    code = std::max(code, c.exit_code());
  }
  return ordered_json{{"schema", "vdsokit.check/1"}, {"exit_code", code}, {"image_sets", all}};
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters; image-derived strings could hold them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += '?';
        else out += c;
    }
  }
  return out;
}

std::string source_line(const ordered_json& s) {
  if (s.is_null()) return "unknown";
  std::string line = s.value("kind", "unknown");
  if (s.contains("id") && s["id"].is_string()) line += " " + s["id"].get<std::string>();
  return line;
}

}  // namespace

std::string render_check_json(const std::vector<SetCheck>& checks) { return dump_json(checks_json(checks), 2) + "\n"; }

std::string render_check_yaml(const std::vector<SetCheck>& checks) { return json_to_yaml(checks_json(checks)); }

std::string render_check_text(const std::vector<SetCheck>& checks) {
  std::ostringstream o;
  for (const auto& c : checks) {
    o << c.input << "  (target " << c.target << ", restorer " << c.restorer << ")\n";
    for (const auto& p : c.processes) {
      const auto& out = p.outcome;
      o << "  process " << p.pid << " (" << p.comm << "), " << p.abi << ": " << verdict_name(out.verdict) << " on " << out.target << "\n";
      o << "    source kernel: " << source_line(p.source) << "\n";
      for (const auto& f : out.findings) o << "    " << f.code << " " << severity_name(f.severity) << ": " << f.message << "\n";
      for (const auto& s : out.symbols)
        o << "      " << hex(s.old_offset) << " " << s.name << ": " << s.fate
          << (s.new_offset ? " -> " + hex(*s.new_offset) : std::string()) << "\n";
      o << "    after restore: clocks " << (out.clocks_ok ? "ok" : "WRONG") << ", clock_getres "
        << (out.clock_getres_ok ? "ok" : "WRONG") << "\n";
    }
  }
  return o.str();
}

std::string render_check_junit(const std::vector<SetCheck>& checks) {
  std::ostringstream o;
  size_t tests = 0, failures = 0;
  for (const auto& c : checks)
    for (const auto& p : c.processes) {
      ++tests;
      failures += p.outcome.exit_code() != kExitOk;
    }
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"vdsokit check\" tests=\"" << tests << "\" failures=\"" << failures << "\">\n";
  for (const auto& c : checks) {
    size_t f = 0;
    for (const auto& p : c.processes) f += p.outcome.exit_code() != kExitOk;
    o << "  <testsuite name=\"" << xml_escape(c.input) << "\" tests=\"" << c.processes.size() << "\" failures=\"" << f << "\">\n";
    for (const auto& p : c.processes) {
      const auto& out = p.outcome;
      o << "    <testcase classname=\"" << xml_escape(c.input) << "\" name=\""
        << xml_escape("pid " + std::to_string(p.pid) + " (" + p.comm + ") on " + out.target + " with " + out.restorer) << "\">\n";
      std::string body;
      for (const auto& x : out.findings) body += x.code + " " + severity_name(x.severity) + ": " + x.message + "\n";
      if (out.exit_code() != kExitOk) {
        std::string type = out.verdict == Verdict::Blocked ? "blocked" : "findings";
        o << "      <failure type=\"" << type << "\" message=\"" << verdict_name(out.verdict) << "\">" << xml_escape(body) << "</failure>\n";
      }
      o << "      <system-out>" << xml_escape("verdict: " + std::string(verdict_name(out.verdict)) + "\n" + body) << "</system-out>\n";
      o << "    </testcase>\n";
    }
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

}  // namespace vk::analyze
