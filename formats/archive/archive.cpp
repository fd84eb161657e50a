#include "formats/archive/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace vk::archive {

namespace {

// A checkpoint has tens to a few thousand files; far more headers is hostile input.
constexpr uint64_t kMaxMembers = 200000;
constexpr size_t kMaxPath = 4096;
// Members the default policy holds whole.
constexpr uint64_t kDefaultWhole = 1 << 20;

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

// Bytes a member's data occupies in the tar stream: its size, or the sum of its data regions when sparse.
uint64_t stored_size(struct archive_entry* e) {
  uint64_t size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? uint64_t(archive_entry_size(e)) : 0;
  if (archive_entry_sparse_reset(e) <= 0) return size;
  uint64_t sum = 0;
  la_int64_t off = 0, len = 0;
  while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK)
    if (len > 0) sum += uint64_t(len);
  return std::min(sum, size);
}

// A window onto the archive file: a member of a plain tar, read with pread, never buffered.
class SliceBlob final : public Blob {
 public:
  SliceBlob(BlobPtr file, std::string name, uint64_t offset, uint64_t size)
      : file_(std::move(file)), name_(std::move(name)), offset_(offset), size_(size) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, void* out, size_t len) const override {
    if (offset > size_ || len > size_ - offset)
      return bad_input_at(name_, offset, "read of " + std::to_string(len) + " bytes past end of file");
    auto st = file_->read(offset_ + offset, out, len);
    if (!st) return bad_input_at(name_, offset, st.error().message);
    return Status::ok();
  }

 private:
  BlobPtr file_;
  std::string name_;
  uint64_t offset_, size_;
};

// A member of a compressed archive: the ranges held while streaming, the rest read again from the
// archive on demand (one more streaming pass up to the member; such reads are rare: see KeepPolicy).
class StreamBlob final : public Blob {
 public:
  StreamBlob(std::string archive, std::string name, uint64_t ordinal, uint64_t size,
             std::map<uint64_t, std::vector<uint8_t>> held)
      : archive_(std::move(archive)), name_(std::move(name)), ordinal_(ordinal), size_(size), held_(std::move(held)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, void* out, size_t len) const override {
    if (offset > size_ || len > size_ - offset)
      return bad_input_at(name_, offset, "read of " + std::to_string(len) + " bytes past end of file");
    if (len == 0) return Status::ok();
    std::lock_guard lock(mu_);
    if (copy_held(offset, out, len)) return Status::ok();
    return fetch(offset, static_cast<uint8_t*>(out), len);
  }

 private:
  bool copy_held(uint64_t offset, void* out, size_t len) const {
    auto it = held_.upper_bound(offset);
    if (it == held_.begin()) return false;
    --it;
    if (offset + len > it->first + it->second.size()) return false;
    if (len) std::memcpy(out, it->second.data() + (offset - it->first), len);
    return true;
  }
  Status fetch(uint64_t offset, uint8_t* out, size_t len) const {
    VK_TRY(r, Reader::open(archive_));
    for (;;) {
      VK_TRY(e, r->next());
      if (!e) return bad_input(archive_, "member " + name_ + " is gone from the archive (changed while reading?)");
      if (r->ordinal() == ordinal_) break;
    }
    std::vector<uint8_t> buf(64 * 1024);
    uint64_t pos = 0;
    size_t done = 0;
    while (done < len) {
      VK_TRY(n, r->read(buf.data(), buf.size()));
      if (n == 0) return bad_input_at(name_, pos, "member ends before its header's size");
      uint64_t lo = std::max(pos, offset), hi = std::min<uint64_t>(pos + n, offset + len);
      if (lo < hi) {
        std::memcpy(out + (lo - offset), buf.data() + (lo - pos), hi - lo);
        done += hi - lo;
      }
      pos += n;
    }
    // Keep small reads (the vDSO pages asked for again by a later analysis) within the archive's bound.
    if (len <= (1u << 20) && cached_ + len <= kMaxKeptBytes / 4) {
      held_[offset] = std::vector<uint8_t>(out, out + len);
      cached_ += len;
    }
    return Status::ok();
  }

  std::string archive_, name_;
  uint64_t ordinal_, size_;
  mutable std::mutex mu_;
  mutable std::map<uint64_t, std::vector<uint8_t>> held_;   // offset -> bytes, disjoint
  mutable uint64_t cached_ = 0;
};

}  // namespace

