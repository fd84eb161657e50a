#include "formats/criu/inputs.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <filesystem>
#include <optional>

#include "formats/archive/archive.h"
#include "formats/criu/magic.h"

namespace vk::criu {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 4;

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// The number in "<prefix><n>.img", or nullopt.
std::optional<uint32_t> number_in(const std::string& base, const char* prefix) {
  if (!starts_with(base, prefix) || !ends_with(base, ".img")) return std::nullopt;
  std::string digits = base.substr(std::strlen(prefix), base.size() - std::strlen(prefix) - 4);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return uint32_t(std::stoul(digits));
}

// Byte ranges of pages-<id>.img in `folder` that hold vDSO pages of the processes whose pagemap
// (pages_id = id) and mm images were already read (criu-images.md §1.5: present runs are stored in
// pagemap order). Anything unreadable here is left to the on-demand read.
std::vector<std::pair<uint64_t, uint64_t>> vdso_ranges(const archive::Archive& so_far, const std::string& folder, uint32_t id) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  auto tree = so_far.tree(folder);
  for (const auto& f : tree->files()) {
    auto pid = number_in(f, "pagemap-");
    if (!pid) continue;
    auto img = open_image(*tree, f);
    if (!img) continue;
    auto pm = parse_pagemap(*img);
    if (!pm || pm->pages_id != id) continue;
    auto mm = read_mm(*tree, *pid);
    if (!mm) continue;
    for (const auto& v : mm->vmas()) {
      if (!(v.status() & kVmaVdso)) continue;
      for (const auto& r : pm->runs) {
        if (!(r.flags & kPePresent)) continue;
        uint64_t lo = std::max<uint64_t>(r.vaddr, v.start()), hi = std::min<uint64_t>(r.end(), v.end());
        if (lo < hi) out.emplace_back(r.pages_offset + (lo - r.vaddr), hi - lo);
      }
    }
  }
  return out;
}

archive::Keep keep_images(const std::string& path, uint64_t, const archive::Archive& so_far) {
  auto slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (auto id = number_in(base, "pages-")) return {archive::Keep::Ranges, vdso_ranges(so_far, folder, *id)};
  if (ends_with(base, ".img")) return {archive::Keep::Whole, {}};
  return {archive::Keep::Nothing, {}};
}

bool holds_set(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "inventory.img", ec) && fs::is_regular_file(dir / "pstree.img", ec);
}

// A checkpoint archive in a folder of checkpoints, by name (Podman --export, kubelet checkpoints);
// content decides when it is opened (archive::Archive::open says what it found otherwise).
bool archive_name(const fs::path& p) {
  std::string n = p.filename().string();
  for (const char* ext : {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2"})
    if (n.size() > std::string_view(ext).size() && n.ends_with(ext)) return true;
  return false;
}

struct Found {
  fs::path path;
  bool archive = false;
};

void walk(const fs::path& dir, int depth, std::vector<Found>& out) {
  if (holds_set(dir)) {
    out.push_back({dir, false});
    return;
  }
  if (depth == kMaxDepth) return;
  std::vector<fs::path> subdirs, archives;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_symlink(ec)) continue;
    if (e.is_directory(ec)) subdirs.push_back(e.path());
    else if (e.is_regular_file(ec) && archive_name(e.path())) archives.push_back(e.path());
  }
  std::sort(subdirs.begin(), subdirs.end());
  std::sort(archives.begin(), archives.end());
  for (auto& a : archives) out.push_back({a, true});
  for (auto& d : subdirs) walk(d, depth + 1, out);
}

std::string file_kind(const std::string& path);

// Whether a file starts like an archive or a compressed stream (tar's "ustar" at 257, gzip, zstd, xz,
// bzip2 magic): then its own open error (limit, offset) is the one to report.
bool archive_magic(const std::string& path) {
  auto blob = open_file(path);
  if (!blob) return false;
  uint8_t h[264] = {};
  size_t n = size_t(std::min<uint64_t>((*blob)->size(), sizeof h));
  if (!(*blob)->read(0, h, n)) return false;
  auto at = [&](size_t off, std::initializer_list<uint8_t> m) {
    if (off + m.size() > n) return false;
    size_t i = off;
    for (uint8_t b : m)
      if (h[i++] != b) return false;
    return true;
  };
  return at(0, {0x1f, 0x8b}) || at(0, {0x28, 0xb5, 0x2f, 0xfd}) || at(0, {0xfd, '7', 'z', 'X', 'Z', 0}) || at(0, {'B', 'Z', 'h'}) ||
         at(257, {'u', 's', 't', 'a', 'r'});
}

// The sets of one archive, each with the container metadata at the archive's root (Podman/CRI-O
// keep the images under checkpoint/ and config.dump/spec.dump at the top).
Expected<std::vector<Input>> archive_sets(const std::string& path) {
  auto opened = open_archive(path);
  if (!opened) {
    // An archive that fails keeps its own error (offset, limit); anything else says what it is.
    if (archive_magic(path)) return opened.error();
    return bad_input(path, "expected an image directory, a folder of image sets or a checkpoint archive; found " + file_kind(path));
  }
  auto ar = opened.take();
  std::vector<Input> inputs;
  VK_TRY(meta, container_meta(*ar->tree("")));
  for (const auto& folder : ar->folders_with("pstree.img")) {
    auto tree = ar->tree(folder);
    if (tree->has("inventory.img")) inputs.push_back(Input{tree->name(), tree, meta, path});
  }
  if (inputs.empty()) return bad_input(path, "no CRIU image set found in the archive (no folder with inventory.img and pstree.img)");
  return inputs;
}

