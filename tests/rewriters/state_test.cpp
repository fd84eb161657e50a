// rewriters/state: resumable rewrite batches on copies of the real checkpoints (host-vdsoloop, its
// Podman .tar.zst): done units are skipped, interrupted ones redone or recognised as completed, and a
// unit is never rewritten twice. The interrupted states are written by the test (labelled synthetic):
// they are what a kill between the state's two phases leaves.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "formats/common/sha256.h"
#include "rewriters/pagemap.h"
#include "rewriters/state.h"
#include "rewriters/transaction.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

const char* kSha42 = "a69d197744ad4b99394dad10f35bb90ac51c8ad16cf8bf4ed6b0967688da720a";
const char* kSha41 = "892c03a2fa167c75558144dcbd05df5be470575581322d433d5d4332cfa37118";

rewrite::Planner to41() {
  return [](const criu::ImageSet& set, const std::string&) { return rewrite::plan_pagemap(set, rewrite::PagemapSchema::V41); };
}

struct Store {
  test::TempDir tmp;
  criu::Unit unit;
  std::string pagemap;
  Store() {
    test::copy_dir(test::fixture("host-vdsoloop/images"), tmp / "store/job1");
    unit = criu::list_units({tmp / "store"}).front();
    pagemap = unit.path + "/pagemap-7660.img";
  }
  std::string sha() const { return sha256_hex(test::read_bytes(pagemap)); }
};

rewrite::UnitResult run(const rewrite::StateDir& st, const criu::Unit& u, bool& resumed) {
  return st.run(u, to41(), rewrite::BatchOptions{}, resumed);
}

nlohmann::json record(const rewrite::StateDir& st, const std::string& key) {
  return nlohmann::json::parse(test::read_text(st.record_path(key)));
}

}  // namespace

TEST_CASE("state: a finished unit is skipped on the re-run with its recorded result, not rewritten again") {
  Store s;
  auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  bool resumed = true;
  auto first = run(*st, s.unit, resumed);
  CHECK(first.status == "rewritten");
  CHECK(!resumed);
  CHECK(s.sha() == kSha41);
  auto rec = record(*st, s.unit.key);
  CHECK(rec["phase"] == "done");
  CHECK(rec["after"][0]["file"] == "pagemap-7660.img");
  CHECK(rec["after"][0]["sha256"] == kSha41);
  auto mtime = fs::last_write_time(s.pagemap);
  auto again = run(*st, s.unit, resumed);
  CHECK(resumed);
  CHECK(again.status == "rewritten");
  REQUIRE(again.files.size() == 1);
  CHECK(again.files[0].file == first.files[0].file);
  CHECK(again.files[0].detail == first.files[0].detail);
  CHECK(fs::last_write_time(s.pagemap) == mtime);   // nothing written
  // Without the state, the rewriter itself sees the unit converted and writes nothing.
  auto plain = rewrite::run_batch({s.unit.path}, to41(), {}, "pagemap --to 4.1");
  CHECK(plain.units.front().status == "unchanged");
}

TEST_CASE("state: a kill after the files were replaced but before `done` (synthetic pending record) reports the unit rewritten") {
  Store s;
  auto before = rewrite::identify_file(s.pagemap, "pagemap-7660.img");
  REQUIRE(before);
  auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  bool resumed = false;
  auto first = run(*st, s.unit, resumed);
  REQUIRE(first.status == "rewritten");
  // What the killed run left: the pending record of phase one, with the identity before the write.
  auto rec = record(*st, s.unit.key);
  rec["phase"] = "pending";
  rec.erase("after");
  rec["before"] = nlohmann::json::array({{{"file", before->file}, {"size", before->size}, {"mtime_ns", before->mtime_ns}, {"sha256", before->sha256}}});
  std::string text = rec.dump();
  test::write_bytes(st->record_path(s.unit.key), std::vector<uint8_t>(text.begin(), text.end()));
  auto again = run(*st, s.unit, resumed);
  CHECK(again.status == "rewritten");
  CHECK(resumed);
  CHECK(again.files.size() == 1);
  CHECK(s.sha() == kSha41);
  CHECK(record(*st, s.unit.key)["phase"] == "done");
}

TEST_CASE("state: a kill before the files were replaced (synthetic pending record, files as before) redoes the unit") {
  Store s;
  auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  auto before = rewrite::identify_file(s.pagemap, "pagemap-7660.img");
  REQUIRE(before);
  nlohmann::json rec{{"schema", "vdsokit.state/1"}, {"operation", "pagemap --to 4.1"}, {"key", s.unit.key},
                     {"unit", s.unit.path}, {"phase", "pending"},
                     {"before", {{{"file", before->file}, {"size", before->size}, {"mtime_ns", before->mtime_ns}, {"sha256", before->sha256}}}},
                     {"result", {{"status", "rewritten"}}}};
  std::string text = rec.dump();
  test::write_bytes(st->record_path(s.unit.key), std::vector<uint8_t>(text.begin(), text.end()));
  bool resumed = true;
  auto u = run(*st, s.unit, resumed);
  CHECK(u.status == "rewritten");
  CHECK(!resumed);
  CHECK(s.sha() == kSha41);
}

