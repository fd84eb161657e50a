// vdsokit plan (--vdso OLD.so --proxy-at ADDR | --image DIR [--pid N]) --target host|NEW.so [--target-maps MAPS]
//               [--at ADDR] [--proxy-at ADDR] [--orig-vvar ADDR|none] [--format text|json] [-o FILE]
//
// The runtime plan (docs/runtime-plan.md) that redirects an old vDSO to a kernel's vDSO: where the
// new [vvar]/[vvar_vclock]/[vdso] go, one trampoline per exported entry, what stays unresolved. Text
// is the runtime's own form (vk_rt_plan_format, '#' comments explain each entry); JSON adds the
// per-entry facts. Exit 1 when some function cannot be redirected (docs/cli.md).
#include <iostream>
#include "formats/common/text.h"

#include "analyzers/inspect.h"
#include "analyzers/runtime_plan.h"
#include "cli/common.h"
#include "cli/selftest.h"
#include "formats/common/source.h"
#include "formats/criu/inputs.h"

namespace vk::cli {
namespace {

struct PlanOpts {
  std::string vdso, image, target = "host", target_maps, at, proxy_at, orig_vvar, format, output, helper32;
  uint32_t pid = 0;
};

Expected<uint64_t> parse_addr(const std::string& opt, const std::string& s) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(s, &used, 0);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  return usage_error(opt + ": '" + s + "' is not an address (0x... or decimal)");
}

Expected<std::vector<uint8_t>> read_bytes(const std::string& path, uint64_t limit) {
  VK_TRY(blob, open_file(path));
  return blob->read_all(limit);
}

// The old vDSO and where the restored process holds it.
struct Old {
  vdso::Vdso v;
  uint64_t addr = 0, size = 0;
  std::optional<uint64_t> vvar, vvar_size;
};

Expected<Old> old_from_image(const PlanOpts& o) {
  VK_TRY(sets, criu::open_sets({o.image}));
  if (sets.empty()) return bad_input(o.image, "no image set");
  if (sets.size() > 1) return usage_error(o.image + " holds " + std::to_string(sets.size()) + " image sets; name one");
  const auto& set = sets.front().set;
  for (const auto& ps : set.pstree()) {
    if (o.pid && ps.pid() != o.pid) continue;
    VK_TRY(p, analyze::inspect_process(set, ps));
    if (!p.vdso) {
      if (o.pid) return bad_input(o.image, "process " + std::to_string(o.pid) + ": " + p.vdso_error.value_or("no vDSO"));
      continue;
    }
    Old old;
    old.addr = p.vdso_vmas.back().start;   // the last VDSO VMA, as CRIU uses (§6.2)
    old.size = p.vdso_vmas.back().size();
    if (!p.vvar_vmas.empty()) old.vvar = p.vvar_vmas.back().start, old.vvar_size = p.vvar_vmas.back().size();
    old.v = std::move(*p.vdso);
    return old;
  }
  return bad_input(o.image, o.pid ? "no process " + std::to_string(o.pid) : std::string("no process with a vDSO"));
}

int run_plan(const PlanOpts& o) {
  Old old;
  if (!o.vdso.empty()) {
    if (o.proxy_at.empty()) return report(usage_error("--vdso needs --proxy-at: where the restored process holds those bytes"));
    auto bytes = read_bytes(o.vdso, 1 << 20);
    if (!bytes) return report(bytes.error());
    auto v = vdso::parse(o.vdso, bytes.take());
    if (!v) return report(v.error());
    old.v = v.take();
  } else {
    auto r = old_from_image(o);
    if (!r) return report(r.error());
    old = r.take();
  }
  if (!o.proxy_at.empty()) {
    auto a = parse_addr("--proxy-at", o.proxy_at);
    if (!a) return report(a.error());
    old.addr = *a;
  }
  if (!o.orig_vvar.empty()) {
    if (o.orig_vvar == "none") {
      old.vvar.reset(), old.vvar_size.reset();
    } else {
      auto a = parse_addr("--orig-vvar", o.orig_vvar);
      if (!a) return report(a.error());
      old.vvar = *a, old.vvar_size.reset();
    }
  }

  Expected<analyze::RtTarget> target = Error{};
  if (o.target == "host") {
    target = host_target_for(old.v.abi, o.helper32);
  } else {
    if (o.target_maps.empty()) return report(usage_error("--target FILE needs --target-maps: the maps text of that kernel"));
    auto maps = read_bytes(o.target_maps, 1 << 20);
    if (!maps) return report(maps.error());
    auto bytes = read_bytes(o.target, 1 << 20);
    if (!bytes) return report(bytes.error());
    target = analyze::explicit_target(o.target, std::string(maps->begin(), maps->end()), bytes.take());
  }
  if (!target) return report(target.error());

  analyze::PlanRequest req;
  req.old = &old.v;
  req.proxy_addr = old.addr;
  req.proxy_size = old.size;
  req.orig_vvar = old.vvar;
  req.orig_vvar_size = old.vvar_size;
  if (!o.at.empty()) {
    auto a = parse_addr("--at", o.at);
    if (!a) return report(a.error());
    req.at = *a;
  }
  auto plan = analyze::plan_runtime(req, *target);
  if (!plan) return report(plan.error());
  if (plan->check_code)
    return report(bad_input(o.vdso.empty() ? o.image : o.vdso,
                            std::string("the plan does not fit the target layout: ") + vk_rt_strerror(plan->check_code)));
  std::string text = o.format == "json" ? dump_json(analyze::to_json(*plan), 2) + "\n" : analyze::render_text(*plan);
  int rc = emit(text, o.output);
  if (rc) return rc;
  return plan->has_findings() ? kExitFindings : kExitOk;
}

}  // namespace

void add_plan(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PlanOpts>();
  auto* cmd = app.add_subcommand("plan", "Compute the runtime plan that redirects an old vDSO to a kernel's vDSO");
  auto* v = cmd->add_option("--vdso", o->vdso, "The old vDSO bytes (a file); needs --proxy-at");
  auto* im = cmd->add_option("--image", o->image, "An image set: the dumped vDSO of its process (address = its vdso VMA)");
  v->excludes(im);
  cmd->add_option("--pid", o->pid, "With --image: the process (default: the first with a vDSO)")->needs(im);
  cmd->add_option("--target", o->target, "host (the running kernel) or a vDSO file (needs --target-maps)")
      ->capture_default_str();
  cmd->add_option("--target-maps", o->target_maps, "With --target FILE: that kernel's maps text ([vvar], [vvar_vclock], [vdso] lines)");
  cmd->add_option("--at", o->at, "New start of the whole vvar/vvar_vclock/vdso block (default: where it is, no move)");
  cmd->add_option("--proxy-at", o->proxy_at, "Where the restored process holds the old vDSO (default with --image: its vdso VMA)");
  cmd->add_option("--orig-vvar", o->orig_vvar, "The mark's orig_vvar: ADDR or none (default with --image: its vvar VMA)");
  cmd->add_option("--helper32", o->helper32, "For an i386 vDSO with --target host: the -m32 helper (default: next to vdsokit)");
  add_format(*cmd, o->format, {"text", "json"});
  cmd->add_option("-o,--output", o->output, "Write the plan to this file (atomically) instead of stdout");
  cmd->callback([o, &ctx] {
    if (o->vdso.empty() && o->image.empty()) {
      ctx.exit_code = report(usage_error("plan needs --vdso FILE or --image DIR"));
      return;
    }
    ctx.exit_code = run_plan(*o);
  });
}

}  // namespace vk::cli
