#include "rewriters/vvar.h"

#include <algorithm>

#include "rewriters/overlay.h"
#include "rewriters/wire.h"

namespace vk::rewrite {

namespace {

// mm_entry and vma_entry field numbers (docs/criu-images.md §2.1, §2.2).
constexpr uint32_t kMmVmas = 14;
constexpr uint32_t kVmaStart = 1, kVmaEnd = 2, kVmaStatus = 7;

struct VmaField {
  size_t slot = 0;               // index in the mm entry's field list
  uint64_t start = 0, end = 0, status = 0;
  std::vector<wire::Field> fields;
};

std::string process_name(const analyze::ProcessCheck& p) { return "process " + std::to_string(p.pid) + " (" + p.comm + ")"; }

}  // namespace

Expected<std::vector<uint8_t>> retarget_mm(const criu::Image& img, uint64_t old_start, uint64_t old_end,
                                           uint64_t new_start, uint64_t new_size) {
  if (img.magic != criu::kMmMagic) return bad_input_at(img.name, 0, "not an mm image");
  if (img.entries.empty()) return bad_input(img.name, "mm image has no entry");
  const criu::Entry& entry = img.entries[0];
  VK_TRY(fields, wire::split(entry.payload, img.name, entry.offset + 4));
  std::vector<VmaField> vmas;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].number != kMmVmas) continue;
    if (fields[i].type != wire::kLen) return bad_input_at(img.name, entry.offset, "mm entry field 14 (vmas) is not a message");
    VmaField v;
    v.slot = i;
    VK_TRY(inner, wire::split(fields[i].body(), img.name, entry.offset + 4));
    for (const auto& f : inner) {
      if (f.type != wire::kVarint) continue;
      if (f.number == kVmaStart) v.start = f.varint;
      if (f.number == kVmaEnd) v.end = f.varint;
      if (f.number == kVmaStatus) v.status = f.varint;
    }
    v.fields = std::move(inner);
    vmas.push_back(std::move(v));
  }
  // CRIU takes the last VVAR VmaEntry (vdso-restore.md §6.2); more than one is not an image CRIU writes.
  size_t nvvar = std::count_if(vmas.begin(), vmas.end(), [](const VmaField& v) { return v.status & criu::kVmaVvar; });
  if (nvvar != 1)
    return bad_input_at(img.name, entry.offset, std::to_string(nvvar) + " VVAR VMAs in the mm image; the retarget needs exactly one");
  auto it = std::find_if(vmas.begin(), vmas.end(), [&](const VmaField& v) {
    return (v.status & criu::kVmaVvar) && v.start == old_start && v.end == old_end;
  });
  if (it == vmas.end())
    return bad_input_at(img.name, entry.offset, "no VVAR VMA " + hex(old_start) + "-" + hex(old_end) + " in the mm image");
  for (auto& f : it->fields) {
    if (f.type != wire::kVarint) continue;
    if (f.number == kVmaStart) f = wire::varint_field(kVmaStart, new_start);
    if (f.number == kVmaEnd) f = wire::varint_field(kVmaEnd, new_start + new_size);
  }
  it->start = new_start;
  it->end = new_start + new_size;
  // Keep the list ascending (CRIU writes smaps order, §2.2): the moved VMA takes its new rank, and the
  // field-14 slots of the entry are refilled in that order; every other mm field stays where it was.
  std::vector<size_t> slots;
  for (const auto& v : vmas) slots.push_back(v.slot);
  std::stable_sort(vmas.begin(), vmas.end(), [](const VmaField& a, const VmaField& b) { return a.start < b.start; });
  for (size_t i = 0; i < vmas.size(); ++i) fields[slots[i]] = wire::len_field(kMmVmas, wire::join(vmas[i].fields));
  for (size_t i = 1; i < vmas.size(); ++i)
    if (vmas[i].start < vmas[i - 1].end)
      return bad_input_at(img.name, entry.offset, "the retargeted vvar " + hex(new_start) + "-" + hex(new_start + new_size) +
                                                      " overlaps VMA " + hex(vmas[i - 1].start) + "-" + hex(vmas[i - 1].end));
  criu::Image out = img;
  out.entries[0].payload = wire::join(fields);
  auto bytes = criu::write_image(out);
  // Decode what will be written with the real schema: it must be a valid mm_entry.
  VK_TRY(check_img, criu::parse_image(img.name, bytes));
  img::mm_entry mm;
  VK_CHECK(criu::decode_entry(check_img, 0, mm));
  return bytes;
}

