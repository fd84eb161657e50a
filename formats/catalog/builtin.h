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
