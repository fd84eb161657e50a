// vdsokit: will this checkpoint restore on that kernel, and if not, what has to change?
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/common.h"

int main(int argc, char** argv) {
  using namespace vk::cli;
  CLI::App app{"vdsokit: vDSO/vvar pre-flight, inspection and rewriting for CRIU checkpoints", "vdsokit"};
  app.set_version_flag("--version", std::string("vdsokit 0.1.0"));
  app.require_subcommand(1);
  Context ctx;
  add_inspect(app, ctx);
  add_check(app, ctx);
  add_diff(app, ctx);
  add_matrix(app, ctx);
  add_decode(app, ctx);
  add_kernel(app, ctx);
  add_catalog(app, ctx);
  add_identify(app, ctx);
  add_plan(app, ctx);
  add_selftest(app, ctx);
  add_rewrite(app, ctx);
  add_fixup(app, ctx);
  add_report(app, ctx);
  add_batch(app, ctx);
  add_docs(app, ctx);   // last: completion and man pages cover every subcommand above
  // CRIU runs an --action-script by exec'ing its path without a shell (Debian 4.2.1: execvp of
  // "vdsokit fixup" fails with ENOENT), so the fixup needs a program name of its own: invoked as
  // vdsokit-fixup (a symlink to vdsokit, built next to it) this binary is `vdsokit fixup`.
  std::vector<char*> args(argv, argv + argc);
  const char* base = std::strrchr(argv[0], '/');
  static char fixup[] = "fixup";
  if (std::strcmp(base ? base + 1 : argv[0], "vdsokit-fixup") == 0) args.insert(args.begin() + 1, fixup);
  try {
    app.parse(int(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // CLI11 returns 0 for --help/--version; every real parse error is a usage error (docs/cli.md).
    return rc == 0 ? 0 : vk::kExitUsage;
  }
  return ctx.exit_code;
}
