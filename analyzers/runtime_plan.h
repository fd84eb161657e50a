// The C++ side of the restore-time runtime: computes the `vk_rt_plan` that runtime/ (vk_runtime)
// executes inside a restored process (docs/runtime-plan.md, "How the C++ side computes a plan").
//
// Input: the old vDSO (the bytes the restored process holds, parsed with vdso::parse) and where it
// sits, plus the target (the running kernel's [vvar]/[vvar_vclock]/[vdso] layout and its vDSO).
// Output: where the new pair goes, one trampoline per exported entry of the old vDSO that the new
// kernel also exports, and everything that cannot be redirected with the reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <vdsokit/runtime.h>

#include "formats/common/error.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

// What the old vDSO is redirected to: a kernel's special-mapping layout and its vDSO.
struct RtTarget {
  std::string label;             // "host" or a file name
  vk_rt_layout layout{};         // from vk_rt_read_layout / vk_rt_parse_maps
  vdso::Vdso vdso;               // the target kernel's vDSO (the bytes at layout.vdso)
};

// The running kernel as this process sees it: /proc/self/maps through the runtime's own parser
// (vk_rt_read_layout) and a copy of this process's [vdso] bytes.
Expected<RtTarget> host_target();
// An explicit target: maps text (only the [vvar]/[vvar_vclock]/[vdso] lines matter) and the vDSO
// bytes that were mapped at its [vdso].
Expected<RtTarget> explicit_target(std::string label, const std::string& maps_text, std::vector<uint8_t> vdso_bytes);

struct PlanRequest {
  const vdso::Vdso* old = nullptr;        // the old vDSO bytes, parsed
  uint64_t proxy_addr = 0;                // where they sit in the restored process
  uint64_t proxy_size = 0;                // that VMA's size; 0 = the old bytes rounded up to pages
  std::optional<uint64_t> orig_vvar;      // the image's vvar VMA start, for the mark (§5.2)
  std::optional<uint64_t> orig_vvar_size; // its size, when known (CRIU's in-place test compares it)
  std::optional<uint64_t> at;             // new start of the whole vvar/vclock/vdso block; none = stay
  bool mark = true;                       // write the V3 mark (CRIU always does with a proxy, §5.1)
};

// What happens to one entry of the old vDSO (one distinct offset; aliases share it).
enum class Fate {
  Trampoline,   // redirected to the same function of the new vDSO
  Unresolved,   // the new kernel does not export it: left alone, listed in the plan
  Skipped,      // deliberately not patched (__kernel_vsyscall, §4.5)
  TooShort,     // a trampoline does not fit before the next symbol / the end of its section
};
const char* fate_name(Fate f);          // trampoline | unresolved | skipped | too-short

struct PlanEntry {
  std::vector<std::string> names;         // every exported function name at this offset, preferred first
  uint64_t offset = 0, size = 0;          // in the old vDSO (size = st_size)
  uint64_t room = 0;                      // bytes up to the next symbol or the end of the code section
  std::string room_limit;                 // what bounds `room`: a symbol name, ".text end", ...
  Fate fate = Fate::Unresolved;
  std::string target_name;                // the new vDSO's symbol, for Trampoline
  uint64_t target_offset = 0;
  uint64_t from = 0, to = 0;              // absolute, for Trampoline
  bool shorter_than_tramp = false;        // st_size < trampoline length (the jump covers padding)
  std::string reason;                     // one line, for Skipped / TooShort / Unresolved / short ones
};

struct RuntimePlan {
  vk_rt_plan plan{};                      // what vk_rt_apply executes
  vdso::Abi abi = vdso::Abi::Unknown;
  uint32_t tramp_len = 0;
  std::string old_label, old_version;     // e.g. "5.10.0-32-amd64/x86_64.so", "5.10.226"
  std::string target_label, target_version;
  vk_rt_layout target_layout{};           // before the move
  uint64_t delta = 0;                     // new - old block start (mod 2^64)
  std::vector<PlanEntry> entries;         // by offset
  std::vector<std::string> notes;
  bool criu_remaps = false;               // CRIU's own test (§6.2) would remap in place, no proxy
  std::string criu_remap_why;             // its first mismatch otherwise
  int check_code = 0;                     // vk_rt_check_plan against target_layout

  size_t count(Fate f) const;
  // Findings: functions left calling old code that reads a stale vvar (unresolved or too short).
  bool has_findings() const { return count(Fate::Unresolved) + count(Fate::TooShort) > 0; }
  const PlanEntry* find(std::string_view name) const;   // by any alias
};

// Placement only: the target's block moved to `at` (no proxy, no trampolines). Errors: `at` not
// page aligned.
Expected<vk_rt_plan> plan_placement(const vk_rt_layout& layout, vdso::Abi abi, std::optional<uint64_t> at);

// The whole plan. Errors (bad input): ABIs differ, x32, the old bytes are a marked runtime vDSO,
// addresses not page aligned, more entries than the plan struct holds.
Expected<RuntimePlan> plan_runtime(const PlanRequest& req, const RtTarget& target);

// Text form: '#' comment lines explaining every entry, then the runtime's own printer
// (vk_rt_plan_format), so vk_rt_plan_parse reads it back unchanged.
std::string render_text(const RuntimePlan& p);
nlohmann::ordered_json to_json(const RuntimePlan& p);   // schema "vdsokit.plan/1"

// Pages of the image's [vvar] block for a vDSO build when nothing better is known: 4, plus the
// 2-page [vvar_vclock] from Linux 6.13 on (docs/vdso-restore.md §4.3, §10.2).
uint64_t vvar_pages_for(const vdso::Vdso& v);

}  // namespace vk::analyze
