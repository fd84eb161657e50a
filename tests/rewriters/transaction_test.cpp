// All-or-nothing rewrite units (issue 12, D8/D15/D18): kill -9 at every step of a commit, fault
// injection at every step, external kill -9 of the real binary at random moments, owner/mode/symlink
// policy, stale temporaries. The set is a synthetic two-process copy of host-vdsoloop (pid 7660 and a
// clone 7661 with the same images), so one unit changes two pagemaps.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <chrono>
#include <random>
#include <thread>

#include "formats/common/sha256.h"
#include "formats/criu/image.h"
#include "formats/criu/imageset.h"
#include "rewriters/batch.h"
#include "rewriters/pagemap.h"
#include "rewriters/transaction.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

const char* kSha42 = "a69d197744ad4b99394dad10f35bb90ac51c8ad16cf8bf4ed6b0967688da720a";
const char* kSha41 = "892c03a2fa167c75558144dcbd05df5be470575581322d433d5d4332cfa37118";

// host-vdsoloop plus a second process 7661 (synthetic: a copy of 7660's mm, core and pagemap).
void two_process_set(const std::string& dir) {
  test::copy_dir(test::fixture("host-vdsoloop/images"), dir);
  for (const char* f : {"mm", "core", "pagemap"}) fs::copy_file(dir + "/" + f + "-7660.img", dir + "/" + f + "-7661.img");
  auto ps = criu::parse_image("pstree.img", test::read_bytes(dir + "/pstree.img"));
  REQUIRE(ps);
  img::pstree_entry e;
  REQUIRE(criu::decode_entry(*ps, 0, e));
  e.set_pid(7661);
  e.clear_threads();
  e.add_threads(7661);
  criu::encode_entry(*ps, 1, e);
  test::write_bytes(dir + "/pstree.img", criu::write_image(*ps));
}

std::string sha(const std::string& path) { return sha256_hex(test::read_bytes(path)); }

// "original", "converted" or "corrupted", as a reader sees the set after the next run's recovery.
std::string state(const std::string& dir) {
  auto lock = rewrite::DirLock::acquire(dir);
  REQUIRE(lock);
  REQUIRE(rewrite::recover(dir));
  size_t temps = 0;
  for (auto& e : fs::directory_iterator(dir)) temps += rewrite::is_temp_name(e.path().filename().string());
  if (temps || rewrite::has_journal(dir)) return "corrupted";
  std::string a = sha(dir + "/pagemap-7660.img"), b = sha(dir + "/pagemap-7661.img");
  if (a == kSha42 && b == kSha42) return "original";
  if (a == kSha41 && b == kSha41) return "converted";
  return "corrupted";
}

rewrite::BatchReport convert(const std::string& dir) {
  rewrite::BatchOptions o;
  return rewrite::run_batch({dir}, [](const criu::ImageSet& s, const std::string&) { return rewrite::plan_pagemap(s, rewrite::PagemapSchema::V41); },
                            o, "pagemap --to 4.1");
}

const std::vector<std::string> kSteps = {"stage pagemap-7660.img", "stage pagemap-7661.img", "journal", "commit",
                                         "rename pagemap-7660.img", "rename pagemap-7661.img", "fsync", "finish"};

}  // namespace

TEST_CASE("D8: kill -9 at every step of a two-pagemap commit: original before the commit point, converted after, never a mix") {
  std::map<std::string, int> counts;
  for (size_t k = 0; k < kSteps.size(); ++k) {
    CAPTURE(kSteps[k]);
    test::TempDir tmp;
    two_process_set(tmp / "set");
    int st = test::run_killed_at(kSteps[k], [&] { convert(tmp / "set"); });
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGKILL);
    // Until the next run finishes it, a committed rewrite is refused by readers (never read as a mix).
    bool journal = rewrite::has_journal(tmp / "set");
    CHECK(journal == (k >= 4));
    if (journal) CHECK_FALSE(criu::ImageSet::open(*open_directory(tmp / "set")));
    auto s = state(tmp / "set");
    ++counts[s];
    CHECK(s == (k < 4 ? "original" : "converted"));
    // The next real run then finds a clean set: converted, or converted now.
    auto r = convert(tmp / "set");
    CHECK(r.exit_code() == 0);
    CHECK(state(tmp / "set") == "converted");
  }
  MESSAGE("kill -9 at every commit step: " << kSteps.size() << " kills, " << counts["original"] << " original, "
                                           << counts["converted"] << " converted, " << counts["corrupted"] << " corrupted");
  CHECK(counts["corrupted"] == 0);
}

