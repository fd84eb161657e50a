// C++ side of the end-to-end harness (README.md): finds a real CRIU, drives restore.sh, and reads what a
// real restore did (CRIU's decision, its jmp: lines, the program's own result lines).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vk::e2e {

// A CRIU build the tests restore with. `minor` is "4.1" or "4.2"; `label` is the matching --restorer.
struct Criu {
  std::string minor, label, path, version;
};

// VDSOKIT_CRIU_4_1 / VDSOKIT_CRIU_4_2 name a CRIU executable the user already has; otherwise the
// private roots of scripts/criu-roots.sh in $VDSOKIT_CRIU_CACHE (default /var/tmp/vdsokit-criu).
// nullopt with `why` set when there is none (or its version is not `minor`).
std::optional<Criu> find_criu(const std::string& minor, std::string& why);

// Reports "skipped: <why>" and ends the test process with the skip code (77, ctest SKIP_RETURN_CODE);
// under CI=true a missing prerequisite is a failure instead (exit 1), never a silent pass.
[[noreturn]] void skip(const std::string& why);
// find_criu or skip.
Criu need_criu(const std::string& minor);

// One working folder of the harness under the build tree (emptied first). Its destructor runs
// `restore.sh stop`, which kills exactly the processes the harness started there.
class Work {
 public:
  explicit Work(const std::string& name);
  ~Work();
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct Shell {
  int code = -1;
  std::string out;   // stdout (and stderr, unless with_stderr is false: then it goes to the test's stderr)
};
Shell sh(const std::vector<std::string>& argv, bool with_stderr = true);   // runs argv (no shell), waits

// The result of one `restore.sh restore`.
struct Restore {
  int code = -1;
  std::string log;                                // harness output (the restore.log tail on failure)
  std::map<std::string, std::string> result;      // WORK/result: status, decision, jmp, mismatch, criu, restore_ms
  std::vector<std::map<std::string, std::string>> lines;   // the program's R/T lines after the restore
  std::vector<uint64_t> jmp() const;               // offsets (in the dumped vDSO) CRIU wrote a trampoline at
  std::string get(const std::string& k) const { auto it = result.find(k); return it == result.end() ? "" : it->second; }
};

struct Bind {
  std::string src, dst;
};

std::string harness();                             // tests/e2e/restore.sh
std::string program(const std::string& name);      // build/tests/programs/<name>
std::string vdsokit();

// `restore.sh start`: runs argv with CAP_SYS_RESOURCE dropped; returns its pid (0 on failure).
int start(const Work& w, const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
// Waits until `file` has at least `n` lines starting with `prefix` (bounded); false on time-out.
bool wait_lines(const std::string& file, const std::string& prefix, size_t n, int timeout_ms = 10000);
// `restore.sh dump` of pid (from == "") or of the task restored in the folder `from`.
Shell dump(const Work& w, const Criu& c, const std::string& images, int pid, const std::string& from = "");
Restore restore(const Work& w, const Criu& c, const std::string& images, const std::vector<Bind>& binds,
                const std::string& watch, int lines = 3, const std::vector<std::string>& criu_args = {});

// Key=value fields of one program output line ("R n=3 pid=... clock_getres=ok").
std::map<std::string, std::string> fields(const std::string& line);

// `vdsokit check INPUT --target host --restorer R --format json`: the first process's outcome.
nlohmann::json check_host(const std::string& input, const std::string& restorer);
// The same against a catalog id, with extra --catalog files.
nlohmann::json check(const std::string& input, const std::string& target, const std::string& restorer,
                     const std::vector<std::string>& catalogs = {});

// sha256 of a file, lower-case hex ("" when unreadable), through sha256sum.
std::string sha256(const std::string& path);

// What `check` predicts, in the terms a real restore is read in.
// glibc function -> the vDSO export it reaches (vdsoprobe calls getrandom through the vDSO symbol).
extern const std::vector<std::pair<std::string, std::string>> kFunctions;
extern const std::vector<std::string> kFunctionNames;
// Each function's result after the restore: ok | wrong | absent (not exported: vdsoprobe cannot call it).
std::map<std::string, std::string> predicted_functions(const nlohmann::json& outcome);
// CRIU's decision as restore.log states it: inplace | proxy (also for retargetable) | none (blocked).
std::string predicted_decision(const nlohmann::json& outcome);
// The exports CRIU writes a trampoline over (fate redirected or missing) when it proxies.
std::set<std::string> predicted_trampolines(const nlohmann::json& outcome);

}  // namespace vk::e2e
