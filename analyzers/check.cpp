#include "analyzers/check.h"
#include "formats/common/text.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "analyzers/identify.h"

namespace vk::analyze {

using nlohmann::ordered_json;

int SetCheck::exit_code() const {
  if (error) return error->exit_code;
  int code = kExitOk;
  for (const auto& p : processes) code = std::max(code, p.outcome.exit_code());
  return code;
}

Expected<catalog::Entry> resolve_target(const catalog::Catalog& cat, const std::string& target, vdso::Abi abi) {
  if (target == "host") return catalog::host_entry(abi);
  if (const auto* e = cat.find(target); e && e->abi != abi)
    return usage_error("target " + target + " is an " + vdso::abi_name(e->abi) + " build, the process needs " + vdso::abi_name(abi));
  auto hits = cat.lookup(target, abi);
  if (hits.size() == 1) return *hits.front();
  if (hits.size() > 1) {
    std::string ids;
    for (const auto* e : hits) ids += (ids.empty() ? "" : ", ") + e->id;
    return usage_error("target '" + target + "' names " + std::to_string(hits.size()) + " " + vdso::abi_name(abi) + " builds (" + ids +
                       "): give the id");
  }
  std::string msg = "unknown target '" + target + "' for ABI " + vdso::abi_name(abi);
  // Suggestions of the ABI the process needs (the others would fail the same way).
  std::vector<std::string> near;
  for (const auto& id : cat.suggest(target, 64))
    if (near.size() < 3 && id.ends_with(std::string("/") + vdso::abi_name(abi))) near.push_back(id);
  msg += near.empty() ? " (see `vdsokit catalog list`: a catalog id, a release, or host)" : catalog::Catalog::did_you_mean(near);
  return usage_error(msg);
}

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The path a rewrite command takes for a set: the archive for "archive.tar:folder", else the label.
std::string rewrite_path(const std::string& label) {
  auto colon = label.rfind(':');
  if (colon != std::string::npos) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(label.substr(0, colon), ec)) return label.substr(0, colon);
  }
  return label;
}

// Seconds with millisecond resolution: a JSON number without float noise, JUnit's "0.012".
double millis(double s) { return double(int64_t(s * 1000.0 + 0.5)) / 1000.0; }

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

Expected<SetCheck> Checker::check(const criu::ImageSet& set, const std::string& label, const CheckOptions& opts) const {
  auto t0 = std::chrono::steady_clock::now();
  SetCheck c;
  c.input = label;
  c.target = target_;
  c.restorer = r_.name;
  c.timestamp = utc_now();
  VK_TRY(report, inspect(set, label));
  for (const Process& p : report.processes) {
    if (!opts.pids.empty() && std::find(opts.pids.begin(), opts.pids.end(), p.pid) == opts.pids.end()) continue;
    auto tp = std::chrono::steady_clock::now();
    ProcessCheck pc;
    pc.pid = p.pid;
    pc.comm = p.comm;
    vdso::Abi abi = p.vdso && p.vdso->elf ? p.vdso->abi : p.compat ? vdso::Abi::I386 : vdso::Abi::X86_64;
    pc.abi = vdso::abi_name(abi);
    const auto& t = target_for(abi);   // std::map nodes stay put: the reference outlives the lock
    if (!t) return t.error();
    pc.source = nullptr;
    pc.source_line = "unknown (no vDSO)";
    if (p.vdso) {
      auto id = ident_->identify(*p.vdso, 3);
      ordered_json j{{"kind", match_kind_name(id.kind)}, {"weak", id.weak}};
      j["id"] = id.candidates.empty() ? ordered_json(nullptr) : ordered_json(id.candidates.front().entry->id);
      j["score"] = id.candidates.empty() ? 0.0 : round_score(id.candidates.front().score);
      j["explanation"] = id.explanation;
      pc.source = j;
      pc.source_line = summary_line(id);
    }
    pc.outcome = evaluate(subject_from_process(p, report.pagemap_schema), *t, r_);
    fill_remedies(pc.outcome.findings, rewrite_path(label), target_);
    pc.seconds = millis(since(tp));
    c.processes.push_back(std::move(pc));
  }
  c.seconds = millis(since(t0));
  return c;
}

Expected<SetCheck> check(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                         const std::string& target, const Restorer& r, const CheckOptions& opts) {
  return Checker(cat, target, r).check(set, label, opts);
}

SetCheck check_error(const std::string& label, const std::string& target, const Restorer& r, Error e) {
  SetCheck c;
  c.input = label;
  c.target = target;
  c.restorer = r.name;
  c.timestamp = utc_now();
  c.error = std::move(e);
  return c;
}

