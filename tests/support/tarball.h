// Synthetic archives for the archive reader/rewriter corner cases (each test says what it crafts):
// written with libarchive's writer, members given as bytes or as a run of zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vk::test {

struct TarMember {
  std::string name;
  std::vector<uint8_t> bytes;
  uint64_t zeros = 0;          // when set: this many zero bytes instead of `bytes`
  uint64_t sparse_size = 0;    // when set: a pax sparse member of this logical size holding `bytes` at 0
};

// filter: "none", "gzip" or "zstd". Fails the current test when libarchive refuses.
void write_tar(const std::string& path, const std::string& filter, const std::vector<TarMember>& members);
// Every file of a fixture folder as members "<prefix>/<file>", sorted by name (as Podman writes them).
std::vector<TarMember> members_of(const std::string& dir, const std::string& prefix);

}  // namespace vk::test
