#include "analyzers/inspect.h"
#include "formats/common/text.h"

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/reflection.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

#include "formats/common/sha256.h"

namespace vk::analyze {

using criu::kVmaRegular;
using criu::kVmaVdso;
using criu::kVmaVsyscall;
using criu::kVmaVvar;
using nlohmann::ordered_json;

std::string prot_string(uint32_t prot) {
  std::string s = "---";
  if (prot & 1) s[0] = 'r';
  if (prot & 2) s[1] = 'w';
  if (prot & 4) s[2] = 'x';
  return s;
}

std::vector<std::string> status_names(uint32_t status) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {criu::kVmaRegular, "VMA_AREA_REGULAR"},   {criu::kVmaStack, "VMA_AREA_STACK"},
      {criu::kVmaVsyscall, "VMA_AREA_VSYSCALL"}, {criu::kVmaVdso, "VMA_AREA_VDSO"},
      {criu::kVmaHeap, "VMA_AREA_HEAP"},         {criu::kVmaFilePrivate, "VMA_FILE_PRIVATE"},
      {criu::kVmaFileShared, "VMA_FILE_SHARED"}, {criu::kVmaAnonShared, "VMA_ANON_SHARED"},
      {criu::kVmaAnonPrivate, "VMA_ANON_PRIVATE"}, {criu::kVmaSysvipc, "VMA_AREA_SYSVIPC"},
      {criu::kVmaSocket, "VMA_AREA_SOCKET"},     {criu::kVmaVvar, "VMA_AREA_VVAR"},
      {criu::kVmaAioring, "VMA_AREA_AIORING"},   {criu::kVmaMemfd, "VMA_AREA_MEMFD"},
      {criu::kVmaShstk, "VMA_AREA_SHSTK"},       {criu::kVmaGuard, "VMA_AREA_GUARD"},
      {criu::kVmaUprobes, "VMA_AREA_UPROBES"},   {criu::kVmaUnsupp, "VMA_UNSUPP"}};
  std::vector<std::string> out;
  for (auto& [bit, name] : kNames)
    if (status & bit) out.push_back(name);
  return out;
}

namespace {

Vma to_vma(const img::vma_entry& e) {
  return Vma{e.start(), e.end(), e.pgoff(), e.shmid(), e.madv(), e.prot(), e.flags(), e.status()};
}

Auxv read_auxv(const img::mm_entry& mm) {
  Auxv a;
  a.words = size_t(mm.mm_saved_auxv_size());
  for (size_t i = 0; i + 1 < a.words; i += 2) {
    uint64_t type = mm.mm_saved_auxv(int(i)), val = mm.mm_saved_auxv(int(i + 1));
    if (type == criu::kAtNull) {
      a.terminated = true;
      break;
    }
    if (type == criu::kAtSysinfoEhdr && !a.sysinfo_ehdr) {
      a.sysinfo_ehdr = val;
      a.sysinfo_ehdr_word = i;
    }
    if (type == criu::kAtSysinfo) a.sysinfo = val;
  }
  // CRIU reads at most AT_VECTOR_SIZE = 44 words (docs/criu-images.md §2.2); newer kernels have more.
  a.cut_at_limit = !a.terminated && a.words == 44;
  return a;
}

std::string vvar_layout(const std::vector<Vma>& vvars) {
  if (vvars.empty()) return "none";
  if (vvars.size() > 1) return "several";
  switch (vvars[0].pages()) {
    case 6: return "vvar+vvar_vclock";   // 4 + 2 pages merged by CRIU >= 4.1 (Linux >= 6.13)
    case 4: return "vvar";
    default: return "other";
  }
}

bool has_unknown_fields(const google::protobuf::Message& m) {
  return m.GetReflection()->GetUnknownFields(m).field_count() > 0;
}

}  // namespace

