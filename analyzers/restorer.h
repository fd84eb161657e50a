// The restorers vdsokit can judge for, and the vdso rules each applies (docs/findings.md cites the facts).
#pragma once

#include <string>
#include <vector>

namespace vk::analyze {

struct Restorer {
  std::string name;                     // criu-4.2, criu-4.1, criu-4.0, criu-3.17, vdsokit-runtime
  int version = 0;                      // 402, 401, 400, 317; 0 for vdsokit-runtime
  bool is_criu = true;
  // Names CRIU compares for the in-place decision and patches in a proxy (vdso-restore.md §4.5):
  // 6 in 3.17, 7 since 4.0 (__vdso_clock_gettime64, 181583819). Empty: every exported function.
  std::vector<std::string> symbols;
  bool knows_vvar_vclock = true;        // 8ee2eba47, v4.1: otherwise kerndat fails on Linux >= 6.13
  bool reads_pagemap_field5 = true;     // afb2e6c3f, v4.2: older readers see 0 pages
  bool accepts_osabi_linux = true;      // 2d2168fc9, v4.2: older ones require EI_OSABI = 0
  bool requires_dt_hash = false;        // 3.17 needs DT_HASH; v4.1 accepts GNU hash alone
  bool patches_every_export = false;    // vdsokit-runtime
  bool guards_missing_symbols = false;  // CRIU jumps to rt_vdso-1 for a symbol the target lacks

  bool covers(const std::string& symbol) const;   // whether the proxy patches this name
};

const std::vector<Restorer>& restorers();
// Exported functions that read the vvar pages. Left on old code after a proxy restore, they read the
// old vvar address, which CRIU restores as an empty anonymous mapping (vdso-restore.md §6.4).
bool reads_vvar(const std::string& function);
const Restorer* find_restorer(const std::string& name);
std::vector<std::string> restorer_names();

}  // namespace vk::analyze