Expected<SetPlan> plan_vvar(const criu::ImageSet& set, const std::string& label, const catalog::Catalog& cat,
                            const std::string& target, const analyze::Restorer& r, bool force) {
  return plan_vvar(set, label, analyze::Checker(cat, target, r), force);
}

Expected<SetPlan> plan_vvar(const criu::ImageSet& set, const std::string& label, const analyze::Checker& checker, bool force) {
  VK_TRY(before, checker.check(set, label));
  SetPlan plan;
  for (const auto& p : before.processes) {
    const auto& o = p.outcome;
    if (o.verdict == analyze::Verdict::Inplace) {
      plan.notes.push_back(process_name(p) + ": already in place on " + o.target + " under " + o.restorer);
      continue;
    }
    if (o.verdict != analyze::Verdict::Retargetable || !o.retarget) {
      std::string why;
      for (const auto& f : o.findings)
        if (why.empty() && (f.severity == analyze::Severity::Error || f.code == "VK007" || f.code == "VK002"))
          why = f.code + ": " + f.message;
      Error e = bad_input(label, process_name(p) + " is " + analyze::verdict_name(o.verdict) + " on " + o.target + " under " +
                                     o.restorer + ", not retargetable; nothing rewritten" + (why.empty() ? "" : " (" + why + ")"));
      e.exit_code = o.verdict == analyze::Verdict::Blocked ? kExitBlocked : kExitFindings;
      return e;
    }
    std::string file = criu::mm_file(p.pid);
    VK_TRY(mm, set.mm(p.pid));
    const img::vma_entry* vvar = nullptr;
    for (const auto& v : mm.vmas())
      if (v.status() & criu::kVmaVvar) vvar = &v;
    if (!vvar) return bad_input(label + "/" + file, "retargetable verdict but no VVAR VMA");
    VK_TRY(img, criu::open_image(set.tree(), file));
    VK_TRY(bytes, retarget_mm(img, vvar->start(), vvar->end(), o.retarget->vvar_start, o.retarget->vvar_size));
    plan.edits.push_back(FileEdit{file, std::move(bytes),
                                  "vvar " + hex(vvar->start()) + "-" + hex(vvar->end()) + " -> " + hex(o.retarget->vvar_start) + "-" +
                                      hex(o.retarget->vvar_start + o.retarget->vvar_size) + " (" +
                                      std::to_string((vvar->end() - vvar->start()) / criu::kPageSize) + " -> " +
                                      std::to_string(o.retarget->vvar_size / criu::kPageSize) + " pages) for " + process_name(p)});
  }
  if (plan.edits.empty()) return plan;
  // The proof before any write: the rewritten set, read back, restores in place for every process.
  VK_TRY(after_set, criu::ImageSet::open(std::make_shared<OverlayTree>(set.tree_ptr(), plan.edits)));
  VK_TRY(after, checker.check(after_set, label));
  for (const auto& p : after.processes) {
    if (p.outcome.verdict != analyze::Verdict::Inplace)
      return bad_input(label, "internal error: after the retarget " + process_name(p) + " is " +
                                  analyze::verdict_name(p.outcome.verdict) + ", not inplace; nothing written");
    // In place by the restorer's rule can still leave an uncompared export moved (VK005): a call then
    // jumps into other code, where the proxy would have kept the old code running. Refuse that trade
    // unless forced, and say so either way.
    for (const auto& f : p.outcome.findings) {
      if (f.severity == analyze::Severity::Error && !force) {
        Error e = bad_input(label, process_name(p) + ": after the vvar rewrite the restore would be in place but still carry " +
                                       f.code + " (" + f.message + "); that is worse than the proxy it replaces, nothing written. "
                                       "--force writes it anyway; `vdsokit rewrite exports` repairs the proxy instead");
        e.exit_code = kExitFindings;
        return e;
      }
      if (f.severity != analyze::Severity::Info)
        plan.notes.push_back(process_name(p) + " after the rewrite: " + f.code + " " + analyze::severity_name(f.severity) + ": " + f.message +
                             (f.severity == analyze::Severity::Error ? " (written because of --force)" : ""));
    }
  }
  return plan;
}

}  // namespace vk::rewrite