Expected<Process> inspect_process(const criu::ImageSet& set, const img::pstree_entry& ps) {
  Process p;
  p.pid = ps.pid();
  p.threads.assign(ps.threads().begin(), ps.threads().end());
  VK_TRY(mm, set.mm(p.pid));
  p.vma_count = size_t(mm.vmas_size());
  for (const auto& e : mm.vmas()) {
    Vma v = to_vma(e);
    p.vmas.push_back(v);
    if ((v.status & (kVmaRegular | kVmaVdso)) == (kVmaRegular | kVmaVdso)) p.vdso_vmas.push_back(v);
    if (v.status & kVmaVvar) p.vvar_vmas.push_back(v);
    if (v.status & kVmaVsyscall) p.vsyscall_vmas.push_back(v);
  }
  p.vvar_layout = vvar_layout(p.vvar_vmas);
  p.auxv = read_auxv(mm);

  for (uint32_t tid : p.threads) {
    VK_TRY(core, set.core(tid));
    ThreadInfo t;
    t.tid = tid;
    if (core.has_tc()) t.comm = core.tc().comm();
    if (core.has_thread_core() && core.thread_core().has_comm()) t.comm = core.thread_core().comm();
    if (core.has_thread_info()) {
      const auto& regs = core.thread_info().gpregs();
      t.mode = regs.mode() == img::COMPAT ? "COMPAT" : "NATIVE";
      t.ip = regs.ip();
      for (const auto& v : p.vdso_vmas) t.ip_in_vdso |= t.ip >= v.start && t.ip < v.end;
      p.compat |= regs.mode() == img::COMPAT;
    } else {
      t.mode = "unknown";
    }
    if (p.comm.empty()) p.comm = t.comm;
    p.thread_info.push_back(t);
  }

  if (p.vdso_vmas.empty()) {
    p.vdso_error = "no VMA with VDSO status in " + criu::mm_file(p.pid);
    if (!p.vvar_vmas.empty()) p.notes.push_back("vvar VMA without a vdso VMA: CRIU fails this restore (\"Can't find vDSO area in image\")");
    return p;
  }
  if (p.vdso_vmas.size() > 1) p.notes.push_back("more than one VDSO VMA; the last one is used, as CRIU does");
  const Vma& v = p.vdso_vmas.back();
  p.ehdr_matches_vdso = p.auxv.sysinfo_ehdr && *p.auxv.sysinfo_ehdr == v.start;

  // A vDSO is a few pages (docs/vdso-restore.md); a larger VMA is refused before any page is read.
  if (v.size() > vdso::kMaxVdsoBytes) {
    uint64_t at = 0;
    if (auto mm_img = criu::open_image(set.tree(), criu::mm_file(p.pid), criu::kMaxMessageImageBytes); mm_img && !mm_img->entries.empty())
      at = mm_img->entries[0].offset;
    return bad_input_at(set.tree().name() + "/" + criu::mm_file(p.pid), at,
                        "vDSO VMA " + hex(v.start) + "-" + hex(v.end) + " is " + std::to_string(v.size()) +
                            " bytes, more than the " + std::to_string(vdso::kMaxVdsoBytes) + " a vDSO can be");
  }
  VK_TRY(store, pages::PageStore::open(set, p.pid));
  VK_TRY(read, store.read(v.start, v.size()));
  for (const auto& o : read.origins)
    p.vdso_places.push_back(VdsoPlace{o.depth, o.pagemap_file, o.run.index, o.run.vaddr, o.run.nr_pages, o.run.flags,
                                      o.run.count_in_field5, o.pages_file, o.pages_offset, o.len});
  if (const auto* top = store.find(v.start); top && (top->flags & criu::kPeParent) && !p.vdso_places.empty()) {
    // Show the hole in this set first, then where it resolved.
    p.vdso_places.insert(p.vdso_places.begin(),
                         VdsoPlace{0, store.pagemap().file, top->index, top->vaddr, top->nr_pages, top->flags,
                                   top->count_in_field5, "", 0, 0});
  }
  p.vdso_sha256 = sha256_hex(read.bytes);
  VK_TRY(parsed, vdso::parse(criu::mm_file(p.pid) + "@" + hex(v.start), std::move(read.bytes)));
  if (parsed.elf && parsed.elf_size <= parsed.bytes.size())
    p.vdso_elf_sha256 = sha256_hex(std::span(parsed.bytes.data(), parsed.elf_size));
  if (parsed.mark)
    p.notes.push_back("the dumped vdso carries a CRIU mark: a runtime vdso was dumped instead of being dropped");
  if (!parsed.trampolines.empty())
    p.notes.push_back("the dumped vdso is a CRIU proxy: trampolines at " + std::to_string(parsed.trampolines.size()) +
                      " entry points (restored through a proxy before this dump)");
  if (parsed.stub_mark && parsed.stub_mark->restorer == "fixup")
    p.notes.push_back("the dumped vdso carries a vdsokit fixup mark: " + std::to_string(parsed.stub_mark->entries.size()) +
                      " ranges redirected at an earlier restore (their trampolines aim at a runtime vDSO that is gone), "
                      "original bytes kept; before the fixup its pages had sha256 " + parsed.stub_mark->original_sha256);
  else if (parsed.stub_mark)
    p.notes.push_back("the dumped vdso carries vdsokit system-call stubs at " + std::to_string(parsed.stubs.size()) +
                      " entry points (vdsokit rewrite exports --restorer " + parsed.stub_mark->restorer +
                      "); before the rewrite its pages had sha256 " + parsed.stub_mark->original_sha256);
  p.vdso = std::move(parsed);
  if (!p.ehdr_matches_vdso) p.notes.push_back("AT_SYSINFO_EHDR does not point at the vdso VMA");
  if (p.auxv.cut_at_limit)
    p.notes.push_back("saved auxv is cut at 44 words without AT_NULL (kernel auxv longer than CRIU's AT_VECTOR_SIZE)");
  return p;
}

