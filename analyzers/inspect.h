// `vdsokit inspect`: what an image set says about each process's vDSO, vvar and auxv, and about the
// CRIU that wrote it. One data model; text, JSON and YAML are renderings of it (docs/inspect.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/criu/imageset.h"
#include "formats/pages/pagestore.h"
#include "formats/vdso/vdso.h"

namespace vk::analyze {

struct Vma {
  uint64_t start = 0, end = 0, pgoff = 0, shmid = 0, madv = 0;
  uint32_t prot = 0, flags = 0, status = 0;
  uint64_t size() const { return end - start; }
  uint64_t pages() const { return size() / criu::kPageSize; }
};

struct Auxv {
  size_t words = 0;
  bool terminated = false;              // ends with an AT_NULL pair
  bool cut_at_limit = false;            // 44 words without AT_NULL: CRIU's AT_VECTOR_SIZE cut
  std::optional<uint64_t> sysinfo_ehdr;
  size_t sysinfo_ehdr_word = 0;
  std::optional<uint64_t> sysinfo;      // AT_SYSINFO (ia32 tasks)
};

struct ThreadInfo {
  uint32_t tid = 0;
  std::string comm;
  std::string mode;                     // NATIVE | COMPAT
  uint64_t ip = 0;
  bool ip_in_vdso = false;
};

struct VdsoPlace {
  int depth = 0;                        // 0 = this set, 1 = parent, ...
  std::string pagemap_file;
  size_t entry_index = 0;
  uint64_t vaddr = 0, nr_pages = 0;
  uint32_t flags = 0;
  bool count_in_field5 = false;
  std::string pages_file;
  uint64_t pages_offset = 0;
  uint64_t length = 0;
};

struct Process {
  uint32_t pid = 0;
  std::vector<uint32_t> threads;
  std::string comm;
  size_t vma_count = 0;
  std::vector<Vma> vmas;                // every VMA of mm-<pid>.img, in image order
  std::vector<Vma> vdso_vmas, vvar_vmas, vsyscall_vmas;
  std::string vvar_layout;              // "vvar+vvar_vclock" (6 pages), "vvar" (4), "none", "other"
  Auxv auxv;
  bool ehdr_matches_vdso = false;
  std::vector<ThreadInfo> thread_info;
  bool compat = false;
  std::vector<VdsoPlace> vdso_places;   // where the vDSO bytes came from (top entry first)
  std::optional<vdso::Vdso> vdso;
  std::string vdso_sha256;              // of all dumped pages
  std::string vdso_elf_sha256;          // of the ELF-size prefix
  std::optional<std::string> vdso_error;  // why the vDSO could not be read (the process is still reported)
  std::vector<std::string> notes;       // observations worth a line
};

struct SetReport {
  std::string input;
  uint32_t img_version = 0;
  std::string pagemap_schema;           // "4.2", "4.1", "mixed"
  std::vector<std::string> writer_hints;
  bool has_parent = false;
  std::vector<Process> processes;
};

// Reads everything `inspect` reports for one image set. Errors are bad input for the whole set.
Expected<SetReport> inspect(const criu::ImageSet& set, const std::string& label);
// The vDSO of one process: bytes via the page store (follows parents), parsed.
Expected<Process> inspect_process(const criu::ImageSet& set, const img::pstree_entry& ps);

std::string prot_string(uint32_t prot);                  // "r-x"
std::vector<std::string> status_names(uint32_t status);  // VMA_AREA_* names

nlohmann::ordered_json to_json(const SetReport& r);
std::string render_text(const std::vector<SetReport>& reports);
std::string render_json(const std::vector<SetReport>& reports);
std::string render_yaml(const std::vector<SetReport>& reports);

// JSON to YAML with the same key order (used by every YAML output).
std::string json_to_yaml(const nlohmann::ordered_json& j);

}  // namespace vk::analyze
