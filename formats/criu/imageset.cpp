#include "formats/criu/imageset.h"

#include <set>

namespace vk::criu {

std::string mm_file(uint32_t pid) { return "mm-" + std::to_string(pid) + ".img"; }
std::string core_file(uint32_t tid) { return "core-" + std::to_string(tid) + ".img"; }
std::string pagemap_file(uint32_t pid) { return "pagemap-" + std::to_string(pid) + ".img"; }
std::string pages_file(uint32_t id) { return "pages-" + std::to_string(id) + ".img"; }

bool is_image_set(const Tree& tree) { return tree.has("inventory.img"); }

Expected<Image> open_image(const Tree& tree, const std::string& file, uint64_t limit) {
  VK_TRY(blob, tree.open(file));
  return read_image(*blob, limit);
}

namespace {

Status expect_magic(const Image& img, uint32_t magic) {
  if (img.magic != magic)
    return bad_input_at(img.name, img.head ? 4 : 0,
                        "wrong magic " + hex(img.magic) + ", expected " + hex(magic) + " (" +
                            std::string(magic_name(magic)) + ")");
  return Status::ok();
}

template <class Msg>
Expected<Msg> single(const Tree& tree, const std::string& file, uint32_t magic) {
  VK_TRY(img, open_image(tree, file, kMaxMessageImageBytes));
  VK_CHECK(expect_magic(img, magic));
  Msg msg;
  VK_CHECK(decode_entry(img, 0, msg));
  return msg;
}

}  // namespace

std::string Pagemap::schema() const {
  size_t f5 = 0;
  for (const auto& r : runs) f5 += r.count_in_field5;
  if (runs.empty()) return "empty";
  if (f5 == runs.size()) return "4.2";
  if (f5 == 0) return "4.1";
  return "mixed";
}

Expected<Pagemap> parse_pagemap(const Image& img) {
  VK_CHECK(expect_magic(img, kPagemapMagic));
  Pagemap pm;
  pm.file = img.name;
  img::pagemap_head head;
  VK_CHECK(decode_entry(img, 0, head));
  pm.pages_id = head.pages_id();
  uint64_t offset = 0;
  for (size_t i = 1; i < img.entries.size(); ++i) {
    img::pagemap_entry e;
    VK_CHECK(decode_entry(img, i, e));
    PageRun r;
    r.vaddr = e.vaddr();
    r.index = i - 1;
    r.file_offset = img.entries[i].offset;
    r.count_in_field5 = e.has_nr_pages();
    r.nr_pages = e.has_nr_pages() ? e.nr_pages() : e.compat_nr_pages();
    r.legacy_in_parent = e.has_in_parent() && e.in_parent();
    r.flags_present = e.has_flags();
    r.flags = e.has_flags() ? e.flags() : 0;
    // Normalisation CRIU applies on load: in_parent -> PE_PARENT; no flags -> PE_PRESENT.
    if (r.legacy_in_parent) r.flags |= kPeParent;
    else if (!e.has_flags()) r.flags = kPePresent;
    if (r.vaddr % kPageSize != 0)
      return bad_input_at(img.name, r.file_offset, "pagemap entry vaddr " + hex(r.vaddr) + " is not page aligned");
    if (r.nr_pages > (UINT64_MAX - r.vaddr) / kPageSize)
      return bad_input_at(img.name, r.file_offset, "pagemap entry of " + std::to_string(r.nr_pages) +
                                                       " pages wraps the address space");
    if (!pm.runs.empty() && r.vaddr < pm.runs.back().end())
      return bad_input_at(img.name, r.file_offset, "pagemap entries overlap or are out of order at " + hex(r.vaddr));
    if (r.flags & kPePresent) {
      r.pages_offset = offset;
      offset += r.nr_pages * kPageSize;
    }
    pm.runs.push_back(r);
  }
  return pm;
}

Expected<ImageSet> ImageSet::open(TreePtr tree) {
  ImageSet set;
  set.tree_ = tree;
  // A vdsokit rewrite committed here but was interrupted before all its renames: the files are a mix
  // of old and new until a rewrite run finishes it (rewriters/transaction.h). Never read a mix.
  if (tree->has(".vdsokit-journal"))
    return bad_input(tree->name() + "/.vdsokit-journal",
                     "an interrupted vdsokit rewrite is committed but not finished; run `vdsokit rewrite` on this "
                     "set again to finish it before reading");
  VK_TRY(inv, single<img::inventory_entry>(*tree, "inventory.img", kInventoryMagic));
  set.inventory_ = std::move(inv);
  VK_TRY(ps, open_image(*tree, "pstree.img"));
  VK_CHECK(expect_magic(ps, kPstreeMagic));
  // A pid or thread id listed twice makes every reader redo that process's work (issue 12, D11: one
  // pid 40 times cost 18 s and 2.5 GB); CRIU cannot restore such a tree either.
  std::set<uint32_t> pids, tids;
  for (size_t i = 0; i < ps.entries.size(); ++i) {
    img::pstree_entry e;
    VK_CHECK(decode_entry(ps, i, e));
    if (!pids.insert(e.pid()).second)
      return bad_input_at(ps.name, ps.entries[i].offset, "pstree entry #" + std::to_string(i) + ": pid " +
                                                             std::to_string(e.pid()) + " is listed twice");
    for (uint32_t t : e.threads())
      if (!tids.insert(t).second)
        return bad_input_at(ps.name, ps.entries[i].offset, "pstree entry #" + std::to_string(i) + ": thread " +
                                                               std::to_string(t) + " is listed twice");
    set.pstree_.push_back(std::move(e));
  }
  return set;
}

Expected<img::mm_entry> read_mm(const Tree& tree, uint32_t pid) { return single<img::mm_entry>(tree, mm_file(pid), kMmMagic); }

Expected<img::mm_entry> ImageSet::mm(uint32_t pid) const { return read_mm(*tree_, pid); }

Expected<img::core_entry> ImageSet::core(uint32_t tid) const {
  return single<img::core_entry>(*tree_, core_file(tid), kCoreMagic);
}

Expected<Pagemap> ImageSet::pagemap(uint32_t pid) const {
  VK_TRY(img, open_image(*tree_, pagemap_file(pid)));
  return parse_pagemap(img);
}

Expected<std::shared_ptr<ImageSet>> ImageSet::parent() const {
  VK_TRY(ptree, tree_->follow("parent"));
  if (!ptree) return std::shared_ptr<ImageSet>();
  // A pre-dump directory has no pstree.img; only the pagemaps and pages matter there.
  auto p = std::make_shared<ImageSet>();
  p->tree_ = ptree;
  return p;
}

}  // namespace vk::criu