Expected<SetReport> inspect(const criu::ImageSet& set, const std::string& label) {
  SetReport r;
  r.input = label;
  const auto& inv = set.inventory();
  r.img_version = inv.img_version();
  VK_TRY(parent, set.tree().follow("parent"));
  r.has_parent = parent != nullptr;

  std::vector<std::string> schemas;
  for (const auto& ps : set.pstree()) {
    VK_TRY(proc, inspect_process(set, ps));
    VK_TRY(pm, set.pagemap(ps.pid()));
    schemas.push_back(pm.schema());
    r.processes.push_back(std::move(proc));
  }
  std::sort(schemas.begin(), schemas.end());
  schemas.erase(std::unique(schemas.begin(), schemas.end()), schemas.end());
  schemas.erase(std::remove(schemas.begin(), schemas.end(), "empty"), schemas.end());
  r.pagemap_schema = schemas.empty() ? "empty" : schemas.size() == 1 ? schemas[0] : "mixed";

  // Writer hints (docs/criu-images.md §2.3, §2.4, §3.4).
  auto& h = r.writer_hints;
  if (r.pagemap_schema == "4.2")
    h.push_back("pagemap counts in field 5: written by CRIU >= 4.2 (CRIU <= 4.1 and crit 3.17 read them as 0 pages)");
  else if (r.pagemap_schema == "4.1")
    h.push_back("pagemap counts in field 2: written by CRIU <= 4.1, or converted to that schema");
  if (inv.has_allow_uprobes()) h.push_back("inventory field 14 (allow_uprobes): written by CRIU >= 4.2");
  else if (inv.has_plugins_entry() || inv.has_dump_criu_run_id())
    h.push_back("inventory fields 12/13 (plugins, dump_criu_run_id): written by CRIU >= 4.1");
  else
    h.push_back("inventory has no field above 11: written by CRIU <= 4.0, or converted");
  if (has_unknown_fields(inv)) h.push_back("inventory carries fields unknown to this schema: written by a CRIU newer than 4.2");
  for (const auto& p : r.processes)
    if (p.vvar_layout == "vvar+vvar_vclock") {
      h.push_back("one 6-page VVAR entry ([vvar]+[vvar_vclock] merged): dumped on Linux >= 6.13 by CRIU >= 4.1");
      break;
    }
  return r;
}

// ---- rendering ----

