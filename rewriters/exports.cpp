#include "rewriters/exports.h"

#include <map>

#include "analyzers/exports.h"
#include "analyzers/inspect.h"
#include "formats/pages/pagestore.h"
#include "rewriters/overlay.h"

namespace vk::rewrite {

namespace {

std::string process_name(const analyze::Process& p) { return "process " + std::to_string(p.pid) + " (" + p.comm + ")"; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Changed byte ranges of `after` against `before` (same size), merged when close.
std::vector<std::pair<uint64_t, uint64_t>> changed_ranges(const std::vector<uint8_t>& before, const std::vector<uint8_t>& after) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t i = 0; i < after.size(); ++i) {
    if (before[i] == after[i]) continue;
    if (!out.empty() && i - out.back().second <= 16) out.back().second = i + 1;
    else out.push_back({i, i + 1});
  }
  return out;
}

}  // namespace

Expected<SetPlan> plan_exports_set(const criu::ImageSet& set, const std::string& label, const analyze::Restorer& r) {
  VK_TRY(report, analyze::inspect(set, label));
  SetPlan plan;
  std::map<std::string, std::vector<Patch>> patches;       // pages file -> patches
  std::map<std::string, std::vector<std::string>> details;
  struct Expect {
    uint32_t pid;
    uint64_t start;
    std::vector<uint8_t> bytes;
    bool stubs;
  };
  std::vector<Expect> expected;
  for (const auto& p : report.processes) {
    if (p.vdso_vmas.empty()) {
      plan.notes.push_back(process_name(p) + ": no vDSO, nothing to do");
      continue;
    }
    if (!p.vdso) return bad_input(label, process_name(p) + ": the vDSO cannot be read: " + p.vdso_error.value_or("?"));
    for (const auto& pl : p.vdso_places)
      if (pl.depth > 0) {
        Error e = bad_input(label, process_name(p) + ": its vDSO pages are stored in the parent image set (PE_PARENT, " +
                                       std::to_string(pl.depth) + " level(s) up, " + pl.pages_file +
                                       "), which every dump of the chain refers to; stubs written there would change those dumps "
                                       "too. Nothing rewritten. Dump without a parent (no --prev-images-dir), or restore with "
                                       "`vdsokit fixup` (docs/fix-a-restore.md)");
        e.exit_code = kExitBlocked;
        return e;
      }
    VK_TRY(ex, analyze::plan_exports(*p.vdso, r));
    std::vector<std::string> stubbed, restorer, novvar, problems;
    for (const auto& d : ex.entries) {
      const std::string& n = d.names.front();
      switch (d.action) {
        case analyze::ExportAction::Stub: stubbed.push_back(n + " -> syscall " + std::to_string(d.syscall)); break;
        case analyze::ExportAction::Restorer: restorer.push_back(n); break;
        case analyze::ExportAction::NoVvar: novvar.push_back(n); break;
        default: problems.push_back(n + " (" + d.detail + ")"); break;
      }
    }
    std::string who = process_name(p) + ", " + vdso::abi_name(ex.abi);
    if (!restorer.empty()) plan.notes.push_back(who + ": left to " + r.name + ": " + join(restorer));
    if (!novvar.empty()) plan.notes.push_back(who + ": left, they read no vvar data: " + join(novvar));
    for (const auto& pr : problems) plan.notes.push_back(who + ": warning: left on old code: " + pr);
    if (!ex.changed) {
      plan.notes.push_back(who + ": unchanged" + (stubbed.empty() ? " (nothing to stub)" : ", stubs already in place: " + join(stubbed)));
      continue;
    }
    // Map every changed byte of the vDSO to its place in this set's pages file.
    const auto& vma = p.vdso_vmas.back();
    VK_TRY(store, pages::PageStore::open(set, p.pid));
    VK_TRY(read, store.read(vma.start, vma.size()));
    std::string file = criu::pages_file(store.pagemap().pages_id);
    for (auto [lo, hi] : changed_ranges(p.vdso->bytes, ex.after)) {
      for (uint64_t at = lo; at < hi;) {
        uint64_t addr = vma.start + at;
        const pages::Origin* o = nullptr;
        for (const auto& og : read.origins)
          if (addr >= og.addr && addr < og.addr + og.len) o = &og;
        if (!o || o->depth != 0)
          return bad_input(label, process_name(p) + ": vDSO byte " + hex(addr) + " is not stored in " + file);
        uint64_t n = std::min(hi - at, o->addr + o->len - addr);
        patches[file].push_back(Patch{o->pages_offset + (addr - o->addr),
                                      std::vector<uint8_t>(ex.after.begin() + long(at), ex.after.begin() + long(at + n))});
        at += n;
      }
    }
    details[file].push_back(process_name(p) + ": " + (stubbed.empty() ? std::string("stubs removed") : join(stubbed)) +
                            " (vdsokit mark, original sha256 " + ex.before_sha256.substr(0, 12) + "…)");
    expected.push_back({p.pid, vma.start, ex.after, !stubbed.empty()});
  }
  for (auto& [file, ps] : patches) {
    std::string detail;
    for (const auto& d : details[file]) detail += (detail.empty() ? "" : "; ") + d;
    plan.edits.push_back(FileEdit{file, {}, detail, std::move(ps)});
  }
  if (plan.edits.empty()) return plan;
  // The proof before any write: read the vDSOs back through the planned patches.
  auto overlay = std::make_shared<OverlayTree>(set.tree_ptr(), plan.edits);
  VK_TRY(after_set, criu::ImageSet::open(overlay));
  for (const auto& e : expected) {
    VK_TRY(store, pages::PageStore::open(after_set, e.pid));
    VK_TRY(read, store.read(e.start, e.bytes.size()));
    if (read.bytes != e.bytes)
      return bad_input(label, "internal error: the patched pages do not read back as planned for process " + std::to_string(e.pid) +
                                  "; nothing written");
    VK_TRY(v, vdso::parse(label, std::move(read.bytes)));
    if (e.stubs && (!v.stub_mark || v.stubs.size() != v.stub_mark->entries.size())) return bad_input(label, "internal error: the rewritten vDSO does not show its stubs and mark; nothing written");
  }
  return plan;
}

}  // namespace vk::rewrite
