// Which exports of a dumped vDSO get a system-call stub so that a restorer's proxy leaves nothing
// reading the empty old vvar (docs/rewrite.md "exports"; real-restores.md §3, vdso-restore.md §6.4).
//
// For every exported entry: the restorer patches it (left to the restorer), or it reads no vvar data
// (left, it keeps working), or it gets a stub (stub.h) doing the same system call, or it cannot (no
// system call does the same / the function is shorter than the stub: left, listed as a problem).
// Pure: bytes in, bytes out. A vDSO already carrying vdsokit stubs is first rebuilt as it was (the
// mark holds the original bytes), so a second run computes the same result and changes nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyzers/restorer.h"
#include "formats/common/error.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

enum class ExportAction {
  Stub,        // a system-call stub at the entry
  Restorer,    // the restorer redirects it (its proxy trampoline, vdso-restore.md §6.4)
  NoVvar,      // reads no vvar data: keeps working on the old code
  NoForm,      // reads vvar data but no system call does the same: left on old code (a problem)
  TooShort,    // the function is shorter than the stub: left on old code (a problem)
};
const char* export_action_name(ExportAction a);   // stub | restorer | no-vvar | no-form | too-short

struct ExportDecision {
  std::vector<std::string> names;   // preferred first
  uint64_t offset = 0, size = 0;
  ExportAction action = ExportAction::NoVvar;
  uint32_t syscall = 0;             // Stub: the system call number
  bool query_guard = false;         // Stub: getrandom's state-size query answered with -ENOSYS
  bool endbr_kept = false;          // Stub: written after the entry's endbr64/endbr32
  bool stale_trampoline = false;    // a trampoline from an earlier proxy restore sits at the entry
  std::string detail;               // one line
};

struct ExportsPlan {
  vdso::Abi abi = vdso::Abi::Unknown;
  std::string restorer;
  std::vector<ExportDecision> entries;
  std::vector<uint8_t> before;      // the vDSO as it was before any vdsokit stub (== input without a mark)
  std::vector<uint8_t> after;       // the bytes to write (== input when nothing changes)
  std::string before_sha256;
  bool changed = false;             // after != the input bytes
  size_t count(ExportAction a) const;
};

// Errors: not an ELF vDSO, a CRIU runtime-vDSO mark, x32, no room for the mark after the ELF image.
Expected<ExportsPlan> plan_exports(const vdso::Vdso& v, const Restorer& r);

}  // namespace vk::analyze
