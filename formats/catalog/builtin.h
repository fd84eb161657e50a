// The files of corpora/ compiled into the binary (generated at build time by
// formats/catalog/embed.cmake from corpora/catalog.yaml and the vDSO files it names).
#pragma once

#include <cstddef>

namespace vk::catalog::embedded {

struct File {
  const char* path;             // relative to corpora/, e.g. "catalog.yaml", "kernels/7.3-amd64/x86_64.so"
  const unsigned char* data;
  std::size_t size;
};

extern const File kFiles[];     // ends with {nullptr, nullptr, 0}
extern const std::size_t kFileCount;

}  // namespace vk::catalog::embedded

// The built-in catalog in compiled form (issue 11: yaml-cpp parsed the built-in catalog.yaml on every
// run): rows generated at build time by vdsokit-catalog-compile (formats/catalog/compile_main.cpp),
// which reads corpora/catalog.yaml with Catalog::parse, so the two forms cannot disagree. The
// references are weak: a program linked without the generated rows (the compiler itself, a program
// using only formats/) parses the embedded catalog.yaml instead. User catalogs stay YAML.
namespace vk::catalog::embedded {

struct SymbolRow {
  const char *name, *version, *type, *bind;
  unsigned long long offset, size;
};

struct EntryRow {
  const char *id, *release, *version;
  unsigned version_code;
  const char *flavour, *distribution, *package, *package_version, *package_sha256, *suite;
  int abi;
  const char *compiler, *file, *sha256;
  const char* sha256_pages;     // Entry::sha256_pages, hashed by the compiler from the vDSO file
  unsigned long long size, vdso_pages;
  int vdso_pages_source;
  unsigned long long vvar_pages;
  int vvar_pages_source;
  unsigned long long vvar_vclock_pages;
  int vvar_vclock_pages_source;
  int order, order_source;
  bool name_survives_mremap;
  int name_survives_mremap_source;
  bool arch_map_vdso;
  int arch_map_vdso_source;
  bool has_vvar_vclock;
  int has_vvar_vclock_source;
  bool synthetic;
  std::size_t first_symbol, symbol_count;
};

extern const EntryRow kEntries[] __attribute__((weak));
extern const std::size_t kEntryCount __attribute__((weak));
extern const SymbolRow kSymbols[] __attribute__((weak));

}  // namespace vk::catalog::embedded
