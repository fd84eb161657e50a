#include "formats/criu/inputs.h"

#include <algorithm>
#include <filesystem>

#include "formats/archive/archive.h"

namespace vk::criu {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 4;

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
    VK_TRY(ar, archive::Archive::open(path));
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