namespace {

ordered_json vma_json(const Vma& v) {
  ordered_json j;
  j["start"] = hex(v.start);
  j["end"] = hex(v.end);
  j["size"] = v.size();
  j["pages"] = v.pages();
  j["prot"] = prot_string(v.prot);
  j["flags"] = hex(v.flags);
  j["status"] = hex(v.status);
  j["status_names"] = status_names(v.status);
  j["madv"] = hex(v.madv);
  return j;
}

ordered_json vdso_json(const vdso::Vdso& v) {
  ordered_json j;
  j["abi"] = vdso::abi_name(v.abi);
  j["elf"] = v.elf;
  j["size"] = v.bytes.size();
  j["pages"] = v.pages();
  if (v.elf) {
    j["elf_size"] = v.elf_size;
    j["osabi"] = v.osabi;
    j["soname"] = v.soname;
    j["hash"] = v.has_hash;
    j["gnu_hash"] = v.has_gnu_hash;
    j["linux_version"] = v.version_string();
    j["build_id"] = v.build_id;
    j["build_salt"] = v.build_salt;
    j["compiler"] = v.compiler;
    ordered_json syms = ordered_json::array();
    for (const auto& s : v.symbols)
      syms.push_back(ordered_json{{"name", s.name}, {"version", s.version}, {"offset", hex(s.offset)},
                                  {"size", s.size}, {"bind", s.bind}, {"type", s.type}});
    j["symbols"] = syms;
  }
  if (v.mark) {
    const auto& m = *v.mark;
    j["mark"] = ordered_json{{"version", m.version}, {"orig_vdso", hex(m.orig_vdso)},
                             {"orig_vvar", m.orig_vvar == ~0ull ? ordered_json(nullptr) : ordered_json(hex(m.orig_vvar))},
                             {"rt_vvar", m.rt_vvar == ~0ull ? ordered_json(nullptr) : ordered_json(hex(m.rt_vvar))}};
  } else {
    j["mark"] = nullptr;
  }
  ordered_json tr = ordered_json::array();
  for (const auto& t : v.trampolines)
    tr.push_back(ordered_json{{"offset", hex(t.offset)}, {"symbols", t.symbols}, {"target", hex(t.target)}, {"length", t.length}});
  j["trampolines"] = tr;
  j["proxy"] = !v.trampolines.empty();
  // vdsokit rewrite exports (formats/vdso/stub.h): the stubs and the mark that records them.
  ordered_json st = ordered_json::array();
  for (const auto& s : v.stubs)
    st.push_back(ordered_json{{"offset", hex(s.offset)}, {"at", hex(s.at)}, {"length", s.length}, {"syscall", s.nr},
                              {"query_guard", s.query_guard}});
  j["stubs"] = st;
  if (v.stub_mark)
    j["vdsokit_mark"] = ordered_json{{"offset", hex(v.stub_mark->offset)}, {"size", v.stub_mark->size},
                                     {"restorer", v.stub_mark->restorer}, {"original_sha256", v.stub_mark->original_sha256},
                                     {"entries", v.stub_mark->entries.size()}};
  else
    j["vdsokit_mark"] = nullptr;
  return j;
}

}  // namespace

namespace {

// Pagemap entry flags by name (criu-images.md: PE_PARENT 1, PE_LAZY 2, PE_PRESENT 4).
std::vector<std::string> pe_flag_names(uint32_t flags) {
  std::vector<std::string> names;
  if (flags & criu::kPeParent) names.push_back("PE_PARENT");
  if (flags & criu::kPeLazy) names.push_back("PE_LAZY");
  if (flags & criu::kPePresent) names.push_back("PE_PRESENT");
  if (uint32_t rest = flags & ~uint32_t(criu::kPeParent | criu::kPeLazy | criu::kPePresent)) names.push_back(hex(rest));
  return names;
}

std::string pe_flags_text(uint32_t flags) {
  auto names = pe_flag_names(flags);
  if (names.empty()) return "none";
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : "|") + n;
  return s;
}

std::string count(uint64_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

}  // namespace