TEST_CASE("D8: an I/O error injected at every step: before the commit point nothing changes, after it the next run finishes") {
  for (size_t k = 0; k < kSteps.size(); ++k) {
    CAPTURE(kSteps[k]);
    test::TempDir tmp;
    two_process_set(tmp / "set");
    rewrite::Transaction::set_hook([&](const std::string& s) -> Status {
      if (s == kSteps[k]) return bad_input(tmp / "set", "injected I/O error at " + s);
      return Status::ok();
    });
    auto r = convert(tmp / "set");
    rewrite::Transaction::set_hook(nullptr);
    CHECK(r.exit_code() == kExitBadInput);
    REQUIRE(r.units.size() == 1);
    CHECK(r.units[0].status == "error");
    if (k < 4) {
      // Nothing left behind: no temporaries, no journal, the set as it was.
      size_t extra = 0;
      for (auto& e : fs::directory_iterator(tmp / "set")) extra += e.path().filename().string()[0] == '.';
      CHECK(extra == 0);
    }
    CHECK(state(tmp / "set") == (k < 4 ? "original" : "converted"));
  }
}

TEST_CASE("D8: kill -9 of the real binary at random moments: every outcome is original or converted") {
  std::map<std::string, int> counts;
  std::mt19937 rng(12);
  const int kRuns = 40;
  // Kill moments spread over one whole run, as long as it takes on this machine (startup included).
  auto spawn = [](const std::string& dir) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(VK_BINARY, VK_BINARY, "rewrite", "pagemap", "--to", "4.1", dir.c_str(), (char*)nullptr);
      ::_exit(127);
    }
    return pid;
  };
  int full_us = 0;
  {
    test::TempDir tmp;
    two_process_set(tmp / "set");
    auto t0 = std::chrono::steady_clock::now();
    int st = 0;
    ::waitpid(spawn(tmp / "set"), &st, 0);
    full_us = int(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
    CHECK(state(tmp / "set") == "converted");
  }
  for (int i = 0; i < kRuns; ++i) {
    test::TempDir tmp;
    two_process_set(tmp / "set");
    pid_t pid = spawn(tmp / "set");
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, full_us)(rng)));
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    ++counts[state(tmp / "set")];
  }
  MESSAGE("kill -9 of `vdsokit rewrite pagemap` at random moments within one run (" << full_us / 1000 << " ms): " << kRuns << " kills, " << counts["original"]
          << " original, " << counts["converted"] << " converted, " << counts["corrupted"] << " corrupted");
  CHECK(counts["corrupted"] == 0);
  CHECK(counts["original"] + counts["converted"] == kRuns);
}

TEST_CASE("D18: temporaries of killed runs are removed by the next run, nothing else") {
  test::TempDir tmp;
  two_process_set(tmp / "set");
  test::write_bytes(tmp / "set/.pagemap-7660.img.vk-Ab12Cd", {1, 2, 3});
  test::write_bytes(tmp / "set/..vdsokit-journal.vk-Zz99Yy", {4});
  test::write_bytes(tmp / "set/.keep.vk-notours", {5});   // not the pattern: kept
  auto r = convert(tmp / "set");
  CHECK(r.exit_code() == 0);
  CHECK_FALSE(fs::exists(tmp / "set/.pagemap-7660.img.vk-Ab12Cd"));
  CHECK_FALSE(fs::exists(tmp / "set/..vdsokit-journal.vk-Zz99Yy"));
  CHECK(fs::exists(tmp / "set/.keep.vk-notours"));
  REQUIRE(r.units.size() == 1);
  bool noted = false;
  for (const auto& n : r.units[0].notes) noted |= n.find("removed 2 temporary") != std::string::npos;
  CHECK(noted);
  // A forged journal (bad checksum) is refused, and nothing is moved.
  test::write_bytes(tmp / "set/.vdsokit-journal", {'x'});
  auto again = convert(tmp / "set");
  CHECK(again.exit_code() == kExitBadInput);
  CHECK(sha(tmp / "set/pagemap-7660.img") == kSha41);
}

TEST_CASE("D15: owner, group and mode are kept, an image that is a symlink is refused and left alone") {
  test::TempDir tmp;
  two_process_set(tmp / "set");
  fs::permissions(tmp / "set/pagemap-7660.img", fs::perms(0640));
  bool root = ::geteuid() == 0;
  if (root) REQUIRE(::chown((tmp / "set/pagemap-7660.img").c_str(), 4321, 8765) == 0);
  auto r = convert(tmp / "set");
  CHECK(r.exit_code() == 0);
  struct stat st {};
  REQUIRE(::stat((tmp / "set/pagemap-7660.img").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  if (root) {
    CHECK(st.st_uid == 4321u);
    CHECK(st.st_gid == 8765u);
  } else {
    MESSAGE("not root: the owner part of this test needs chown");
  }
  CHECK(sha(tmp / "set/pagemap-7660.img") == kSha41);

  test::TempDir tmp2;
  two_process_set(tmp2 / "set");
  fs::rename(tmp2 / "set/pagemap-7661.img", tmp2 / "real-7661.img");
  fs::create_symlink(tmp2 / "real-7661.img", tmp2 / "set/pagemap-7661.img");
  auto s = convert(tmp2 / "set");
  CHECK(s.exit_code() == kExitBadInput);
  CHECK(fs::is_symlink(tmp2 / "set/pagemap-7661.img"));
  CHECK(sha(tmp2 / "real-7661.img") == kSha42);
  CHECK(sha(tmp2 / "set/pagemap-7660.img") == kSha42);   // the unit is all-or-nothing
}
