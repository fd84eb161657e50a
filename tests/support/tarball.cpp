#include "support/tarball.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "support/fixtures.h"

namespace vk::test {

void write_tar(const std::string& path, const std::string& filter, const std::vector<TarMember>& members) {
  struct archive* w = archive_write_new();
  REQUIRE(archive_write_set_format_pax_restricted(w) == ARCHIVE_OK);
  if (filter == "gzip") REQUIRE(archive_write_add_filter_gzip(w) == ARCHIVE_OK);
  if (filter == "zstd") REQUIRE(archive_write_add_filter_zstd(w) == ARCHIVE_OK);
  REQUIRE(archive_write_open_filename(w, path.c_str()) == ARCHIVE_OK);
  std::vector<uint8_t> zeros(1 << 20);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    uint64_t size = m.zeros ? m.zeros : m.sparse_size ? m.sparse_size : m.bytes.size();
    archive_entry_set_size(e, la_int64_t(size));
    if (m.sparse_size) archive_entry_sparse_add_entry(e, 0, la_int64_t(m.bytes.size()));
    REQUIRE(archive_write_header(w, e) == ARCHIVE_OK);
    if (m.zeros) {
      for (uint64_t left = m.zeros; left > 0;) {
        size_t n = size_t(std::min<uint64_t>(left, zeros.size()));
        REQUIRE(archive_write_data(w, zeros.data(), n) == la_ssize_t(n));
        left -= n;
      }
    } else if (!m.bytes.empty()) {
      REQUIRE(archive_write_data(w, m.bytes.data(), m.bytes.size()) == la_ssize_t(m.bytes.size()));
    }
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(w) == ARCHIVE_OK);
  archive_write_free(w);
}

std::vector<TarMember> members_of(const std::string& dir, const std::string& prefix) {
  std::vector<TarMember> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(TarMember{prefix + "/" + e.path().filename().string(), read_bytes(e.path()), 0, 0});
  std::sort(out.begin(), out.end(), [](const TarMember& a, const TarMember& b) { return a.name < b.name; });
  return out;
}

}  // namespace vk::test
