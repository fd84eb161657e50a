#include "analyzers/truth.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "formats/common/source.h"

namespace vk::analyze {

namespace {

constexpr uint64_t kRecordLimit = 1 << 20;   // a record is ~1 KiB

// glibc function (vdsoprobe's name) -> the vDSO export it reaches.
const std::map<std::string, std::string> kExport = {
    {"clock_gettime", "__vdso_clock_gettime"}, {"gettimeofday", "__vdso_gettimeofday"}, {"time", "__vdso_time"},
    {"getcpu", "__vdso_getcpu"},               {"clock_getres", "__vdso_clock_getres"}, {"getrandom", "__vdso_getrandom"}};

std::string str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// What the outcome says vdsoprobe's function returns after the restore.
std::string predicted(const Outcome& o, const std::string& fn) {
  const auto& sym = kExport.at(fn);
  for (const auto& f : o.symbols) {
    if (f.name != sym) continue;
    if (f.fate == "same" || f.fate == "redirected" || f.fate == "stub") return "ok";   // stub: rewrite exports
    // old code check calls harmless: getcpu (no vvar), getrandom (falls back to the system call)
    if (f.fate == "old-code" && f.effect.find("keeps working") != std::string::npos) return "ok";
    return "wrong";
  }
  return fn == "getrandom" ? "absent" : "ok";   // not exported: glibc uses the system call
}

}  // namespace

Expected<std::vector<TruthRecord>> load_truth(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  if (ec) return bad_input(dir, "cannot list the truth corpus: " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<TruthRecord> out;
  for (const auto& f : files) {
    VK_TRY(bytes, read_file(f, kRecordLimit));
    auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad_input(f, "not a JSON object");
    if (str(j, "schema") != "vdsokit.truth/1") return bad_input(f, "schema is not vdsokit.truth/1");
    TruthRecord r;
    r.file = f;
    r.dumped_id = str(j["dumped_on"], "catalog_id");
    r.restored_id = str(j["restored_on"], "catalog_id");
    r.restorer = str(j, "restorer");
    r.status = str(j, "status");
    r.decision = str(j, "decision");
    if (r.dumped_id.empty() || r.restored_id.empty() || r.restorer.empty() || r.status.empty())
      return bad_input(f, "a record needs dumped_on.catalog_id, restored_on.catalog_id, restorer and status");
    if (j.contains("trampolined") && j["trampolined"].is_array())
      for (const auto& n : j["trampolined"])
        if (n.is_string()) r.trampolined.push_back(n.get<std::string>());
    if (j.contains("functions") && j["functions"].is_object())
      for (const auto& [k, v] : j["functions"].items())
        if (v.is_string() && kExport.count(k)) r.functions[k] = v.get<std::string>();
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> truth_disagreements(const TruthRecord& r, const Outcome& o) {
  std::vector<std::string> d;
  if (o.verdict == Verdict::Blocked) {
    if (r.status == "restored") d.push_back("predicted blocked, but CRIU restored it");
    return d;
  }
  if (r.status != "restored") {
    d.push_back("predicted " + std::string(verdict_name(o.verdict)) + ", but the restore failed");
    return d;
  }
  std::string want = o.verdict == Verdict::Inplace ? "inplace" : "proxy";   // retargetable: CRIU proxies
  if (r.decision != want) d.push_back("CRIU decided " + r.decision + ", predicted " + want);
  std::set<std::string> tramp(r.trampolined.begin(), r.trampolined.end()), pred;
  if (o.verdict != Verdict::Inplace)
    for (const auto& f : o.symbols)
      if (f.fate == "redirected" || f.fate == "missing") pred.insert(f.name);
  if (tramp != pred) d.push_back("trampolined exports differ from the predicted ones");
  for (const auto& [fn, got] : r.functions)
    if (got != predicted(o, fn)) d.push_back(fn + " returned " + got + ", predicted " + predicted(o, fn));
  return d;
}

}  // namespace vk::analyze
