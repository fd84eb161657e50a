// What CRIU's next dump makes of a process restored through a vDSO proxy (docs/vdso-restore.md
// §4.2 mark probe, §5.3 reading a mark and drop_rt_vdso). Works on a process's maps text plus a way
// to read its memory, so it runs on a live /proc/PID as well as on recorded maps and bytes.
//
// Model (Linux >= 3.16, where CRIU trusts the [vdso]/[vvar] names: check mode NO_CHECK, §4.2):
//   1. VMAs from maps; [vdso] gets VDSO status, [vvar] VVAR status, and a [vvar_vclock] right after
//      a [vvar] is merged into it, as CRIU's smaps walk shows it (§5.3 "On >= 6.13 ...").
//   2. Mark probe: every regular, anonymous, non-growsdown VMA below task_size with r and x has its
//      first bytes read; a CRIU mark there names the runtime vDSO. Two marks fail the dump.
//      V1/V2 marks are taken as V3 with the missing addresses -1; a V3 whose stored version is not 3
//      fails ("Mark version mismatch").
//   3. drop_rt_vdso: the VMA at orig_vdso gets VDSO status (the proxy), the one at orig_vvar VVAR;
//      the VMA at rt_vvar is dropped when it could be a vvar (regular, anonymous, readable, ...),
//      and the marked VMA is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/common/error.h"
#include "formats/procmaps/maps.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

// Bytes of the process at [addr, addr+len); nullopt when they cannot be read.
using MemReader = std::function<std::optional<std::vector<uint8_t>>(uint64_t addr, uint64_t len)>;

struct DumpVma {
  uint64_t start = 0, end = 0;
  std::string perms, name;          // name: "[vvar]+[vvar_vclock]" when merged
  bool vdso = false, vvar = false;  // CRIU's VMA_AREA_VDSO / VMA_AREA_VVAR after the walk
  bool kept = true;                 // false: dropped from the dump
  std::string role;                 // rt-vdso | rt-vvar | proxy | orig-vvar | "" (anything else)
  std::string why;                  // why it got its status or was dropped
};

struct NextDump {
  std::vector<DumpVma> vmas;                // CRIU's VMA list, in address order
  std::optional<vdso::Mark> mark;           // as read from memory
  uint64_t rt_vdso = 0, rt_vdso_end = 0;    // the marked VMA
  uint64_t orig_vdso = 0, orig_vvar = ~0ull, rt_vvar = ~0ull;   // from the mark, after V1/V2 -> V3
  std::optional<vdso::Vdso> proxy;          // the bytes at orig_vdso, parsed (trampolines in proxy->trampolines)
  std::string proxy_error;
  size_t tramps_into_rt = 0;                // proxy trampolines aiming inside the marked runtime vDSO
  std::vector<std::string> errors;          // what makes CRIU's dump fail
  std::vector<std::string> warnings;

  bool ok() const { return errors.empty(); }
  std::vector<const DumpVma*> kept_vdso() const;
  std::vector<const DumpVma*> kept_vvar() const;
  std::vector<const DumpVma*> dropped() const;
};

// x86_64 TASK_SIZE_MAX with 4-level paging (47 bits minus a guard page).
inline constexpr uint64_t kTaskSize64 = 0x7ffffffff000ull;

NextDump predict_next_dump(const std::vector<procmaps::Line>& maps, const MemReader& read, uint64_t task_size = kTaskSize64);

// One line per VMA that matters, plus the mark and the verdict.
std::string render_text(const NextDump& d);
nlohmann::ordered_json to_json(const NextDump& d);

}  // namespace vk::analyze
