#include "formats/criu/shard.h"

#include <charconv>
#include <filesystem>
#include <optional>
#include <span>

#include "formats/common/sha256.h"
#include "formats/criu/inputs.h"

namespace vk::criu {

namespace fs = std::filesystem;

namespace {

std::optional<size_t> number(std::string_view s) {
  size_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A Kubernetes pod cannot run a million shards; the cap only keeps arithmetic and messages sane.
constexpr size_t kMaxShards = 1000000;

Expected<Shard> make(std::optional<size_t> k, std::optional<size_t> n, const std::string& what) {
  if (!k || !n) return usage_error(what + ": expected K/N with whole numbers, e.g. 0/4");
  if (*n == 0 || *n > kMaxShards) return usage_error(what + ": N must be between 1 and " + std::to_string(kMaxShards));
  if (*k >= *n) return usage_error(what + ": shard index " + std::to_string(*k) + " is not below the count " + std::to_string(*n));
  return Shard{*k, *n};
}

// The name a unit's key starts with: the input argument's last component ("." and "/" spelled out).
std::string root_name(const std::string& input) {
  fs::path p = fs::path(input).lexically_normal();
  if (p.has_filename() && p.filename() != "." && p.filename() != "..") return p.filename().string();
  std::error_code ec;
  fs::path a = fs::absolute(p, ec).lexically_normal();
  while (!a.empty() && !a.has_filename() && a != a.root_path()) a = a.parent_path();
  return a.has_filename() ? a.filename().string() : a.string();
}

}  // namespace

Expected<Shard> parse_shard(const std::string& spec) {
  auto slash = spec.find('/');
  if (slash == std::string::npos) return make(std::nullopt, std::nullopt, "--shard '" + spec + "'");
  return make(number(std::string_view(spec).substr(0, slash)), number(std::string_view(spec).substr(slash + 1)),
              "--shard '" + spec + "'");
}

Expected<Shard> shard_from_env(const Getenv& env) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    const char* v = env(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  auto slurm_id = get("SLURM_ARRAY_TASK_ID");
  auto job_index = get("JOB_COMPLETION_INDEX");
  if (auto count = get("VDSOKIT_SHARD_COUNT")) {
    auto id = slurm_id ? slurm_id : job_index;
    const char* from = slurm_id ? "SLURM_ARRAY_TASK_ID" : "JOB_COMPLETION_INDEX";
    if (!id) return usage_error("VDSOKIT_SHARD_COUNT is set but neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is; give --shard K/N");
    return make(number(*id), number(*count), std::string(from) + "=" + *id + " with VDSOKIT_SHARD_COUNT=" + *count);
  }
  if (slurm_id) {
    auto id = number(*slurm_id), lo = number(get("SLURM_ARRAY_TASK_MIN").value_or("")),
         hi = number(get("SLURM_ARRAY_TASK_MAX").value_or("")), n = number(get("SLURM_ARRAY_TASK_COUNT").value_or(""));
    std::string what = "Slurm array task " + *slurm_id;
    if (!id || !lo || !hi || !n || *id < *lo || *hi < *lo)
      return usage_error(what + ": SLURM_ARRAY_TASK_MIN/MAX/COUNT missing or inconsistent; give --shard K/N");
    if (*n != *hi - *lo + 1)
      return usage_error(what + ": the array is not one contiguous range (" + std::to_string(*n) + " tasks in " +
                         std::to_string(*lo) + "-" + std::to_string(*hi) +
                         "), so the shard count is unknown; set VDSOKIT_SHARD_COUNT or give --shard K/N");
    return make(*id - *lo, n, what);
  }
  if (job_index)
    return usage_error("JOB_COMPLETION_INDEX=" + *job_index + " without VDSOKIT_SHARD_COUNT: set it to the Job's completions, or give --shard K/N");
  return Shard{};
}

Expected<Shard> resolve_shard(const std::string& spec, const Getenv& env) {
  return spec.empty() ? shard_from_env(env) : parse_shard(spec);
}

std::vector<Unit> list_units(const std::vector<std::string>& inputs) {
  std::vector<Unit> units;
  for (const auto& input : inputs) {
    std::string root = root_name(input);
    for (auto& path : unit_paths(input)) {
      fs::path base(input);
      if (!base.has_filename() && base.has_parent_path()) base = base.parent_path();   // "store/" = "store"
      auto rel = fs::path(path).lexically_relative(base).lexically_normal();
      std::string key = rel.empty() || rel == "." ? root : root + "/" + rel.string();
      units.push_back(Unit{path, key, units.size()});
    }
  }
  return units;
}

uint64_t shard_hash(const std::string& key) {
  std::string hex = sha256_hex(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

bool owns(const Shard& s, const Unit& u) { return shard_hash(u.key) % s.count == s.index; }

std::vector<Unit> shard_units(const std::vector<std::string>& inputs, const Shard& s, size_t* total) {
  auto all = list_units(inputs);
  if (total) *total = all.size();
  std::vector<Unit> mine;
  for (auto& u : all)
    if (owns(s, u)) mine.push_back(std::move(u));
  return mine;
}

}  // namespace vk::criu
