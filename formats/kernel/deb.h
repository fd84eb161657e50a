// Debian binary packages (.deb): an ar archive whose data.tar.* member holds the files. Read with
// libarchive, streamed (the outer .deb is never loaded whole).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::kernel {

struct DebFile {
  std::string path;                // path inside data.tar, without a leading "./"
  std::vector<uint8_t> bytes;
};

// A vmlinuz is about 10 MiB; the limit bounds memory for a hostile package (issue 12).
inline constexpr uint64_t kMaxDebMember = 32ull << 20;

// Returns the first regular file of data.tar.* for which `want(path)` is true, read whole (at most
// `limit` bytes). Fails when the .deb has no data.tar member or no file matches.
Expected<DebFile> deb_extract(const std::string& deb_path,
                              const std::function<bool(const std::string&)>& want,
                              uint64_t limit = kMaxDebMember);

// True for a kernel image path: boot/vmlinuz-<rel> (up to 6.18) or usr/lib/modules/<rel>/vmlinuz (6.19+).
bool is_vmlinuz_path(const std::string& path);

// The kernel release named by a vmlinuz path ("" when none).
std::string release_of_vmlinuz_path(const std::string& path);

}  // namespace vk::kernel
