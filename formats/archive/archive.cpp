#include "formats/archive/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>

namespace vk::archive {

namespace {

std::string normalise(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

std::string parent_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

// Resolves "a/b/../c" lexically inside the archive; returns nullopt when it escapes the root.
std::optional<std::string> resolve(const std::string& base, const std::string& rel) {
  std::vector<std::string> parts;
  std::string path = rel.rfind('/', 0) == 0 ? rel.substr(1) : join(base, rel);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto& p : parts) out = join(out, p);
  return out;
}

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

}  // namespace

class ArchiveTree final : public Tree {
 public:
  ArchiveTree(std::shared_ptr<const Archive> ar, std::string folder)
      : ar_(std::move(ar)), folder_(std::move(folder)),
        name_(ar_->path() + (folder_.empty() ? "" : ":" + folder_)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    for (const auto& [p, m] : ar_->members_)
      if (m.blob && parent_of(p) == folder_) out.push_back(p.substr(folder_.empty() ? 0 : folder_.size() + 1));
    return out;
  }
  bool has(const std::string& file) const override {
    auto it = ar_->members_.find(join(folder_, file));
    return it != ar_->members_.end() && it->second.blob;
  }
  Expected<BlobPtr> open(const std::string& file) const override {
    auto it = ar_->members_.find(join(folder_, file));
    if (it == ar_->members_.end() || !it->second.blob)
      return bad_input(name_ + "/" + file, "no such file in the archive");
    return it->second.blob;
  }
  Expected<std::shared_ptr<const Tree>> follow(const std::string& link) const override {
    auto it = ar_->members_.find(join(folder_, link));
    if (it == ar_->members_.end()) return std::shared_ptr<const Tree>();
    std::string target = it->second.is_dir ? it->first : "";
    if (!it->second.link_target.empty()) {
      auto r = resolve(folder_, it->second.link_target);
      if (!r) return bad_input(name_ + "/" + link, "link target '" + it->second.link_target + "' leaves the archive");
      target = *r;
    }
    auto dir = ar_->members_.find(target);
    bool has_children = std::any_of(ar_->members_.begin(), ar_->members_.end(),
                                    [&](const auto& kv) { return parent_of(kv.first) == target && kv.second.blob; });
    if ((dir == ar_->members_.end() || !dir->second.is_dir) && !has_children)
      return bad_input(name_ + "/" + link, "link target '" + it->second.link_target + "' is not a folder in the archive (dangling)");
    return std::shared_ptr<const Tree>(std::make_shared<ArchiveTree>(ar_, target));
  }
  std::string identity() const override { return ar_->path() + "\n" + folder_; }

 private:
  std::shared_ptr<const Archive> ar_;
  std::string folder_;
  std::string name_;
};

Expected<std::shared_ptr<Archive>> Archive::open(const std::string& path) {
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_format_cpio(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK)
    return bad_input(path, std::string("not a readable archive: ") + archive_error_string(a.get()));
  auto ar = std::make_shared<Archive>();
  ar->path_ = path;
  uint64_t total = 0;
  struct archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      Error e = bad_input(path, std::string("archive: ") + archive_error_string(a.get()));
      e.offset = uint64_t(archive_filter_bytes(a.get(), -1));
      return e;
    }
    Member m;
    const char* p = archive_entry_pathname(entry);
    m.path = normalise(p ? p : "");
    if (m.path.empty()) continue;
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      m.is_dir = true;
    } else if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(entry);
      m.link_target = t ? t : "";
    } else if (type == AE_IFREG) {
      // Grow with the data actually read: the header's size field is not trusted for allocation.
      std::vector<uint8_t> data;
      uint8_t buf[64 * 1024];
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
          Error e = bad_input(path, "member " + m.path + ": " + archive_error_string(a.get()));
          e.offset = uint64_t(archive_filter_bytes(a.get(), -1));
          return e;
        }
        total += uint64_t(n);
        if (total > kMaxArchiveBytes)
          return bad_input(path, "archive holds more than " + std::to_string(kMaxArchiveBytes >> 30) +
                                     " GiB of members; extract it and inspect the directory");
        data.insert(data.end(), buf, buf + n);
      }
      m.blob = memory_blob(path + ":" + m.path, std::move(data));
    } else {
      continue;
    }
    ar->members_[m.path] = std::move(m);
  }
  return ar;
}

std::vector<std::string> Archive::folders_with(const std::string& file) const {
  std::vector<std::string> out;
  for (const auto& [p, m] : members_) {
    if (!m.blob) continue;
    auto slash = p.rfind('/');
    std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
    if (base == file) out.push_back(parent_of(p));
  }
  return out;
}

TreePtr Archive::tree(const std::string& folder) const {
  // Trees keep the archive alive; an Archive is always owned by a shared_ptr (see open()).
  return std::make_shared<ArchiveTree>(shared_from_this(), folder);
}

bool looks_like_archive(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_format_cpio(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 16 * 1024) != ARCHIVE_OK) return false;
  struct archive_entry* entry = nullptr;
  return archive_read_next_header(a.get(), &entry) == ARCHIVE_OK;
}

}  // namespace vk::archive
