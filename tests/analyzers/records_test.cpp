// analyzers/records: per-unit records of `check` over the real fixtures, written by N shards, merged
// into the report of a single run; torn and malformed shard outputs.
#include <doctest/doctest.h>

#include <fstream>

#include "analyzers/records.h"
#include "formats/criu/inputs.h"
#include "support/fixtures.h"

using namespace vk;

namespace {

std::vector<std::string> store() {
  return {test::fixtures(), test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst")};
}

// One shard of `check --target 6.12.117+deb13-cloud-amd64`, its records as a JSON-lines file.
std::string shard_output(const catalog::Catalog& cat, const criu::Shard& s, const std::string& path) {
  size_t total = 0;
  auto units = criu::shard_units(store(), s, &total);
  analyze::Checker checker(cat, "6.12.117+deb13-cloud-amd64", *analyze::find_restorer("criu-4.2"));
  std::string text;
  analyze::run_units(units, total, s, "check", "--target 6.12.117+deb13-cloud-amd64 --restorer criu-4.2",
                     [&](const criu::Unit& u, analyze::UnitRecord& r) {
                       auto sets = criu::open_sets({u.path});
                       REQUIRE(sets);
                       std::vector<analyze::SetCheck> checks;
                       for (const auto& set : *sets) {
                         auto c = checker.check(set.set, set.label);
                         REQUIRE_MESSAGE(c, (c ? "" : c.error().str()));
                         checks.push_back(c.take());
                       }
                       analyze::fill_check(r, checks);
                     },
                     [&](const analyze::UnitRecord& r) { text += analyze::to_jsonl(r); });
  test::write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
  return path;
}

analyze::Report merge(const std::vector<std::string>& paths) {
  std::vector<analyze::RecordFile> files;
  for (const auto& p : paths) {
    auto f = analyze::read_records(p);
    REQUIRE_MESSAGE(f, (f ? "" : f.error().str()));
    files.push_back(f.take());
  }
  auto r = analyze::merge_records(files);
  REQUIRE(r);
  return r.take();
}

// The report without what differs between runs by nature: timing and which shard did what.
nlohmann::json comparable(const analyze::Report& r) {
  auto j = nlohmann::json::parse(analyze::render_report_json(r));
  j.erase("run");
  for (auto& u : j["units"])
    for (const char* k : {"started", "seconds", "shard"}) u.erase(k);
  return j;
}

}  // namespace

TEST_CASE("records: 3 shards of check merge into exactly the report of a single run") {
  auto cat = catalog::effective_catalog({});
  REQUIRE(cat);
  test::TempDir tmp;
  auto single = merge({shard_output(*cat, criu::Shard{}, tmp / "single.jsonl")});
  std::vector<std::string> parts;
  for (size_t k = 0; k < 3; ++k) parts.push_back(shard_output(*cat, criu::Shard{k, 3}, tmp / ("s" + std::to_string(k) + ".jsonl")));
  auto merged = merge(parts);
  CHECK(comparable(merged) == comparable(single));
  CHECK(merged.units.size() == merged.total);
  CHECK(merged.missing.empty());
  CHECK(merged.shards == std::vector<std::string>{"0/3", "1/3", "2/3"});
  // Several fixtures are proxies there (exit 1 overall).
  CHECK(merged.exit_code() == single.exit_code());
  CHECK(merged.exit_code() == 1);
  CHECK(analyze::render_report_text(merged).find("; exit 1\n") != std::string::npos);
  CHECK(analyze::render_report_junit(merged).find("<testsuites") != std::string::npos);
  CHECK(analyze::render_report_html(merged).find("<table>") != std::string::npos);

  SUBCASE("a shard missing: its units are named and the exit code is 3") {
    auto partial = merge({parts[0], parts[2]});
    CHECK(!partial.missing.empty());
    CHECK(partial.missing.size() + partial.units.size() == partial.total);
    CHECK(partial.exit_code() == kExitBadInput);
  }
  SUBCASE("a killed task's torn last line is skipped with a warning; a resubmitted task supersedes it") {
    auto text = test::read_text(parts[1]);
    REQUIRE(text.size() > 10);
    std::string torn = text.substr(0, text.size() - 10);   // cut inside the last record
    test::write_bytes(tmp / "killed.jsonl", std::vector<uint8_t>(torn.begin(), torn.end()));
    auto f = analyze::read_records(tmp / "killed.jsonl");
    REQUIRE(f);
    CHECK(f->warnings.size() == 1);
    auto again = merge({parts[0], tmp / "killed.jsonl", parts[1], parts[2]});
    CHECK(comparable(again) == comparable(single));
    CHECK(again.superseded == f->records.size());
    CHECK(again.rewritten_twice.empty());
  }
  SUBCASE("a malformed line inside a file is exit 3 with its byte offset") {
    auto text = test::read_text(parts[0]);
    auto nl = text.find('\n');
    text.insert(nl + 1, "{\"schema\":\"vdsokit.unit/1\"}\n");
    test::write_bytes(tmp / "bad.jsonl", std::vector<uint8_t>(text.begin(), text.end()));
    auto f = analyze::read_records(tmp / "bad.jsonl");
    REQUIRE(!f);
    CHECK(f.error().exit_code == kExitBadInput);
    CHECK(f.error().offset == nl + 1);
  }
}

TEST_CASE("records: outputs of different operations do not merge; rewriting a unit twice is reported") {
  analyze::UnitRecord a;
  a.command = "rewrite";
  a.operation = "pagemap --to 4.1";
  a.unit = a.key = "store/x";
  a.total = 1;
  a.status = "rewritten";
  auto b = a;
  b.started = 5;
  analyze::RecordFile f1{"one", {a}, {}}, f2{"two", {b}, {}};
  auto twice = analyze::merge_records({f1, f2});
  REQUIRE(twice);
  CHECK(twice->rewritten_twice == std::vector<std::string>{"store/x"});
  b.resumed = true;   // taken from the state: not a second rewrite
  f2.records = {b};
  CHECK(analyze::merge_records({f1, f2})->rewritten_twice.empty());
  b.operation = "pagemap --to 4.2";
  f2.records = {b};
  auto mixed = analyze::merge_records({f1, f2});
  REQUIRE(!mixed);
  CHECK(mixed.error().exit_code == kExitUsage);
}