std::string normalise(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

std::string error_text(struct archive* a, const char* fallback) {
  const char* s = a ? archive_error_string(a) : nullptr;
  return s && *s ? s : fallback;
}

namespace {

// The formats and compressions a checkpoint archive may have. The compressions of docs/cli.md
// "Inputs" (.tar.gz, .tar.zst, .tar.xz, .tar.bz2), recognised by content; lzma shares the xz reader.
// Named one by one (not archive_read_support_filter_all) so a static libarchive brings only these
// readers (cmake/deps.cmake).
void support_formats(struct archive* a) {
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  archive_read_support_format_cpio(a);
}

}  // namespace

Expected<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  std::unique_ptr<Reader> r(new Reader);
  r->path_ = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return bad_input(path, "not a regular file");
  r->file_size_ = uint64_t(st.st_size);
  r->a_ = archive_read_new();
  if (!r->a_) return bad_input(path, "libarchive: out of memory");
  support_formats(r->a_);
  if (archive_read_open_filename(r->a_, path.c_str(), 64 * 1024) != ARCHIVE_OK)
    return bad_input(path, "not a readable archive: " + error_text(r->a_));
  return r;
}

Expected<std::unique_ptr<Reader>> Reader::open_stream(const std::string& name, void* client, ReadFn read) {
  std::unique_ptr<Reader> r(new Reader);
  r->path_ = name;
  r->file_size_ = UINT64_MAX;   // unknown: no ratio limit (see archive.h)
  r->a_ = archive_read_new();
  if (!r->a_) return bad_input(name, "libarchive: out of memory");
  support_formats(r->a_);
  if (archive_read_open(r->a_, client, nullptr, read, nullptr) != ARCHIVE_OK)
    return bad_input(name, "not a readable archive: " + error_text(r->a_));
  return r;
}

Reader::~Reader() {
  if (a_) archive_read_free(a_);
}

bool Reader::compressed() const {
  for (int i = 0; i < archive_filter_count(a_); ++i)
    if (archive_filter_code(a_, i) != ARCHIVE_FILTER_NONE) return true;
  return false;
}

uint64_t Reader::data_offset() const { return uint64_t(archive_filter_bytes(a_, 0)); }

Error Reader::error(const std::string& what) const {
  Error e = bad_input(path_, what + ": " + error_text(a_));
  la_int64_t off = archive_filter_bytes(a_, -1);
  if (!compressed()) off = archive_filter_bytes(a_, 0);
  if (off >= 0) e.offset = uint64_t(off);
  return e;
}

Expected<struct archive_entry*> Reader::next() {
  struct archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return static_cast<struct archive_entry*>(nullptr);
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return error("archive");
  if (++ordinal_ > kMaxMembers) return error("more than " + std::to_string(kMaxMembers) + " members; not a checkpoint");
  const char* p = archive_entry_pathname(e);
  if (p && std::strlen(p) > kMaxPath) return error("a member name longer than " + std::to_string(kMaxPath) + " bytes");
  member_ = normalise(p ? p : "");
  // The limits, from the header alone: the member's data ends at `end` of the expanded stream.
  uint64_t end = data_offset() + (archive_entry_filetype(e) == AE_IFREG ? stored_size(e) : 0);
  if (end > kMaxStreamBytes) {
    Error x = error("member " + member_);
    x.message = "member " + member_ + " would take the expanded archive past " + std::to_string(kMaxStreamBytes >> 30) +
                " GiB (limit)";
    return x;
  }
  if (compressed() && end > kRatioFloor && end / kMaxRatio > file_size_) {
    Error x = error("member " + member_);
    x.message = "member " + member_ + " would expand the " + std::to_string(file_size_) + "-byte archive to " +
                std::to_string(end) + " bytes, more than " + std::to_string(kMaxRatio) +
                " times its size (a compression bomb?); refused before reading it";
    return x;
  }
  return e;
}

Expected<size_t> Reader::read(void* out, size_t len) {
  la_ssize_t n = archive_read_data(a_, out, len);
  if (n < 0) return error("member " + member_);
  return size_t(n);
}

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

