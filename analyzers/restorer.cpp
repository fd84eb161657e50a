#include "analyzers/restorer.h"

#include <algorithm>
#include <set>

#include "formats/vdso/vdso.h"

namespace vk::analyze {

bool Restorer::covers(const std::string& symbol) const {
  if (patches_every_export) return true;
  return std::find(symbols.begin(), symbols.end(), symbol) != symbols.end();
}

bool reads_vvar(const std::string& name) {
  static const std::set<std::string> names = {
      "__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",           "__vdso_clock_getres",
      "__vdso_getrandom",     "__vdso_clock_gettime64", "__vdso_clock_getres_time64"};
  return names.count(name) > 0;
}

const std::vector<Restorer>& restorers() {
  static const std::vector<Restorer> all = [] {
    const auto& seven = vdso::criu_proxy_symbols();
    std::vector<std::string> six(seven.begin(), seven.end() - 1);   // without __vdso_clock_gettime64
    std::vector<Restorer> r;
    Restorer c42{"criu-4.2", 402, true, seven};
    Restorer c41 = c42;
    c41.name = "criu-4.1";
    c41.version = 401;
    c41.reads_pagemap_field5 = false;
    c41.accepts_osabi_linux = false;
    Restorer c40 = c41;
    c40.name = "criu-4.0";
    c40.version = 400;
    c40.knows_vvar_vclock = false;
    Restorer c317 = c40;
    c317.name = "criu-3.17";
    c317.version = 317;
    c317.symbols = six;
    c317.requires_dt_hash = true;
    Restorer rt{"vdsokit-runtime", 0, false, {}};
    rt.patches_every_export = true;
    rt.guards_missing_symbols = true;
    return std::vector<Restorer>{c42, c41, c40, c317, rt};
  }();
  return all;
}

const Restorer* find_restorer(const std::string& name) {
  for (const auto& r : restorers())
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> restorer_names() {
  std::vector<std::string> out;
  for (const auto& r : restorers()) out.push_back(r.name);
  return out;
}

}  // namespace vk::analyze