// An unpacked Podman/CRI-O checkpoint: the set is checkpoint/, the metadata one level up.
Expected<std::optional<ContainerMeta>> dir_meta(const fs::path& set_dir) {
  if (set_dir.filename() != "checkpoint") return std::optional<ContainerMeta>();
  VK_TRY(parent, open_directory(set_dir.parent_path().string()));
  return container_meta(*parent);
}

// What a regular file is when it is not a checkpoint archive, by its first bytes: the error then
// says what was expected and what was found.
std::string file_kind(const std::string& path) {
  auto blob = open_file(path);
  if (!blob) return "a file that cannot be read";
  uint8_t head[512] = {};
  size_t n = size_t(std::min<uint64_t>((*blob)->size(), sizeof head));
  if (n == 0) return "an empty file";
  if (!(*blob)->read(0, head, n)) return "a file that cannot be read";
  uint32_t w0 = 0, w1 = 0;
  if (n >= 4) std::memcpy(&w0, head, 4);
  if (n >= 8) std::memcpy(&w1, head + 4, 4);
  if (w0 == kInventoryMagic || ((w0 == kCommonMagic || w0 == kServiceMagic) && !magic_name(w1).empty()))
    return "a single CRIU image (" + std::string(magic_name(w0 == kInventoryMagic ? w0 : w1)) +
           "): give the directory that holds the image set, or `vdsokit decode` for one image";
  if (n >= 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F')
    return "an ELF file (a vDSO? `vdsokit identify` and `vdsokit diff` take one)";
  bool text = true;
  for (size_t i = 0; i < n; ++i)
    if (head[i] == 0 || (head[i] < 0x20 && head[i] != '\n' && head[i] != '\r' && head[i] != '\t')) text = false;
  if (text) return "a text file";
  return "a file that is neither an image directory nor an archive libarchive reads";
}

// What a path holds that is not an image set, for the error message.
std::string found_kind(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "a directory without one (no folder with inventory.img and pstree.img, and no .tar archive, within " + std::to_string(kMaxDepth) + " levels)";
  return "a file that is neither an image directory nor an archive";
}

}  // namespace

std::vector<std::string> unit_paths(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> out;
  if (fs::is_directory(path, ec)) {
    std::vector<Found> found;
    walk(path, 0, found);
    for (auto& f : found) out.push_back(f.path.string());   // set folders and archives alike
  }
  if (out.empty()) out.push_back(path);
  return out;
}

Expected<std::shared_ptr<archive::Archive>> open_archive(const std::string& path) {
  return archive::Archive::open(path, keep_images);
}

Expected<std::vector<Input>> discover(const std::string& path) {
  std::error_code ec;
  std::vector<Input> inputs;
  if (fs::is_directory(path, ec)) {
    std::vector<Found> found;
    walk(path, 0, found);
    for (auto& f : found) {
      if (f.archive) {
        VK_TRY(sets, archive_sets(f.path.string()));
        for (auto& s : sets) inputs.push_back(std::move(s));
        continue;
      }
      VK_TRY(tree, open_directory(f.path.string()));
      VK_TRY(meta, dir_meta(f.path));
      inputs.push_back(Input{f.path.string(), tree, meta, ""});
    }
  } else if (fs::is_regular_file(path, ec)) {
    return archive_sets(path);
  } else {
    return bad_input(path, "no such file or directory");
  }
  if (inputs.empty()) return bad_input(path, "expected a CRIU image set, found " + found_kind(path));
  return inputs;
}

Expected<std::vector<OpenSet>> open_sets(const std::vector<std::string>& paths) {
  std::vector<OpenSet> sets;
  for (const auto& path : paths) {
    VK_TRY(inputs, discover(path));
    for (const auto& in : inputs) {
      VK_TRY(set, ImageSet::open(in.tree));
      sets.push_back(OpenSet{in.label, std::move(set), in.container});
    }
  }
  return sets;
}

std::vector<SetOrError> open_each(const std::vector<std::string>& paths) {
  std::vector<SetOrError> out;
  auto add_error = [&](const std::string& label, Error e) { out.push_back(SetOrError{label, std::nullopt, std::move(e), std::nullopt}); };
  for (const auto& path : paths) {
    std::error_code ec;
    std::vector<Input> inputs;
    if (fs::is_directory(path, ec)) {
      // A folder of many checkpoints: one unreadable archive is one error, the others still count.
      std::vector<Found> found;
      walk(path, 0, found);
      if (found.empty()) add_error(path, bad_input(path, "expected a CRIU image set, found " + found_kind(path)));
      for (auto& f : found) {
        if (f.archive) {
          auto sets = archive_sets(f.path.string());
          if (!sets) add_error(f.path.string(), sets.error());
          else for (auto& s : *sets) inputs.push_back(std::move(s));
          continue;
        }
        auto tree = open_directory(f.path.string());
        auto meta = dir_meta(f.path);
        if (!tree) add_error(f.path.string(), tree.error());
        else if (!meta) add_error(f.path.string(), meta.error());
        else inputs.push_back(Input{f.path.string(), *tree, *meta, ""});
      }
    } else {
      auto found = discover(path);
      if (!found) add_error(path, found.error());
      else inputs = found.take();
    }
    for (auto& in : inputs) {
      auto set = ImageSet::open(in.tree);
      if (!set) out.push_back(SetOrError{in.label, std::nullopt, set.error(), in.container});
      else out.push_back(SetOrError{in.label, set.take(), std::nullopt, in.container});
    }
  }
  return out;
}

}  // namespace vk::criu
