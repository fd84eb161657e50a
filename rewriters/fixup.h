// `vdsokit fixup`: after a CRIU proxy restore, redirect every export of the old vDSO that CRIU left on
// old code to the same function of the running kernel's vDSO, in each process of the restored tree
// (docs/fix-a-restore.md; real-restores.md §3, §4; vdso-restore.md §5, §6.4).
//
// Per process: /proc/PID/maps gives the kernel's [vvar]/[vvar_vclock]/[vdso]; the first bytes of that
// [vdso] hold CRIU's V3 mark when a proxy was built (none: the restore was in place, nothing to do).
// The mark names the proxy (the dumped vDSO left at its address). The plan is the runtime's
// (analyzers/runtime_plan: one trampoline per export the running vDSO also has), its bytes are the
// runtime's (vk_rt_render_tramps into a copy of the proxy), and only the bytes that change are
// written through /proc/PID/mem, each write read back; on any failure every byte already written is
// put back, so a process is never left half-patched. Every task of a process must be stopped (CRIU's
// pre-resume action: ptrace-stopped; a tree restored with --leave-stopped: SIGSTOP), else it is refused.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analyzers/runtime_plan.h"
#include "formats/common/error.h"

namespace vk::rewrite {

struct FixupProcess {
  uint32_t pid = 0;
  std::vector<uint32_t> threads;          // the tasks sharing this process's memory
  std::string comm;
  // patched | unchanged (every export already redirected) | in-place | no-vdso | dry-run | failed
  std::string status;
  std::string detail;                     // one line
  uint64_t proxy = 0, proxy_size = 0, rt_vdso = 0;
  std::vector<std::string> redirected;    // "__vdso_clock_getres +0xb70 -> 0x36e80 (__vdso_clock_getres)"
  std::vector<std::string> by_restorer;   // already jumping to the same target (CRIU's trampolines)
  std::vector<std::string> left;          // not redirected, with the reason
  size_t bytes_written = 0;
  bool rolled_back = false;
  std::optional<Error> error;
  int exit_code = kExitOk;
};

struct FixupReport {
  uint32_t root = 0;
  std::string trigger;                    // "action-script pre-resume" | "--pid"
  bool dry_run = false;
  std::vector<FixupProcess> processes;
  int exit_code() const;                  // the highest of the processes'
};

struct FixupOptions {
  bool dry_run = false;                   // plan and report, write nothing
  // The running kernel's i386 vDSO, asked for once when an i386 (compat) task is met: a 32-bit
  // process's own (cli: the -m32 helper vdsokit-selftest32). Unset or failing: such tasks are refused.
  std::function<Expected<analyze::RtTarget>()> i386_target;
  std::string i386_why;                   // why there is none (filled by fixup_tree)
};

// The processes of the tree rooted at `root`: /proc/PID/task/*/children, recursively.
Expected<std::vector<uint32_t>> process_tree(uint32_t root);

// Fixes one process. The running kernel's vDSO is `host64` (this process's own [vdso]) or, for an
// i386 task, `host32` (null: refused); a task whose [vdso] differs from it beyond CRIU's mark is refused.
FixupProcess fixup_process(uint32_t pid, const analyze::RtTarget& host64, const analyze::RtTarget* host32, const FixupOptions& o);

FixupReport fixup_tree(uint32_t root, const FixupOptions& o, std::string trigger);

std::string render_text(const FixupReport& r);
std::string render_json(const FixupReport& r);

}  // namespace vk::rewrite
