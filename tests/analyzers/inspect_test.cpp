// analyzers/inspect on every real fixture: exactly the values its README / known-values.json records.
#include <doctest/doctest.h>

#include "analyzers/inspect.h"
#include "formats/criu/inputs.h"
#include "support/fixtures.h"

using namespace vk;

namespace {

analyze::SetReport inspect_dir(const std::string& dir) {
  auto set = test::open_set(dir);
  auto r = analyze::inspect(set, dir);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
  return r.take();
}

void check_vma(const analyze::Vma& got, const nlohmann::json& want) {
  CHECK(hex(got.start) == want["start"].get<std::string>());
  CHECK(hex(got.end) == want["end"].get<std::string>());
  if (want.contains("status")) CHECK(hex(got.status) == want["status"].get<std::string>());
  if (want.contains("madv")) CHECK(hex(got.madv) == want["madv"].get<std::string>());
  if (want.contains("prot_s")) CHECK(analyze::prot_string(got.prot) == want["prot_s"].get<std::string>());
  if (want.contains("status_names")) CHECK(analyze::status_names(got.status) == want["status_names"].get<std::vector<std::string>>());
}

}  // namespace

TEST_CASE("inspect finds the documented values in every fixture image set") {
  for (const auto& name : test::fixture_sets()) {
    for (const char* file : {"known-values.json", "known-values-first-gen.json"}) {
      if (!std::filesystem::exists(test::fixture(name + "/" + file))) continue;
      auto kv = test::known_values(name, file);
      std::string imgdir = std::string(file) == "known-values.json" ? kv["imgdir"].get<std::string>() : "first-gen";
      std::string dir = test::fixture(name + "/" + imgdir);
      if (!std::filesystem::exists(dir + "/pstree.img")) continue;
      CAPTURE(dir);
      auto r = inspect_dir(dir);
      REQUIRE(r.processes.size() == kv["processes"].size());
      for (size_t i = 0; i < r.processes.size(); ++i) {
        const auto& p = r.processes[i];
        const auto& w = kv["processes"][i];
        CHECK(p.pid == w["pid"].get<uint32_t>());
        if (w.contains("threads")) CHECK(p.threads == w["threads"].get<std::vector<uint32_t>>());
        if (w.contains("vma_count")) CHECK(p.vma_count == w["vma_count"].get<size_t>());
        REQUIRE(p.vdso_vmas.size() == w["vdso_vmas"].size());
        for (size_t k = 0; k < p.vdso_vmas.size(); ++k) check_vma(p.vdso_vmas[k], w["vdso_vmas"][k]);
        REQUIRE(p.vvar_vmas.size() == w["vvar_vmas"].size());
        for (size_t k = 0; k < p.vvar_vmas.size(); ++k) check_vma(p.vvar_vmas[k], w["vvar_vmas"][k]);
        if (w.contains("vsyscall_vmas")) {
          REQUIRE(p.vsyscall_vmas.size() == w["vsyscall_vmas"].size());
          for (size_t k = 0; k < p.vsyscall_vmas.size(); ++k) check_vma(p.vsyscall_vmas[k], w["vsyscall_vmas"][k]);
        }
        REQUIRE(p.auxv.sysinfo_ehdr);
        CHECK(hex(*p.auxv.sysinfo_ehdr) == w["AT_SYSINFO_EHDR"].get<std::string>());
        CHECK(p.auxv.words == w["auxv_words"].get<size_t>());
        if (w.contains("AT_SYSINFO_EHDR_index_word")) CHECK(p.auxv.sysinfo_ehdr_word == w["AT_SYSINFO_EHDR_index_word"].get<size_t>());
        if (w.contains("AT_SYSINFO_EHDR_equals_vdso_start"))
          CHECK(p.ehdr_matches_vdso == w["AT_SYSINFO_EHDR_equals_vdso_start"].get<bool>());
        CHECK(p.vdso_sha256 == w["vdso_sha256_all_pages"].get<std::string>());
        if (w.contains("vdso_sha256_elf_prefix")) CHECK(p.vdso_elf_sha256 == w["vdso_sha256_elf_prefix"].get<std::string>());
        REQUIRE(p.vdso);
        // Symbols: the same (name, offset) set.
        std::set<std::pair<std::string, uint64_t>> got, want;
        for (const auto& s : p.vdso->symbols) got.insert({s.name, s.offset});
        for (const auto& s : w["vdso_symbols"]) want.insert({s["name"].get<std::string>(), test::parse_hex(s["offset"].get<std::string>())});
        CHECK(got == want);
        if (w.contains("vdso_trampolines")) {
          size_t names = 0;
          for (const auto& t : p.vdso->trampolines) names += t.symbols.size();
          CHECK(names == w["vdso_trampolines"].size());
        }
        CHECK(p.vdso->mark.has_value() == !w.value("vdso_mark_at_offset0", nlohmann::json()).is_null());
        if (w.contains("vdso_pagemap")) {
          const auto& pm = w["vdso_pagemap"];
          const auto& top = p.vdso_places.front();
          CHECK(top.entry_index == pm["entry_index"].get<size_t>());
          CHECK(hex(top.vaddr) == pm["vaddr"].get<std::string>());
          CHECK(top.nr_pages == pm["nr_pages"].get<uint64_t>());
          CHECK(top.flags == pm["flags"].get<uint32_t>());
          const auto& data = p.vdso_places.back();
          CHECK(data.pages_offset == pm.value("pages_offset", data.pages_offset));
        }
        if (w.contains("threads_core")) {
          REQUIRE(p.thread_info.size() == w["threads_core"].size());
          for (size_t k = 0; k < p.thread_info.size(); ++k) {
            CHECK(p.thread_info[k].comm == w["threads_core"][k]["comm"].get<std::string>());
            CHECK(hex(p.thread_info[k].ip) == w["threads_core"][k]["ip"].get<std::string>());
            CHECK(p.thread_info[k].ip_in_vdso == w["threads_core"][k]["ip_in_vdso"].get<bool>());
            CHECK(p.thread_info[k].mode == w["threads_core"][k]["gpregs_mode"].get<std::string>());
          }
        }
      }
    }
  }
}

TEST_CASE("inspect: layouts, auxv cut and writer hints") {
  auto host = inspect_dir(test::fixture("host-vdsoloop/images"));
  const auto& p = host.processes[0];
  CHECK(p.vvar_layout == "vvar+vvar_vclock");
  CHECK(p.auxv.words == 44);
  CHECK(!p.auxv.terminated);
  CHECK(p.auxv.cut_at_limit);
  CHECK(host.pagemap_schema == "4.2");

  auto old = inspect_dir(test::fixture("xk-5.10.0-46-amd64/images"));
  CHECK(old.processes[0].vvar_layout == "vvar");
  CHECK(old.processes[0].auxv.terminated);
  CHECK(old.processes[0].vdso->version_string().rfind("5.10.", 0) == 0);

  auto legacy = inspect_dir(test::fixture("host-pagemap-legacy/images"));
  CHECK(legacy.pagemap_schema == "4.1");

  auto proxy = inspect_dir(test::fixture("host-proxy-second-gen/images"));
  CHECK(proxy.processes[0].vdso->trampolines.size() == 4);
}