Expected<std::shared_ptr<Archive>> Archive::open(const std::string& path, const KeepPolicy& keep) {
  VK_TRY(r, Reader::open(path));
  auto ar = std::make_shared<Archive>();
  ar->path_ = path;
  ar->compressed_ = r->compressed();
  BlobPtr file;   // plain archives: the members are windows onto this
  if (!ar->compressed_) {
    VK_TRY(f, open_file(path));
    file = f;
  }
  std::vector<uint8_t> buf(64 * 1024);
  for (;;) {
    VK_TRY(entry, r->next());
    if (!entry) break;
    Member m;
    m.path = r->member();
    m.ordinal = r->ordinal();
    if (m.path.empty()) continue;
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      m.is_dir = true;
    } else if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(entry);
      m.link_target = t ? t : "";
    } else if (type == AE_IFREG) {
      uint64_t size = archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0 ? uint64_t(archive_entry_size(entry)) : 0;
      m.sparse = archive_entry_sparse_reset(entry) > 0;
      std::string name = path + ":" + m.path;
      if (!ar->compressed_ && !m.sparse) {
        // Plain tar: the data is contiguous in the file; the next header seeks past it.
        uint64_t off = r->data_offset();
        if (off > file->size() || size > file->size() - off)
          return bad_input_at(path, off, "member " + m.path + " of " + std::to_string(size) + " bytes runs past the end of the archive");
        m.blob = std::make_shared<SliceBlob>(file, name, off, size);
      } else {
        Keep k = keep ? keep(m.path, size, *ar) : Keep{size <= kDefaultWhole ? Keep::Whole : Keep::Nothing, {}};
        if (k.kind == Keep::Whole) k.ranges = {{0, size}};
        // Clip to the member, drop empty ranges, and hold only what fits the archive's bound (the
        // rest is read on demand): memory stays bounded whatever the archive holds.
        std::vector<std::pair<uint64_t, uint64_t>> want;
        if (k.kind != Keep::Nothing)
          for (auto [off, len] : k.ranges) {
            if (off >= size) continue;
            len = std::min(len, size - off);
            if (len == 0 || ar->kept_ + len > kMaxKeptBytes) continue;
            ar->kept_ += len;
            want.emplace_back(off, len);
          }
        std::sort(want.begin(), want.end());
        std::map<uint64_t, std::vector<uint8_t>> held;
        uint64_t last = 0;
        for (auto& [off, len] : want) {
          auto& h = held[off];
          h.resize(std::max<uint64_t>(h.size(), len));   // bounded: the lengths sum to <= kMaxKeptBytes
          last = std::max(last, off + len);
        }
        uint64_t pos = 0;
        while (pos < last) {
          VK_TRY(n, r->read(buf.data(), buf.size()));
          if (n == 0) return bad_input_at(name, pos, "member ends before its header's size");
          for (auto& [off, bytes] : held) {
            uint64_t lo = std::max(pos, off), hi = std::min<uint64_t>(pos + n, off + bytes.size());
            if (lo < hi) std::memcpy(bytes.data() + (lo - off), buf.data() + (lo - pos), hi - lo);
          }
          pos += n;
        }
        // Merge adjacent/overlapping ranges into disjoint ones for lookups.
        std::map<uint64_t, std::vector<uint8_t>> disjoint;
        for (auto& [off, bytes] : held) {
          if (!disjoint.empty()) {
            auto& [poff, pb] = *disjoint.rbegin();
            if (off <= poff + pb.size()) {
              uint64_t end = off + bytes.size();
              if (end > poff + pb.size()) pb.insert(pb.end(), bytes.begin() + long(poff + pb.size() - off), bytes.end());
              continue;
            }
          }
          disjoint.emplace(off, std::move(bytes));
        }
        m.blob = std::make_shared<StreamBlob>(path, name, m.ordinal, size, std::move(disjoint));
      }
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

int write_set_format(struct archive* w, int code) {
  // The writers of the formats Reader reads, as libarchive's own by-code table pairs them
  // (archive_write_set_format); calling that table would link every writer, xar's libxml2 among them.
  switch (code) {
    case ARCHIVE_FORMAT_TAR: return archive_write_set_format_pax_restricted(w);
    case ARCHIVE_FORMAT_TAR_USTAR: return archive_write_set_format_ustar(w);
    case ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE: return archive_write_set_format_pax(w);
    case ARCHIVE_FORMAT_TAR_PAX_RESTRICTED: return archive_write_set_format_pax_restricted(w);
    case ARCHIVE_FORMAT_TAR_GNUTAR: return archive_write_set_format_gnutar(w);
    case ARCHIVE_FORMAT_CPIO: return archive_write_set_format_cpio(w);
    case ARCHIVE_FORMAT_CPIO_POSIX: return archive_write_set_format_cpio_odc(w);
    case ARCHIVE_FORMAT_CPIO_SVR4_NOCRC: return archive_write_set_format_cpio_newc(w);
  }
  archive_set_error(w, EINVAL, "no writer for archive format %d", code);
  return ARCHIVE_FATAL;
}

int write_add_filter(struct archive* w, int code) {
  switch (code) {
    case ARCHIVE_FILTER_NONE: return archive_write_add_filter_none(w);
    case ARCHIVE_FILTER_GZIP: return archive_write_add_filter_gzip(w);
    case ARCHIVE_FILTER_ZSTD: return archive_write_add_filter_zstd(w);
    case ARCHIVE_FILTER_XZ: return archive_write_add_filter_xz(w);
    case ARCHIVE_FILTER_LZMA: return archive_write_add_filter_lzma(w);
    case ARCHIVE_FILTER_BZIP2: return archive_write_add_filter_bzip2(w);
  }
  archive_set_error(w, EINVAL, "no writer for compression filter %d", code);
  return ARCHIVE_FATAL;
}

bool looks_like_archive(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  auto r = Reader::open(path);
  if (!r) return false;
  auto e = (*r)->next();
  return e && *e;
}

}  // namespace vk::archive
