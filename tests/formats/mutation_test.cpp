// Hostile inputs: deterministic byte mutations and truncations of real images must give a value or an
// error naming the file, never a crash or an exception (synthetic inputs derived from host-vdsoloop).
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "analyzers/inspect.h"
#include "formats/criu/crit_json.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

// Runs inspect on the set in `dir`; returns true when it produced a report, false for an error.
bool inspect_ok(const std::string& dir) {
  auto tree = open_directory(dir);
  REQUIRE(tree);
  auto set = criu::ImageSet::open(*tree);
  if (!set) {
    CHECK(!set.error().message.empty());
    return false;
  }
  auto r = analyze::inspect(*set, dir);
  if (!r) {
    CHECK(!r.error().file.empty());
    CHECK(r.error().exit_code == kExitBadInput);
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("mutated and truncated images never crash inspect") {
  const std::string src = test::fixture("host-vdsoloop/images");
  std::mt19937 rng(20261127);   // fixed seed: the same inputs on every run
  size_t errors = 0, reports = 0;
  for (const char* file : {"inventory.img", "pstree.img", "mm-7660.img", "pagemap-7660.img", "core-7660.img"}) {
    auto original = test::read_bytes(src + "/" + file);
    for (int round = 0; round < 60; ++round) {
      test::TempDir tmp;
      test::copy_dir(src, tmp.path);
      auto bytes = original;
      if (round % 3 == 0) {
        bytes.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
      } else {
        int flips = 1 + round % 5;
        for (int i = 0; i < flips; ++i) bytes[std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng)] ^= uint8_t(1u << (rng() % 8));
      }
      test::write_bytes(tmp / file, bytes);
      CAPTURE(file);
      CAPTURE(round);
      (inspect_ok(tmp.path) ? reports : errors)++;
      // The crit decoder takes the same bytes.
      auto img = criu::parse_image(file, bytes);
      if (img) {
        criu::CritOptions opts;
        opts.pretty = round % 2 == 0;
        (void)criu::image_to_crit_json(*img, opts);
      }
    }
  }
  CHECK(errors > 50);   // most mutations are caught as bad input
  CHECK(errors + reports == 300);
}

TEST_CASE("mutated vDSO pages never crash inspect (pages file bytes flipped inside the vdso)") {
  const std::string src = test::fixture("host-vdsoloop/images");
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    test::TempDir tmp;
    test::copy_dir(src, tmp.path);
    auto pages = test::read_bytes(tmp / "pages-1.img");
    for (int i = 0; i < 1 + round % 8; ++i) pages[0x11000 + rng() % 0x1a20] ^= uint8_t(1u << (rng() % 8));
    test::write_bytes(tmp / "pages-1.img", pages);
    CAPTURE(round);
    inspect_ok(tmp.path);
  }
}
