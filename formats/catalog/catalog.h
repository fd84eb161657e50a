// The catalog of real kernel vDSO builds (corpora/catalog.yaml, schema in docs/catalog.md).
// One entry per (kernel build, ABI). Every layout fact records where it came from.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/common/error.h"
#include "formats/vdso/vdso.h"

namespace vk::catalog {

// How the kernel places its data pages around [vdso] (docs/vdso-restore.md §4.3, kernel-corpus.md).
enum class Order { VvarBeforeVdso, VdsoBeforeVvar, SingleZone };
const char* order_name(Order o);                      // vvar-before-vdso | vdso-before-vvar | single-zone
std::optional<Order> order_from_name(std::string_view s);

// Where a fact comes from.
enum class Source { Carved, QemuObserved, Host, VersionRule, Synthetic, User };
const char* source_name(Source s);                    // carved | qemu-observed | host | version-rule | synthetic | user
std::optional<Source> source_from_name(std::string_view s);

template <class T>
struct Fact {
  T value{};
  Source source = Source::VersionRule;
};

struct Symbol {
  std::string name, version, type, bind;
  uint64_t offset = 0, size = 0;
};

struct Entry {
  std::string id;               // "<release>/<abi>", e.g. "6.1.0-47-amd64/x86_64"; "host/<abi>" for the running kernel
  std::string release;          // uname -r
  std::string version;          // upstream version "6.1.158" (from the vDSO's Linux note when present)
  uint32_t version_code = 0;    // LINUX_VERSION_CODE (sublevel capped at 255)
  std::string flavour;          // amd64 | cloud-amd64 | rt-amd64 | host | ...
  std::string distribution;     // "debian", "host", ...
  std::string package, package_version, package_sha256, suite;
  vdso::Abi abi = vdso::Abi::Unknown;
  std::string compiler;         // the vDSO's .comment
  std::string file;             // vDSO file, relative to the catalog's directory
  std::string sha256;           // of `file`
  // Of `file` zero-padded to whole pages (vdso_pages; pages_sha256 below), as a dump of the [vdso]
  // mapping holds it. Filled by the compiled built-in catalog (computed at build time); empty in a
  // YAML catalog, where whoever needs it computes it from the bytes. Never written to YAML.
  std::string sha256_pages;
  uint64_t size = 0;            // bytes of `file` (ELF size)
  uint64_t vdso_pages = 0;      // pages of the [vdso] mapping
  Source vdso_pages_source = Source::Carved;   // carved = ceil(size/4096); qemu-observed/host = seen in maps
  std::vector<Symbol> symbols;  // defined dynamic GLOBAL/WEAK symbols, by offset
  Fact<uint64_t> vvar_pages;          // [vvar] pages (0 with single-zone)
  Fact<uint64_t> vvar_vclock_pages;   // [vvar_vclock] pages (0 before 6.13)
  Fact<Order> order;
  Fact<bool> vdso_name_survives_mremap;   // Linux >= 3.16
  Fact<bool> arch_map_vdso;               // Linux >= 4.9
  Fact<bool> has_vvar_vclock;             // Linux >= 6.13 (a [vvar_vclock] zone exists)
  bool synthetic = false;       // hand-made (e.g. pre-3.16 single zone): no real build behind it

  uint64_t vdso_size() const { return vdso_pages * 4096; }
  uint64_t vvar_total() const { return (vvar_pages.value + vvar_vclock_pages.value) * 4096; }
  const Symbol* find(std::string_view name) const;
};

class Catalog {
 public:
  // Loads a catalog.yaml; `file` paths in entries are resolved against its directory.
  static Expected<Catalog> load(const std::string& path);
  // The catalog built into the binary (corpora/catalog.yaml and its vDSO files).
  static const Catalog& builtin();
  // Parses catalog YAML text; `name` is used in errors, `dir` resolves relative `file` paths.
  static Expected<Catalog> parse(const std::string& yaml, const std::string& name, const std::string& dir);

