#include "formats/kernel/deb.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace vk::kernel {

namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::string strip_dot(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  return p;
}

std::string err_of(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

// The inner data.tar.* is read from the outer ar member through these callbacks.
struct Inner {
  archive* outer;
  uint8_t buf[1 << 16];
};

la_ssize_t inner_read(archive*, void* client, const void** out) {
  auto* in = static_cast<Inner*>(client);
  la_ssize_t n = archive_read_data(in->outer, in->buf, sizeof in->buf);
  *out = in->buf;
  return n;
}

}  // namespace

bool is_vmlinuz_path(const std::string& p0) {
  std::string p = strip_dot(p0);
  if (p.rfind("boot/vmlinuz-", 0) == 0) return p.find('/', 5) == std::string::npos;
  const std::string pre = "usr/lib/modules/";
  if (p.rfind(pre, 0) == 0 && p.size() > pre.size() + 8 && p.ends_with("/vmlinuz")) {
    std::string mid = p.substr(pre.size(), p.size() - pre.size() - 8);
    return !mid.empty() && mid.find('/') == std::string::npos;
  }
  return false;
}

std::string release_of_vmlinuz_path(const std::string& p0) {
  std::string p = strip_dot(p0);
  if (!is_vmlinuz_path(p)) return "";
  if (p.rfind("boot/vmlinuz-", 0) == 0) return p.substr(13);
  return p.substr(16, p.size() - 16 - 8);
}

Expected<DebFile> deb_extract(const std::string& deb_path,
                              const std::function<bool(const std::string&)>& want, uint64_t limit) {
  ArchivePtr outer(archive_read_new());
  if (!outer) return bad_input(deb_path, "libarchive: out of memory");
  archive_read_support_format_ar(outer.get());
  archive_read_support_filter_none(outer.get());
  if (archive_read_open_filename(outer.get(), deb_path.c_str(), 1 << 16) != ARCHIVE_OK)
    return bad_input(deb_path, "cannot open as a .deb (ar archive): " + err_of(outer.get()));
  archive_entry* e = nullptr;
  bool saw_data = false;
  for (;;) {
    int r = archive_read_next_header(outer.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return bad_input(deb_path, "bad ar member header: " + err_of(outer.get()));
    std::string member = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (member.rfind("data.tar", 0) != 0) continue;
    saw_data = true;
    const std::string where = deb_path + ":" + member;
    ArchivePtr inner(archive_read_new());
    if (!inner) return bad_input(where, "libarchive: out of memory");
    archive_read_support_filter_all(inner.get());
    archive_read_support_format_tar(inner.get());
    Inner ctx{outer.get(), {}};
    if (archive_read_open(inner.get(), &ctx, nullptr, inner_read, nullptr) != ARCHIVE_OK)
      return bad_input(where, "cannot open data archive: " + err_of(inner.get()));
    archive_entry* ie = nullptr;
    for (;;) {
      int ir = archive_read_next_header(inner.get(), &ie);
      if (ir == ARCHIVE_EOF) break;
      if (ir != ARCHIVE_OK && ir != ARCHIVE_WARN)
        return bad_input(where, "bad tar entry: " + err_of(inner.get()));
      if (archive_entry_filetype(ie) != AE_IFREG) continue;
      std::string path = strip_dot(archive_entry_pathname(ie) ? archive_entry_pathname(ie) : "");
      if (!want(path)) continue;
      const std::string fwhere = where + ":" + path;
      if (archive_entry_size_is_set(ie) && uint64_t(archive_entry_size(ie)) > limit)
        return bad_input(fwhere, "member of " + std::to_string(archive_entry_size(ie)) +
                                     " bytes exceeds the limit of " + std::to_string(limit));
      std::vector<uint8_t> bytes;
      uint8_t buf[1 << 16];
      for (;;) {
        la_ssize_t n = archive_read_data(inner.get(), buf, sizeof buf);
        if (n < 0) return bad_input_at(fwhere, bytes.size(), "read failed: " + err_of(inner.get()));
        if (n == 0) break;
        if (bytes.size() + uint64_t(n) > limit)
          return bad_input(fwhere, "member exceeds the limit of " + std::to_string(limit) + " bytes");
        bytes.insert(bytes.end(), buf, buf + n);
      }
      return DebFile{path, std::move(bytes)};
    }
  }
  if (!saw_data) return bad_input(deb_path, "no data.tar member: not a Debian binary package");
  return bad_input(deb_path, "no matching file in data.tar");
}

}  // namespace vk::kernel
