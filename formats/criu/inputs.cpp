#include "formats/criu/inputs.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include "formats/archive/archive.h"

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

void walk(const fs::path& dir, int depth, std::vector<fs::path>& out) {
  if (holds_set(dir)) {
    out.push_back(dir);
    return;
  }
  if (depth == kMaxDepth) return;
  std::vector<fs::path> subdirs;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && !e.is_symlink(ec)) subdirs.push_back(e.path());
  std::sort(subdirs.begin(), subdirs.end());
  for (auto& d : subdirs) walk(d, depth + 1, out);
}

}  // namespace

std::vector<std::string> unit_paths(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> out;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> dirs;
    walk(path, 0, dirs);
    for (auto& d : dirs) out.push_back(d.string());
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
    std::vector<fs::path> dirs;
    walk(path, 0, dirs);
    for (auto& d : dirs) {
      VK_TRY(tree, open_directory(d.string()));
      inputs.push_back(Input{d.string(), tree});
    }
  } else if (fs::is_regular_file(path, ec)) {
    VK_TRY(ar, open_archive(path));
    for (const auto& folder : ar->folders_with("pstree.img")) {
      auto tree = ar->tree(folder);
      if (tree->has("inventory.img")) inputs.push_back(Input{tree->name(), tree});
    }
  } else {
    return bad_input(path, "no such file or directory");
  }
  if (inputs.empty()) return bad_input(path, "no CRIU image set found (no folder with inventory.img and pstree.img)");
  return inputs;
}

Expected<std::vector<OpenSet>> open_sets(const std::vector<std::string>& paths) {
  std::vector<OpenSet> sets;
  for (const auto& path : paths) {
    VK_TRY(inputs, discover(path));
    for (const auto& in : inputs) {
      VK_TRY(set, ImageSet::open(in.tree));
      sets.push_back(OpenSet{in.label, std::move(set)});
    }
  }
  return sets;
}

}  // namespace vk::criu
