#include "rewriters/overlay.h"

#include <algorithm>
#include <cstring>

namespace vk::rewrite {

namespace {

class PatchedBlob final : public Blob {
 public:
  PatchedBlob(BlobPtr base, std::vector<Patch> patches) : base_(std::move(base)), patches_(std::move(patches)) {}
  const std::string& name() const override { return base_->name(); }
  uint64_t size() const override { return base_->size(); }
  Status read(uint64_t offset, void* out, size_t len) const override {
    VK_CHECK(base_->read(offset, out, len));
    auto* o = static_cast<uint8_t*>(out);
    for (const auto& p : patches_) {
      uint64_t lo = std::max(offset, p.offset), hi = std::min(offset + len, p.offset + p.bytes.size());
      if (lo < hi) std::memcpy(o + (lo - offset), p.bytes.data() + (lo - p.offset), hi - lo);
    }
    return Status::ok();
  }

 private:
  BlobPtr base_;
  std::vector<Patch> patches_;
};

}  // namespace

BlobPtr patched_blob(BlobPtr base, std::vector<Patch> patches) {
  return std::make_shared<PatchedBlob>(std::move(base), std::move(patches));
}

OverlayTree::OverlayTree(TreePtr base, const std::vector<FileEdit>& edits) : base_(std::move(base)) {
  for (const auto& e : edits) {
    if (e.patches.empty()) files_[e.file] = memory_blob(base_->name() + "/" + e.file, e.bytes);
    else patches_[e.file] = e.patches;
  }
}

Expected<BlobPtr> OverlayTree::open(const std::string& f) const {
  if (auto it = files_.find(f); it != files_.end()) return it->second;
  VK_TRY(b, base_->open(f));
  if (auto it = patches_.find(f); it != patches_.end()) return patched_blob(b, it->second);
  return b;
}

}  // namespace vk::rewrite
