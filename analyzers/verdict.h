// The pre-flight decision for one process and one (target kernel, restorer): in-place, proxy,
// retargetable or blocked, with findings that carry stable codes (docs/findings.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzers/inspect.h"
#include "analyzers/restorer.h"
#include "formats/catalog/catalog.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

enum class Verdict { Inplace, Proxy, Retargetable, Blocked };
const char* verdict_name(Verdict v);            // inplace | proxy | retargetable | blocked

enum class Severity { Info, Warning, Error };   // Error: the restore itself is impossible or crashes when the code runs
const char* severity_name(Severity s);

struct Finding {
  std::string code;        // VK001 ...
  Severity severity = Severity::Info;
  std::string message;     // one line
  // What to change (docs/findings.md "Remedies"): set on every warning and error. It may hold the
  // placeholders INPUT (the checkpoint's path) and TARGET (the target as the user named it), which
  // fill_remedies() replaces where those are known (check); diff and matrix keep INPUT.
  std::string remedy;
};

// Replaces INPUT and TARGET in every remedy of `findings` (shell-quoted when needed).
void fill_remedies(std::vector<Finding>& findings, const std::string& input, const std::string& target);

// reads_vvar (restorer.h) is the one answer for check's findings and plan's entries.
// What a call does when the function stays on the old code after a proxy restore.
std::string old_code_effect(const std::string& name);

// What the checkpoint brings: its vDSO and the VMAs around it.
struct Subject {
  std::string label;
  std::optional<vdso::Vdso> vdso;         // absent when unreadable or no vdso VMA
  std::string vdso_error;
  std::optional<Vma> vdso_vma, vvar_vma;
  std::vector<Vma> vmas;                  // every VMA of the process (for collision checks)
  bool compat = false;
  bool ip_in_vdso = false;
  std::string pagemap_schema;             // "4.2", "4.1", "" when not applicable (catalog pairs)
  bool placed = false;                    // VMAs placed by subject_from_bytes, not dumped: no real addresses
};

// A checkpoint as a process dumped on catalog entry `e` would bring it (for diff and matrix).
Expected<Subject> subject_from_entry(const catalog::Catalog& cat, const catalog::Entry& e);
Expected<Subject> subject_from_bytes(const catalog::Entry& e, std::vector<uint8_t> vdso_bytes);
// A process of an inspected image set.
Subject subject_from_process(const Process& p, const std::string& pagemap_schema);

// What happens to one exported function of the checkpoint's vDSO.
struct SymbolFate {
  std::string name;                       // preferred name (__vdso_*), aliases share the entry
  std::vector<std::string> aliases;
  uint64_t old_offset = 0;
  std::optional<uint64_t> new_offset;     // in the target vDSO, when it exports the name
  std::string fate;                       // same | moved | redirected | old-code | missing | stale-trampoline | stub
  std::string effect;                     // what a call does afterwards
};

struct Retarget {
  uint64_t vvar_start = 0, vvar_size = 0; // the image's vvar VMA rewritten to this
  bool placed = false;                    // of a placed subject (catalog pair): vvar_start is not a real address
};

struct Outcome {
  std::string restorer;
  std::string target;                     // catalog id
  Verdict verdict = Verdict::Blocked;
  std::vector<Finding> findings;
  std::vector<SymbolFate> symbols;
  std::optional<Retarget> retarget;
  bool clocks_ok = true;                  // clock_gettime/gettimeofday/time/getcpu keep working
  bool clock_getres_ok = true;            // clock_getres keeps returning the kernel's resolution

  Severity worst() const;
  int exit_code() const;                  // 0 clean, 1 warnings, 4 blocked (docs/cli.md)
};

Outcome evaluate(const Subject& s, const catalog::Entry& target, const Restorer& r);

}  // namespace vk::analyze
