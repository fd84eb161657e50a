#include "analyzers/exports.h"

#include <algorithm>

#include "formats/common/sha256.h"

namespace vk::analyze {

const char* export_action_name(ExportAction a) {
  switch (a) {
    case ExportAction::Stub: return "stub";
    case ExportAction::Restorer: return "restorer";
    case ExportAction::NoVvar: return "no-vvar";
    case ExportAction::NoForm: return "no-form";
    case ExportAction::TooShort: return "too-short";
  }
  return "?";
}

size_t ExportsPlan::count(ExportAction a) const {
  return size_t(std::count_if(entries.begin(), entries.end(), [a](const ExportDecision& e) { return e.action == a; }));
}

Expected<ExportsPlan> plan_exports(const vdso::Vdso& v, const Restorer& r) {
  if (v.mark) return bad_input_at(v.name, 0, "a CRIU runtime-vDSO mark at offset 0: not a dumped vDSO (vdso-restore.md §5.3)");
  if (!v.elf) return bad_input(v.name, "not an ELF vDSO");
  if (v.abi != vdso::Abi::X86_64 && v.abi != vdso::Abi::I386)
    return bad_input(v.name, std::string("no system-call stubs for the ") + vdso::abi_name(v.abi) + " ABI");

  ExportsPlan p;
  p.abi = v.abi;
  p.restorer = r.name;
  p.before = v.stub_mark ? vdso::without_stubs(v.bytes, *v.stub_mark) : v.bytes;
  p.before_sha256 = sha256_hex(p.before);
  p.after = p.before;

  std::vector<vdso::MarkEntry> originals;
  for (const auto* ep : v.entry_points()) {
    ExportDecision d;
    d.offset = ep->offset;
    d.names.push_back(ep->name);
    for (const auto& s : v.symbols)
      if (s.is_function() && s.offset == ep->offset && s.name != ep->name) d.names.push_back(s.name);
    for (const auto& s : v.symbols)
      if (s.is_function() && s.offset == ep->offset) d.size = std::max(d.size, s.size);
    d.stale_trampoline = vdso::trampoline_at(p.before, ep->offset).has_value();
    bool covered = std::any_of(d.names.begin(), d.names.end(), [&](const std::string& n) { return r.covers(n); });
    const std::string& name = ep->name;
    if (covered) {
      d.action = ExportAction::Restorer;
      d.detail = r.name + " redirects it" + std::string(d.stale_trampoline ? " (over the trampoline an earlier restore left)" : "");
    } else if (!reads_vvar(name)) {
      d.action = ExportAction::NoVvar;
      d.detail = "reads no vvar data: keeps working on the old code";
    } else if (auto form = vdso::syscall_form(v.abi, name); !form) {
      d.action = ExportAction::NoForm;
      d.detail = "reads vvar data, but no system call does the same: stays on the old code";
    } else {
      bool endbr = vdso::endbr_at(p.before, ep->offset, v.abi);
      auto stub = vdso::encode_stub(v.abi, *form);
      uint64_t at = ep->offset + (endbr ? 4 : 0);
      // Only the function's own bytes are overwritten (st_size), and within the image.
      if (at + stub.size() > ep->offset + d.size || at + stub.size() > p.before.size()) {
        d.action = ExportAction::TooShort;
        d.detail = "the function is " + std::to_string(d.size) + " bytes, the stub needs " +
                   std::to_string(stub.size() + (endbr ? 4 : 0)) + ": stays on the old code";
      } else {
        d.action = ExportAction::Stub;
        d.syscall = form->nr;
        d.query_guard = form->query_guard;
        d.endbr_kept = endbr;
        originals.push_back({at, std::vector<uint8_t>(p.before.begin() + long(at), p.before.begin() + long(at + stub.size()))});
        std::copy(stub.begin(), stub.end(), p.after.begin() + long(at));
        d.detail = "system call " + std::to_string(form->nr) + " with the same arguments" +
                   (form->query_guard ? "; the state-size query (opaque_len == ~0) answers -ENOSYS so glibc falls back" : "") +
                   (endbr ? "; endbr kept" : "") + (d.stale_trampoline ? "; replaces a stale trampoline" : "");
      }
    }
    p.entries.push_back(std::move(d));
  }

  if (!originals.empty()) {
    auto mark = vdso::encode_stub_mark(p.before_sha256, r.name, originals);
    uint64_t size = p.before.size();
    if (mark.size() > size || size - mark.size() < v.elf_size)
      return bad_input(v.name, "no room for the vdsokit mark: " + std::to_string(mark.size()) + " bytes needed after the " +
                                   std::to_string(v.elf_size) + "-byte ELF image, the pages hold " + std::to_string(size));
    uint64_t at = size - mark.size();
    if (!std::all_of(p.before.begin() + long(at), p.before.end(), [](uint8_t b) { return b == 0; }))
      return bad_input_at(v.name, at, "the padding after the ELF image is not zero: no room for the vdsokit mark");
    std::copy(mark.begin(), mark.end(), p.after.begin() + long(at));
  }
  p.changed = p.after != v.bytes;
  return p;
}

}  // namespace vk::analyze
