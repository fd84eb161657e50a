// Test helpers: where the real fixtures are, and running the vdsokit binary.
#pragma once

#include <nlohmann/json.hpp>

#include "analyzers/verdict.h"
#include "formats/catalog/catalog.h"
#include "formats/criu/imageset.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// Whether this build runs under AddressSanitizer: a memory bound then measures ASan's shadow memory and
// quarantine, not vdsokit, so bounds are checked by the plain build (make test) and memory safety by
// the sanitizer build (make test-sanitize).
#if defined(__SANITIZE_ADDRESS__)
#define VK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VK_UNDER_ASAN 1
#endif
#endif

namespace vk::test {

std::string fixtures();                              // ../shared/fixtures/criu
std::string fixture(const std::string& rel);         // fixtures() + "/" + rel
std::string source(const std::string& rel);          // repository path
std::vector<std::string> fixture_sets();             // every folder with known-values.json
nlohmann::json known_values(const std::string& set, const std::string& file = "known-values.json");
std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::string read_text(const std::string& path);

// A fresh temporary directory, removed at destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};
// Copies a directory of files (no recursion into symlinks).
void copy_dir(const std::string& from, const std::string& to);

struct Run {
  int code = -1;
  std::string out, err;
};
Run run_vdsokit(const std::vector<std::string>& args);

uint64_t parse_hex(const std::string& s);

// An image set opened from a directory (absolute, or relative to the repository's working dir);
// fails the current test case when it cannot be opened.
criu::ImageSet open_set(const std::string& dir);
// Bytes of process `pid` at [start, start+len) in fixture folder `rel` (e.g. "host-vdsoloop/images").
std::vector<uint8_t> dumped_bytes(const std::string& rel, uint32_t pid, uint64_t start, uint64_t len);

// The vDSO of the machine that made the fixtures (host-proxy-second-gen's first-gen dump, its README):
// the dumped pages, their ELF image, and a catalog entry made from it under `id`. It stands for "the
// host added with catalog add --host" on that machine, whatever kernel runs the tests.
struct FixtureHost {
  std::vector<uint8_t> dumped, elf;
  catalog::Entry entry;
};
FixtureHost fixture_host(const std::string& id);

// `check` of the one-process set in `dir` against catalog target `target` with CRIU 4.2 as the
// restorer (built-in catalog); fails the current test case unless it gives exactly one outcome.
analyze::Outcome single_outcome(const std::string& dir, const std::string& target);

// Runs `fn` in a forked child that kills itself (SIGKILL) when its rewrite transaction reaches `step`
// (the rewriters/transaction.h hook); returns the child's wait status.
int run_killed_at(const std::string& step, const std::function<void()>& fn);

}  // namespace vk::test