ordered_json to_json(const SetReport& r) {
  ordered_json j;
  j["input"] = r.input;
  j["img_version"] = r.img_version;
  j["pagemap_schema"] = r.pagemap_schema;
  j["has_parent"] = r.has_parent;
  j["writer_hints"] = r.writer_hints;
  ordered_json procs = ordered_json::array();
  for (const auto& p : r.processes) {
    ordered_json pj;
    pj["pid"] = p.pid;
    pj["comm"] = p.comm;
    pj["threads"] = p.threads;
    pj["mode"] = p.compat ? "COMPAT" : "NATIVE";
    pj["vma_count"] = p.vma_count;
    auto list = [](const std::vector<Vma>& vs) {
      ordered_json a = ordered_json::array();
      for (const auto& v : vs) a.push_back(vma_json(v));
      return a;
    };
    pj["vdso_vmas"] = list(p.vdso_vmas);
    pj["vvar_vmas"] = list(p.vvar_vmas);
    pj["vvar_layout"] = p.vvar_layout;
    pj["vsyscall_vmas"] = list(p.vsyscall_vmas);
    ordered_json a;
    a["words"] = p.auxv.words;
    a["terminated"] = p.auxv.terminated;
    a["cut_at_limit"] = p.auxv.cut_at_limit;
    a["AT_SYSINFO_EHDR"] = p.auxv.sysinfo_ehdr ? ordered_json(hex(*p.auxv.sysinfo_ehdr)) : ordered_json(nullptr);
    a["AT_SYSINFO_EHDR_word"] = p.auxv.sysinfo_ehdr_word;
    a["AT_SYSINFO_EHDR_matches_vdso"] = p.ehdr_matches_vdso;
    pj["auxv"] = a;
    ordered_json th = ordered_json::array();
    for (const auto& t : p.thread_info)
      th.push_back(ordered_json{{"tid", t.tid}, {"comm", t.comm}, {"mode", t.mode}, {"ip", hex(t.ip)}, {"ip_in_vdso", t.ip_in_vdso}});
    pj["threads_core"] = th;
    ordered_json places = ordered_json::array();
    for (const auto& pl : p.vdso_places)
      places.push_back(ordered_json{{"depth", pl.depth}, {"pagemap_file", pl.pagemap_file}, {"entry_index", pl.entry_index},
                                    {"vaddr", hex(pl.vaddr)}, {"nr_pages", pl.nr_pages}, {"flags", pl.flags},
                                    {"flag_names", pe_flag_names(pl.flags)},
                                    {"count_in_field5", pl.count_in_field5}, {"pages_file", pl.pages_file},
                                    {"pages_offset", hex(pl.pages_offset)}, {"length", pl.length}});
    pj["vdso_pagemap"] = places;
    // The same key names as identify: sha256_all (every dumped page), sha256_elf (the ELF-size prefix).
    pj["sha256_all"] = p.vdso_sha256;
    pj["sha256_elf"] = p.vdso_elf_sha256;
    pj["vdso"] = p.vdso ? vdso_json(*p.vdso) : ordered_json(nullptr);
    pj["vdso_error"] = p.vdso_error ? ordered_json(*p.vdso_error) : ordered_json(nullptr);
    pj["notes"] = p.notes;
    procs.push_back(pj);
  }
  j["processes"] = procs;
  return j;
}

std::string render_json(const std::vector<SetReport>& reports) {
  ordered_json all = ordered_json::array();
  for (const auto& r : reports) all.push_back(to_json(r));
  return dump_json(ordered_json{{"schema", "vdsokit.inspect/1"}, {"image_sets", all}}, 2) + "\n";
}

namespace {

void emit_yaml(YAML::Emitter& out, const ordered_json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      emit_yaml(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) emit_yaml(out, v);
    out << YAML::EndSeq;
  } else if (j.is_null()) {
    out << YAML::Null;
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_number_unsigned()) {
    out << j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else if (j.is_number_float()) {
    out << j.get<double>();
  } else {
    out << YAML::DoubleQuoted << j.get<std::string>();
  }
}

}  // namespace

std::string json_to_yaml(const ordered_json& j) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);   // ASCII only, like the JSON: no raw control character
  emit_yaml(out, utf8_clean(j));   // one string policy for JSON and YAML (formats/common/text.h)
  return std::string(out.c_str()) + "\n";
}

std::string render_yaml(const std::vector<SetReport>& reports) {
  ordered_json all = ordered_json::array();
  for (const auto& r : reports) all.push_back(to_json(r));
  return json_to_yaml(ordered_json{{"schema", "vdsokit.inspect/1"}, {"image_sets", all}});
}

