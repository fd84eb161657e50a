// A rewrite unit's file replacements applied all-or-nothing, across kill -9 and I/O errors, with one
// commit point: a journal (docs/rewrite.md "Atomicity"; issue 12, D8).
//
//   1. stage: every new content is written to a temporary file beside its target (.NAME.vk-XXXXXX),
//      fsynced. A failure removes them all; every target is untouched.
//   2. commit point: the journal (.vdsokit-journal: each temporary -> target, and a SHA-256 of the
//      list) is written to its own temporary, fsynced, renamed into place, and the directory fsynced.
//      Before this rename the unit is unchanged; from it on it is converted.
//   3. renames of each temporary over its target, directory fsync, journal removed, directory fsync.
//
// A run killed before 2 leaves only temporaries: the next run on the directory removes them (they
// match .*.vk-XXXXXX and no other run holds the directory's lock). A run killed after 2 leaves the
// journal: the next run finishes the renames (roll forward; every temporary is complete and fsynced),
// and until then readers refuse the set (criu::ImageSet::open), so nothing ever reads a mix.
// Concurrent runs on one directory are serialised by flock(2) on the directory.
//
// Files keep their permission bits, owner and group; a target that is a symbolic link is refused
// (vdsokit replaces regular files in place only, never through or over a link).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

inline constexpr const char* kJournalName = ".vdsokit-journal";

// Holds flock(LOCK_EX) on a directory for the lifetime of the object.
class DirLock {
 public:
  static Expected<std::shared_ptr<DirLock>> acquire(const std::string& dir);
  ~DirLock();
  DirLock(int fd) : fd_(fd) {}

 private:
  int fd_;
};

// Finishes an interrupted commit in `dir` (journal present: roll forward) and removes stale
// temporaries of killed runs. The caller holds the directory's lock. `removed` counts temporaries.
Status recover(const std::string& dir, size_t* removed = nullptr);
// Whether `dir` holds a journal (a committed rewrite not yet finished).
bool has_journal(const std::string& dir);
// Whether a file name is one of our temporaries (.NAME.vk-XXXXXX).
bool is_temp_name(const std::string& name);

class Transaction {
 public:
  // Every staged target must be in `dir`, which holds the journal.
  explicit Transaction(std::string dir) : dir_(std::move(dir)) {}
  void stage(std::string path, std::vector<uint8_t> bytes) { staged_.push_back({std::move(path), std::move(bytes), {}}); }
  // The file's current bytes with `patches` written over them: the temporary is a copy (never read
  // into memory whole), patched, fsynced; each patch must lie inside the file.
  void stage_patched(std::string path, std::vector<Patch> patches) {
    staged_.push_back({std::move(path), {}, std::move(patches)});
  }
  size_t size() const { return staged_.size(); }
  // Writes every staged file as described above; the caller holds the directory's lock.
  Status commit();

  // Test hook for fault injection (tests/rewriters): called before each step with its name; a failing
  // Status is treated like an I/O error at that point, and a test may kill the process there.
  using Hook = std::function<Status(const std::string& step)>;
  static void set_hook(Hook h);

 private:
  struct File {
    std::string path;
    std::vector<uint8_t> bytes;
    std::vector<Patch> patches;
  };
  std::string dir_;
  std::vector<File> staged_;
};

}  // namespace vk::rewrite
