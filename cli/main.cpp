// vdsokit: will this checkpoint restore on that kernel, and if not, what has to change?
#include <iostream>

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
  add_docs(app, ctx);   // last: completion and man pages cover every subcommand above
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // CLI11 returns 0 for --help/--version; every real parse error is a usage error (docs/cli.md).
    return rc == 0 ? 0 : vk::kExitUsage;
  }
  return ctx.exit_code;
}