TEST_CASE("state: a unit replaced since it was recorded (a new dump) is rewritten; other operations do not share records") {
  Store s;
  auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  bool resumed = false;
  REQUIRE(run(*st, s.unit, resumed).status == "rewritten");
  fs::remove(s.pagemap);
  fs::copy_file(test::fixture("host-vdsoloop/images/pagemap-7660.img"), s.pagemap);
  CHECK(s.sha() == kSha42);
  auto u = run(*st, s.unit, resumed);
  CHECK(u.status == "rewritten");
  CHECK(!resumed);
  auto back = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.2");
  REQUIRE(back);
  CHECK(back->record_path(s.unit.key) != st->record_path(s.unit.key));
  auto b = back->run(s.unit, [](const criu::ImageSet& set, const std::string&) {
    return rewrite::plan_pagemap(set, rewrite::PagemapSchema::V42);
  }, {}, resumed);
  CHECK(b.status == "rewritten");
  CHECK(s.sha() == kSha42);
}

TEST_CASE("state: an archive unit is recorded with the archive's identity and skipped on the re-run") {
  test::TempDir tmp;
  fs::create_directories(tmp / "store");
  fs::copy_file(test::fixture("host-vdsoloop-podman/host-vdsoloop.tar.zst"), tmp / "store/a.tar.zst");
  auto unit = criu::list_units({tmp / "store/a.tar.zst"}).front();
  auto st = rewrite::StateDir::open(tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  bool resumed = false;
  auto u = run(*st, unit, resumed);
  CHECK(u.status == "rewritten");
  auto rec = record(*st, unit.key);
  CHECK(rec["after"][0]["file"] == "");
  CHECK(rec["after"][0]["sha256"] == sha256_hex(test::read_bytes(tmp / "store/a.tar.zst")));
  auto again = run(*st, unit, resumed);
  CHECK(resumed);
  CHECK(again.status == "rewritten");
}

TEST_CASE("state: a malformed record is an error naming it (exit 3), the unit untouched") {
  Store s;
  auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
  REQUIRE(st);
  test::write_bytes(st->record_path(s.unit.key), {'{', 'x'});
  bool resumed = false;
  auto u = run(*st, s.unit, resumed);
  CHECK(u.status == "error");
  CHECK(u.exit_code == kExitBadInput);
  REQUIRE(u.error);
  CHECK(u.error->file == st->record_path(s.unit.key));
  CHECK(s.sha() == kSha42);
}

// Issue 13: the Slurm array's killed task, reproduced in-process. A child runs the unit with the state
// and is killed (SIGKILL) at each step of the transaction; the re-run must report what an uninterrupted
// run reports (rewritten, the same file and change), whether it redoes the write (killed before the
// commit point) or finishes the journal the killed run committed (killed after it, before any rename:
// the case that was reported "unchanged").
TEST_CASE("state: killed at every transaction step, the re-run reports the unit as an uninterrupted run does") {
  rewrite::UnitResult clean;
  {
    Store s;
    auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
    REQUIRE(st);
    bool resumed = false;
    clean = run(*st, s.unit, resumed);
    REQUIRE(clean.status == "rewritten");
    REQUIRE(clean.files.size() == 1);
  }
  const std::vector<std::string> steps = {"stage pagemap-7660.img", "journal", "commit", "rename pagemap-7660.img",
                                          "fsync", "finish"};
  for (size_t k = 0; k < steps.size(); ++k) {
    CAPTURE(steps[k]);
    Store s;
    auto st = rewrite::StateDir::open(s.tmp / "state", "pagemap --to 4.1");
    REQUIRE(st);
    int status = test::run_killed_at(steps[k], [&] {
      bool r = false;
      (void)run(*st, s.unit, r);
    });
    REQUIRE(WIFSIGNALED(status));
    bool committed = k >= 3;   // the journal is in place from "rename" on
    CHECK(rewrite::has_journal(s.unit.path) == committed);
    bool resumed = false;
    auto again = run(*st, s.unit, resumed);
    CHECK(again.status == "rewritten");
    CHECK(resumed == committed);
    REQUIRE(again.files.size() == 1);
    CHECK(fs::path(again.files[0].file).filename() == fs::path(clean.files[0].file).filename());
    CHECK(again.files[0].detail == clean.files[0].detail);
    CHECK(s.sha() == kSha41);
    CHECK_FALSE(rewrite::has_journal(s.unit.path));
    CHECK(record(*st, s.unit.key)["phase"] == "done");
  }
}
