// formats/criu/shard: units of a store split into N shards that cover each unit exactly once, over
// the real fixtures (set folders, an incremental dump, Podman archives).
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>

#include "formats/criu/shard.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

criu::Getenv env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// The real store the tests shard: every fixture folder, plus the three Podman archives as inputs of their own.
std::vector<std::string> store() {
  std::vector<std::string> in{test::fixtures()};
  for (const char* ext : {"tar", "tar.gz", "tar.zst"})
    in.push_back(test::fixture(std::string("host-vdsoloop-podman/host-vdsoloop.") + ext));
  return in;
}

}  // namespace

TEST_CASE("--shard K/N: parsed, and refused with a usage error when malformed") {
  auto s = criu::parse_shard("2/4");
  REQUIRE(s);
  CHECK(s->index == 2);
  CHECK(s->count == 4);
  CHECK(s->str() == "2/4");
  for (const char* bad : {"4/4", "1/0", "x/4", "1/", "/4", "3", "-1/4", "1/4x", ""}) {
    CAPTURE(bad);
    auto r = criu::parse_shard(bad);
    REQUIRE(!r);
    CHECK(r.error().exit_code == kExitUsage);
  }
}

TEST_CASE("shard from the scheduler's environment") {
  auto get = [](std::map<std::string, std::string> v) { return criu::shard_from_env(env_of(std::move(v))); };
  SUBCASE("nothing set: one shard") {
    auto s = get({});
    REQUIRE(s);
    CHECK(s->count == 1);
  }
  SUBCASE("a Slurm array numbered from 1 (SLURM_ARRAY_TASK_MIN)") {
    auto s = get({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_MAX", "4"},
                  {"SLURM_ARRAY_TASK_COUNT", "4"}});
    REQUIRE(s);
    CHECK(s->str() == "2/4");
  }
  SUBCASE("a resubmitted subset (sbatch --array=2) is refused without VDSOKIT_SHARD_COUNT, placed with it") {
    std::map<std::string, std::string> v{{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                                         {"SLURM_ARRAY_TASK_MAX", "3"}, {"SLURM_ARRAY_TASK_COUNT", "2"}};
    auto r = get(v);
    REQUIRE(!r);
    CHECK(r.error().exit_code == kExitUsage);
    CHECK(r.error().message.find("VDSOKIT_SHARD_COUNT") != std::string::npos);
    v["VDSOKIT_SHARD_COUNT"] = "4";
    auto s = get(v);
    REQUIRE(s);
    CHECK(s->str() == "2/4");
  }
  SUBCASE("a Kubernetes Indexed Job: JOB_COMPLETION_INDEX needs VDSOKIT_SHARD_COUNT") {
    auto r = get({{"JOB_COMPLETION_INDEX", "5"}});
    REQUIRE(!r);
    CHECK(r.error().exit_code == kExitUsage);
    auto s = get({{"JOB_COMPLETION_INDEX", "5"}, {"VDSOKIT_SHARD_COUNT", "8"}});
    REQUIRE(s);
    CHECK(s->str() == "5/8");
    CHECK(!get({{"JOB_COMPLETION_INDEX", "8"}, {"VDSOKIT_SHARD_COUNT", "8"}}));
  }
  SUBCASE("an explicit --shard wins over the environment") {
    auto s = criu::resolve_shard("1/2", env_of({{"JOB_COMPLETION_INDEX", "5"}, {"VDSOKIT_SHARD_COUNT", "8"}}));
    REQUIRE(s);
    CHECK(s->str() == "1/2");
  }
}

TEST_CASE("units of the real fixtures: set folders and archives, in discovery order, with stable keys") {
  auto units = criu::list_units(store());
  REQUIRE(units.size() >= 12);
  std::set<std::string> keys;
  for (size_t i = 0; i < units.size(); ++i) {
    CHECK(units[i].seq == i);
    keys.insert(units[i].key);
  }
  CHECK(keys.size() == units.size());
  CHECK(keys.count("criu/host-incremental/dump"));     // the pre-dump is no unit of its own
  CHECK(!keys.count("criu/host-incremental/pre"));
  CHECK(keys.count("host-vdsoloop.tar.zst"));
  CHECK(units.back().path == store().back());
  // The same store reached through another path (another mount point) gives the same keys.
  test::TempDir tmp;
  fs::create_directory_symlink(test::fixtures(), tmp / "criu");
  auto again = criu::list_units({tmp / "criu/"});
  for (size_t i = 0; i < again.size(); ++i) CHECK(again[i].key == units[i].key);
  // An input without sets, or missing, is one unit (its shard reports the error).
  auto odd = criu::list_units({tmp.path, tmp / "missing.tar"});
  REQUIRE(odd.size() == 2);
  CHECK(odd[1].path == tmp / "missing.tar");
}

TEST_CASE("N shards cover every unit exactly once, for N = 1..7") {
  auto in = store();
  size_t total = 0;
  auto all = criu::shard_units(in, criu::Shard{}, &total);
  CHECK(all.size() == total);
  for (size_t n = 1; n <= 7; ++n) {
    CAPTURE(n);
    std::map<size_t, int> seen;
    for (size_t k = 0; k < n; ++k) {
      size_t t = 0;
      auto mine = criu::shard_units(in, criu::Shard{k, n}, &t);
      CHECK(t == total);
      for (size_t i = 1; i < mine.size(); ++i) CHECK(mine[i - 1].seq < mine[i].seq);   // order kept
      for (const auto& u : mine) ++seen[u.seq];
    }
    CHECK(seen.size() == total);
    for (auto& [seq, count] : seen) CHECK(count == 1);
  }
}

TEST_CASE("a unit's shard does not depend on the other units (a store growing under a running array)") {
  auto in = store();
  auto fewer = std::vector<std::string>(in.begin() + 1, in.end());   // the archives alone
  for (const auto& u : criu::list_units(fewer)) {
    for (const auto& v : criu::list_units(in))
      if (v.key == u.key) CHECK(criu::owns(criu::Shard{criu::shard_hash(u.key) % 4, 4}, v));
  }
  // Spread: 200 keys over 4 shards, none empty or holding more than half.
  std::map<uint64_t, int> per;
  for (int i = 0; i < 200; ++i) ++per[criu::shard_hash("store/job-" + std::to_string(i)) % 4];
  REQUIRE(per.size() == 4);
  for (auto& [k, c] : per) CHECK(c < 100);
}
