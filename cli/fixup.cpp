// vdsokit fixup [--pid PID] [--dry-run] [--format text|json]: after a CRIU proxy restore, redirect every
// export CRIU left on old code to the running kernel's vDSO (rewriters/fixup.h, docs/fix-a-restore.md).
// As `criu restore --action-script vdsokit-fixup` (CRIU execs a path, no shell: vdsokit-fixup is a link to
// vdsokit, cli/main.cpp) it acts on CRTOOLS_SCRIPT_ACTION=pre-resume for the
// tree at CRTOOLS_INIT_PID (real-restores.md §4) and exits 0 silently on every other action.
#include <cstdlib>
#include <iostream>

#include "cli/common.h"
#include "cli/selftest.h"
#include "rewriters/fixup.h"

namespace vk::cli {

void add_fixup(CLI::App& app, Context& ctx) {
  struct Opts {
    uint32_t pid = 0;
    bool dry_run = false;
    std::string format;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("fixup",
                                 "After a CRIU proxy restore: redirect the exports CRIU left on old code to the running vDSO "
                                 "(criu restore --action-script /path/to/vdsokit-fixup, the link beside vdsokit; or --pid PID with --leave-stopped)");
  cmd->add_option("-p,--pid", o->pid, "Root of a restored tree whose tasks are stopped (criu restore --leave-stopped); "
                                      "without it: CRTOOLS_SCRIPT_ACTION / CRTOOLS_INIT_PID from CRIU");
  cmd->add_flag("-n,--dry-run", o->dry_run, "Report what would be written; write nothing");
  add_format(*cmd, o->format, {"text", "json"});
  cmd->callback([o, &ctx] {
    uint32_t root = o->pid;
    std::string trigger = "--pid";
    if (!root) {
      const char* action = std::getenv("CRTOOLS_SCRIPT_ACTION");
      if (!action) {
        ctx.exit_code = report(usage_error("fixup needs --pid PID, or to run as a CRIU action script (CRTOOLS_SCRIPT_ACTION)"));
        return;
      }
      // Every action script sees every action (pre-dump, post-restore, network-lock, ...): only
      // pre-resume is ours, when the proxy is in place and no task runs yet.
      if (std::string(action) != "pre-resume") return;
      const char* init = std::getenv("CRTOOLS_INIT_PID");
      char* end = nullptr;
      unsigned long v = init ? std::strtoul(init, &end, 10) : 0;
      if (!init || *end || !v || v > 0x7fffffff) {
        ctx.exit_code = report(usage_error("CRTOOLS_SCRIPT_ACTION=pre-resume without a valid CRTOOLS_INIT_PID"));
        return;
      }
      root = uint32_t(v);
      trigger = "action-script pre-resume";
    }
    rewrite::FixupOptions fo;
    fo.dry_run = o->dry_run;
    fo.i386_target = [] { return host_target_for(vdso::Abi::I386); };
    auto r = rewrite::fixup_tree(root, fo, trigger);
    for (const auto& p : r.processes)
      if (p.error) std::cerr << "vdsokit: " << p.error->str() << "\n";
    int rc = emit(o->format == "json" ? rewrite::render_json(r) : rewrite::render_text(r), "");
    ctx.exit_code = rc != kExitOk ? rc : r.exit_code();
  });
}

}  // namespace vk::cli