CheckSummary summarize(const std::vector<SetCheck>& checks) {
  CheckSummary s;
  for (const auto& c : checks) {
    ++s.image_sets;
    s.exit_code = std::max(s.exit_code, c.exit_code());
    if (c.error) {
      ++s.errors;
      continue;
    }
    for (const auto& p : c.processes) {
      ++s.processes;
      switch (p.outcome.verdict) {
        case Verdict::Inplace: ++s.inplace; break;
        case Verdict::Proxy: ++s.proxy; break;
        case Verdict::Retargetable: ++s.retargetable; break;
        case Verdict::Blocked: ++s.blocked; break;
      }
    }
  }
  return s;
}

ordered_json finding_json(const Finding& x) {
  ordered_json f{{"code", x.code}, {"severity", severity_name(x.severity)}, {"message", x.message}};
  f["remedy"] = x.remedy.empty() ? ordered_json(nullptr) : ordered_json(x.remedy);
  return f;
}

ordered_json outcome_json(const Outcome& o) {
  ordered_json j;
  j["target"] = o.target;
  j["restorer"] = o.restorer;
  j["verdict"] = verdict_name(o.verdict);
  j["exit_code"] = o.exit_code();
  // A blocked restore never runs: there are no clocks to judge (null, not "wrong").
  bool runs = o.verdict != Verdict::Blocked;
  j["restore_runs"] = runs;
  j["clocks_ok"] = runs ? ordered_json(o.clocks_ok) : ordered_json(nullptr);
  j["clock_getres_ok"] = runs ? ordered_json(o.clock_getres_ok) : ordered_json(nullptr);
  if (o.retarget)
    j["retarget"] = ordered_json{{"vvar_start", o.retarget->placed ? ordered_json(nullptr) : ordered_json(hex(o.retarget->vvar_start))},
                                 {"vvar_size", o.retarget->vvar_size}};
  ordered_json f = ordered_json::array();
  for (const auto& x : o.findings) f.push_back(finding_json(x));
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

ordered_json container_json(const std::optional<criu::ContainerMeta>& m) {
  if (!m) return nullptr;
  return ordered_json{{"name", m->name}, {"image", m->image}, {"id", m->id}, {"engine", m->engine}, {"created", m->created}};
}

ordered_json error_json(const Error& e) {
  ordered_json j{{"file", e.file}};
  j["offset"] = e.offset ? ordered_json(*e.offset) : ordered_json(nullptr);
  j["message"] = e.message;
  j["exit_code"] = e.exit_code;
  return j;
}

ordered_json summary_json(const CheckSummary& s) {
  return ordered_json{{"image_sets", s.image_sets},
                      {"processes", s.processes},
                      {"verdicts", {{"inplace", s.inplace}, {"proxy", s.proxy}, {"retargetable", s.retargetable}, {"blocked", s.blocked}}},
                      {"errors", s.errors},
                      {"exit_code", s.exit_code}};
}

ordered_json checks_json(const std::vector<SetCheck>& checks) {
  ordered_json all = ordered_json::array();
  for (const auto& c : checks) {
    ordered_json cj{{"input", c.input}, {"target", c.target}, {"restorer", c.restorer}, {"exit_code", c.exit_code()}};
    cj["container"] = container_json(c.container);
    cj["error"] = c.error ? error_json(*c.error) : ordered_json(nullptr);
    ordered_json procs = ordered_json::array();
    for (const auto& p : c.processes)
      procs.push_back(ordered_json{{"pid", p.pid}, {"comm", p.comm}, {"abi", p.abi}, {"source", p.source}, {"outcome", outcome_json(p.outcome)}});
    cj["processes"] = procs;
    all.push_back(cj);
  }
  auto s = summarize(checks);
  return ordered_json{{"schema", "vdsokit.check/1"}, {"exit_code", s.exit_code}, {"summary", summary_json(s)}, {"image_sets", all}};
}

std::string plural(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string container_line(const criu::ContainerMeta& m) {
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  return "container " + or_dash(m.name) + ", image " + or_dash(m.image) + ", engine " + m.engine + ", created " + or_dash(m.created);
}

// JUnit readers (Jenkins, GitLab) split a classname at dots into package and class: a path such as
// "ckpt/app-1.2.tar.gz" would become a package tree. Dots become underscores.
std::string junit_classname(const std::string& input) {
  std::string s = "vdsokit-check/" + input;
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

std::string seconds_str(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

// The first finding that makes the case fail: its code, the function and what a call does.
std::string failure_message(const Outcome& out) {
  const Finding* worst = nullptr;
  for (const auto& f : out.findings)
    if (f.severity != Severity::Info && (!worst || f.severity > worst->severity)) worst = &f;
  std::string m = verdict_name(out.verdict);
  if (worst) m += ": " + worst->code + " " + worst->message;
  return m;
}

}  // namespace

std::string render_check_json(const std::vector<SetCheck>& checks) { return dump_json(checks_json(checks), 2) + "\n"; }

std::string render_check_yaml(const std::vector<SetCheck>& checks) { return json_to_yaml(checks_json(checks)); }

std::string render_check_text(const std::vector<SetCheck>& checks) {
  std::ostringstream o;
  for (const auto& c : checks) {
    o << c.input << "  (target " << c.target << ", restorer " << c.restorer << ")\n";
    if (c.container) o << "  " << container_line(*c.container) << "\n";
    if (c.error) {
      o << "  error: " << c.error->str() << "\n";
      continue;
    }
    if (c.processes.empty()) o << "  no process matches --pid\n";
    for (const auto& p : c.processes) {
      const auto& out = p.outcome;
      o << "  process " << p.pid << " (" << p.comm << "), " << p.abi << ": " << verdict_name(out.verdict) << " on " << out.target << "\n";
      o << "    source kernel: " << p.source_line << "\n";
      for (const auto& f : out.findings) {
        o << "    " << f.code << " " << severity_name(f.severity) << ": " << f.message << "\n";
        if (!f.remedy.empty()) o << "      fix: " << f.remedy << "\n";
      }
      for (const auto& s : out.symbols)
        o << "      " << hex(s.old_offset) << " " << s.name << ": " << s.fate
          << (s.new_offset ? " -> " + hex(*s.new_offset) : std::string()) << "\n";
      if (out.verdict == Verdict::Blocked)
        o << "    blocked: no restore runs until the errors above are fixed\n";
      else
        o << "    after restore: clocks " << (out.clocks_ok ? "ok" : "WRONG") << ", clock_getres "
          << (out.clock_getres_ok ? "ok" : "WRONG") << "\n";
    }
  }
  if (checks.size() > 1) {
    auto s = summarize(checks);
    o << "\ntotal: " << plural(s.image_sets, "image set", "image sets") << ", " << plural(s.processes, "process", "processes") << ": "
      << s.inplace << " inplace, " << s.proxy << " proxy, " << s.retargetable << " retargetable, " << s.blocked << " blocked; "
      << plural(s.errors, "error", "errors") << "; exit " << s.exit_code << "\n";
  }
  return o.str();
}

std::string render_check_junit(const std::vector<SetCheck>& checks) {
  std::ostringstream o;
  size_t tests = 0, failures = 0, errors = 0;
  double time = 0;
  for (const auto& c : checks) {
    time += c.seconds;
    if (c.error) {
      ++tests, ++errors;
      continue;
    }
    for (const auto& p : c.processes) {
      ++tests;
      failures += p.outcome.exit_code() != kExitOk;
    }
  }
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"vdsokit check\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\"" << errors
    << "\" skipped=\"0\" time=\"" << seconds_str(time) << "\">\n";
  for (const auto& c : checks) {
    size_t f = 0;
    for (const auto& p : c.processes) f += p.outcome.exit_code() != kExitOk;
    size_t n = c.error ? 1 : c.processes.size();
    o << "  <testsuite name=\"" << markup_escape(c.input) << "\" tests=\"" << n << "\" failures=\"" << f << "\" errors=\""
      << (c.error ? 1 : 0) << "\" skipped=\"0\" time=\"" << seconds_str(c.seconds) << "\" timestamp=\"" << c.timestamp << "\">\n";
    if (c.container) {
      o << "    <properties>\n";
      for (auto [k, v] : {std::pair<const char*, const std::string*>{"container", &c.container->name}, {"image", &c.container->image},
                          {"engine", &c.container->engine}, {"created", &c.container->created}})
        o << "      <property name=\"" << k << "\" value=\"" << markup_escape(*v) << "\"/>\n";
      o << "    </properties>\n";
    }
    std::string cls = markup_escape(junit_classname(c.input));
    if (c.error) {
      o << "    <testcase classname=\"" << cls << "\" name=\"" << markup_escape("read " + c.input) << "\" time=\"0.000\">\n";
      o << "      <error type=\"bad-input\" message=\"" << markup_escape(c.error->str()) << "\">" << markup_escape(c.error->str())
        << "</error>\n";
      o << "    </testcase>\n";
    }
    for (const auto& p : c.processes) {
      const auto& out = p.outcome;
      o << "    <testcase classname=\"" << cls << "\" name=\""
        << markup_escape("pid " + std::to_string(p.pid) + " (" + p.comm + ") on " + out.target + " with " + out.restorer) << "\" time=\""
        << seconds_str(p.seconds) << "\">\n";
      std::string body;
      for (const auto& x : out.findings) {
        body += x.code + " " + severity_name(x.severity) + ": " + x.message + "\n";
        if (!x.remedy.empty()) body += "  fix: " + x.remedy + "\n";
      }
      if (out.exit_code() != kExitOk) {
        std::string type = out.verdict == Verdict::Blocked ? "blocked" : "findings";
        o << "      <failure type=\"" << type << "\" message=\"" << markup_escape(failure_message(out)) << "\">" << markup_escape(body)
          << "</failure>\n";
      }
      o << "      <system-out>" << markup_escape("verdict: " + std::string(verdict_name(out.verdict)) + "\n" + body) << "</system-out>\n";
      o << "    </testcase>\n";
    }
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

}  // namespace vk::analyze
