// Shared by `vdsokit plan` and `vdsokit selftest` (cli/selftest.cpp).
#pragma once

#include <string>

#include "analyzers/runtime_plan.h"

namespace vk::cli {

// The running kernel as a process of that ABI sees it: for x86_64 this process's own
// [vvar]/[vvar_vclock]/[vdso] and vDSO bytes; for i386 those of the -m32 helper
// (vdsokit-selftest32, default: next to vdsokit), read from outside through /proc/PID/maps and
// /proc/PID/mem, much as CRIU's compat helper maps a 32-bit vDSO in a child (vdso-restore.md §4.1).
Expected<analyze::RtTarget> host_target_for(vdso::Abi abi, std::string helper32 = "");

}  // namespace vk::cli