  void add(Entry e);                        // replaces an entry with the same id
  void add(Entry e, std::vector<uint8_t> bytes);   // ... and keeps its vDSO bytes in memory
  Status merge(const Catalog& other);
  std::string to_yaml() const;
  Status save(const std::string& path) const;   // atomic

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view id) const;
  // What a user may type for a build: an id, a release with the ABI implied ("<release>/<abi>"), or
  // the release of an entry whose id is not "<release>/<abi>" (a host entry added with
  // `catalog add --host` is "host/<abi>"). Every match, by id (`abi` Unknown: any ABI).
  std::vector<const Entry*> lookup(std::string_view name, vdso::Abi abi = vdso::Abi::Unknown) const;
  // Up to `n` ids that look like `name` (the release starts with it, or the same upstream version), for
  // "did you mean".
  std::vector<std::string> suggest(std::string_view name, size_t n = 3) const;
  // "; did you mean a, b or c?" for suggested ids; "" when there are none.
  static std::string did_you_mean(const std::vector<std::string>& ids);
  const Entry* by_sha256(const std::string& sha) const;        // O(1); never a synthetic entry
  // The vDSO bytes of an entry (from the built-in blobs or the file beside the catalog).
  Expected<std::vector<uint8_t>> bytes(const Entry& e) const;
  // The bytes of an entry the catalog holds in memory (built-in, host, added with bytes), without a
  // copy; empty when they are in a file. Valid while this catalog or any copy of it lives.
  std::span<const uint8_t> held(const Entry& e) const;

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_id_, by_sha_;
  std::string dir_;                                   // for relative `file` paths
  // In-memory bytes (built-in, host) by entry id: the built-in ones are the arrays compiled into the
  // program, others shared by every copy of the catalog (copies are cheap: issue 11, start-up).
  struct Held {
    std::shared_ptr<const std::vector<uint8_t>> owned;
    std::span<const uint8_t> data;
  };
  std::map<std::string, Held> blobs_;
  std::map<std::string, std::string> paths_;          // resolved file path by entry id
  friend struct Builtin;
  void reindex();
};

// Version-rule capabilities from an upstream LINUX_VERSION_CODE (docs/vdso-restore.md §10.2).
bool version_has_vvar(uint32_t code);             // >= 3.16: separate [vvar]
bool version_has_vvar_vclock(uint32_t code);      // >= 6.13
bool version_name_survives_mremap(uint32_t code); // >= 3.16
bool version_has_arch_map_vdso(uint32_t code);    // >= 4.9
uint32_t version_code(int major, int minor, int sub);
// "6.1.158" / "6.1" / "7.3-rc7" -> LINUX_VERSION_CODE (0 when unparsable, or when major or minor
// exceeds 255; the sublevel saturates at 255 as the kernel's does); and back ("6.1.158").
uint32_t parse_version(std::string_view s);
std::string version_string(uint32_t code);

// SHA-256 of an entry's ELF image zero-padded to its [vdso] pages (at least one, and at least the
// image rounded up to a page): what identify compares with a dump of all the mapping's pages.
std::string pages_sha256(const Entry& e, std::span<const uint8_t> elf);

// Fills the version-rule facts (capabilities, and the layout when `layout_too`) from version_code.
void apply_version_rules(Entry& e, bool layout_too);
// An entry for a vDSO image: id, abi, sha256, size, symbols, compiler and version from the bytes
// (via vdso::parse); layout from the version rules. The caller fills release/package/provenance.
Expected<Entry> entry_from_vdso(const std::string& name, const std::vector<uint8_t>& elf_bytes);

// The running kernel's vDSO for `abi` (docs/catalog.md "host"): bytes from AT_SYSINFO_EHDR (x86_64)
// or a helper child that maps the 32-bit image with ARCH_MAP_VDSO_32/X32 (i386, x32), layout from
// /proc/<pid>/maps. `file` is "host-<release>-<abi>.so".
struct HostVdso {
  Entry entry;
  std::vector<uint8_t> bytes;   // the ELF image (elf_size bytes)
};
Expected<HostVdso> host_capture(vdso::Abi abi);
Expected<Entry> host_entry(vdso::Abi abi);

// SHA-256 of a file, read in chunks (for .deb packages of up to a few hundred MB).
Expected<std::string> sha256_file(const std::string& path);

// The built-in catalog merged with each of `extra` in order (later wins on the same id).
Expected<Catalog> effective_catalog(const std::vector<std::string>& extra, bool with_builtin = true);

}  // namespace vk::catalog
