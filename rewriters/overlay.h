// An image set's folder with some files replaced in memory by planned edits (whole contents or
// patches over the original bytes). A rewriter opens and checks the rewritten set through this before
// anything is written.
#pragma once

#include <map>
#include <vector>

#include "formats/common/source.h"
#include "rewriters/plan.h"

namespace vk::rewrite {

class OverlayTree final : public Tree {
 public:
  OverlayTree(TreePtr base, const std::vector<FileEdit>& edits);
  const std::string& name() const override { return base_->name(); }
  std::vector<std::string> files() const override { return base_->files(); }
  bool has(const std::string& f) const override { return files_.count(f) || base_->has(f); }
  Expected<BlobPtr> open(const std::string& f) const override;
  Expected<std::shared_ptr<const Tree>> follow(const std::string& link) const override { return base_->follow(link); }
  std::string identity() const override { return base_->identity(); }

 private:
  TreePtr base_;
  std::map<std::string, BlobPtr> files_;
  std::map<std::string, std::vector<Patch>> patches_;
};

// `base` read through `patches` (each patch must lie inside the blob).
BlobPtr patched_blob(BlobPtr base, std::vector<Patch> patches);

}  // namespace vk::rewrite