std::string render_text(const std::vector<SetReport>& reports) {
  std::ostringstream o;
  for (const auto& r : reports) {
    o << "image set " << r.input << "\n";
    o << "  img_version " << r.img_version << ", pagemap schema " << r.pagemap_schema
      << (r.has_parent ? ", incremental (parent link)" : "") << "\n";
    for (const auto& h : r.writer_hints) o << "  writer: " << h << "\n";
    for (const auto& p : r.processes) {
      o << "  process " << p.pid << " (" << p.comm << "), " << count(p.threads.size(), "thread", "threads") << ", "
        << (p.compat ? "COMPAT (32-bit)" : "NATIVE") << ", " << p.vma_count << " VMAs\n";
      auto row = [&](const char* what, const std::vector<Vma>& vs) {
        if (vs.empty()) o << "    " << what << "none\n";
        for (const auto& v : vs)
          o << "    " << what << hex(v.start) << "-" << hex(v.end) << "  " << count(v.pages(), "page", "pages") << "  "
            << prot_string(v.prot) << "  status " << hex(v.status) << "\n";
      };
      row("vdso      ", p.vdso_vmas);
      row("vvar      ", p.vvar_vmas);
      if (!p.vvar_vmas.empty()) o << "              layout: " << p.vvar_layout << "\n";
      row("vsyscall  ", p.vsyscall_vmas);
      o << "    auxv      " << p.auxv.words << " words"
        << (p.auxv.terminated ? "" : p.auxv.cut_at_limit ? ", cut at 44 words (no AT_NULL)" : ", no AT_NULL") << "; AT_SYSINFO_EHDR "
        << (p.auxv.sysinfo_ehdr ? hex(*p.auxv.sysinfo_ehdr) : "absent")
        << (p.ehdr_matches_vdso ? " = vdso start" : " (does not match the vdso)") << "\n";
      for (const auto& pl : p.vdso_places) {
        o << "    pages     " << (pl.depth ? std::string(size_t(pl.depth) * 2, ' ') + "parent: " : "") << pl.pagemap_file
          << " entry #" << pl.entry_index << " " << hex(pl.vaddr) << " " << count(pl.nr_pages, "page", "pages") << " "
          << pe_flags_text(pl.flags);
        if (!pl.pages_file.empty()) o << " -> " << pl.pages_file << " @" << hex(pl.pages_offset);
        o << "\n";
      }
      if (p.vdso_error) o << "    vdso      " << *p.vdso_error << "\n";
      if (p.vdso) {
        const auto& v = *p.vdso;
        o << "    vdso      " << vdso::abi_name(v.abi) << ", " << hex(v.bytes.size()) << " bytes, sha256 " << p.vdso_sha256 << "\n";
        if (v.elf)
          o << "              ELF " << hex(v.elf_size) << " bytes, Linux " << (v.version_string().empty() ? "?" : v.version_string())
            << (v.build_salt.empty() ? "" : " (" + v.build_salt + ")") << ", " << v.compiler << "\n";
        o << "              proxy: " << (v.trampolines.empty() ? "no" : "yes, " + std::to_string(v.trampolines.size()) + " trampolines")
          << ", mark: " << (v.mark ? "V" + std::to_string(v.mark->version) : "none") << "\n";
        if (v.stub_mark)
          o << "              vdsokit stubs: " << v.stubs.size() << " (rewrite exports --restorer " << v.stub_mark->restorer
            << "), original sha256 " << v.stub_mark->original_sha256 << "\n";
        for (const auto& s : v.symbols) {
          std::string tramp;
          for (const auto& t : v.trampolines)
            if (t.offset == s.offset) tramp = "  -> jump " + hex(t.target);
          for (const auto& st : v.stubs)
            if (st.offset == s.offset) tramp = "  -> system call " + std::to_string(st.nr);
          o << "      " << hex(s.offset) << "  " << s.name << (s.version.empty() ? "" : "@" + s.version) << "  "
            << s.bind << " " << s.type << " size " << hex(s.size) << tramp << "\n";
        }
      }
      for (const auto& n : p.notes) o << "    note: " << n << "\n";
    }
  }
  return o.str();
}

}  // namespace vk::analyze
