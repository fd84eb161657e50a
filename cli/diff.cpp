// vdsokit diff A B: symbol and layout changes between two vDSOs, and the verdict for A -> B per restorer.
#include "analyzers/diff.h"
#include "formats/common/text.h"
#include "analyzers/inspect.h"
#include "cli/common.h"

namespace vk::cli {

void add_diff(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string a, b, abi = "x86_64", format, output;
    std::vector<std::string> catalogs;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("diff", "Compare two vDSOs (catalog ids, .so files or image sets) and judge a move from A to B");
  cmd->add_option("A", opts->a, "Where the checkpoint was dumped: catalog id or release, vDSO file, image set or archive")->required();
  cmd->add_option("B", opts->b, "Where it is restored: the same kinds")->required();
  cmd->add_option("--abi", opts->abi, "ABI when A or B is a release")->check(CLI::IsMember({"x86_64", "i386", "x32"}))->capture_default_str();
  add_format(*cmd, opts->format, {"text", "json", "yaml"});
  cmd->add_option("-o,--output", opts->output, "Write to this file (atomically) instead of stdout");
  add_catalogs(*cmd, opts->catalogs, "Add a user catalog (repeatable)");
  cmd->callback([opts, &ctx] {
    auto cat = catalog::effective_catalog(opts->catalogs);
    if (failed(ctx, cat)) return;
    auto a = analyze::resolve_side(*cat, opts->a, opts->abi);
    if (failed(ctx, a)) return;
    auto b = analyze::resolve_side(*cat, opts->b, opts->abi);
    if (failed(ctx, b)) return;
    auto d = analyze::diff(*a, *b);
    std::string text = opts->format == "json"   ? dump_json(analyze::diff_json(d), 2) + "\n"
                       : opts->format == "yaml" ? analyze::json_to_yaml(analyze::diff_json(d))
                                                : analyze::render_diff_text(d);
    ctx.exit_code = emit(text, opts->output);
  });
}

}  // namespace vk::cli
