// vdsokit matrix: the verdict for every ordered pair of catalog builds.
#include "analyzers/matrix.h"
#include "cli/common.h"

namespace vk::cli {

void add_matrix(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> abis{"x86_64", "i386", "x32"};
    std::vector<std::string> restorers{"criu-4.2"};
    std::vector<std::string> catalogs;
    std::string format, output, truth;
    bool builtin = true;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("matrix", "Verdicts for every ordered pair of catalog builds (dumped on row, restored on column)");
  cmd->add_option("--abi", opts->abis, "ABIs to include (repeatable)")->check(CLI::IsMember({"x86_64", "i386", "x32"}))->capture_default_str();
  auto* ro = cmd->add_option("-r,--restorer", opts->restorers, "Restorers (repeatable; `all` for every one)")->capture_default_str();
  set_option_values(ro, [] {
    auto names = analyze::restorer_names();
    names.push_back("all");
    return names;
  });
  add_format(*cmd, opts->format, {"md", "json", "html", "svg"});
  cmd->add_option("-o,--output", opts->output, "Write to this file (atomically) instead of stdout");
  add_catalogs(*cmd, opts->catalogs, "Add a user catalog (repeatable)");
  cmd->add_option("--truth", opts->truth, "Mark the cells a recorded real restore covers (a truth corpus folder, e.g. corpora/truth)");
  cmd->callback([opts, &ctx] {
    auto cat = catalog::effective_catalog(opts->catalogs);
    if (failed(ctx, cat)) return;
    std::vector<std::string> rs = opts->restorers;
    if (rs.size() == 1 && rs[0] == "all") rs = analyze::restorer_names();
    std::vector<analyze::TruthRecord> truth;
    if (!opts->truth.empty()) {
      auto t = analyze::load_truth(opts->truth);
      if (failed(ctx, t)) return;
      truth = std::move(*t);
    }
    auto ms = analyze::build_matrices(*cat, opts->abis, rs, truth);
    if (failed(ctx, ms)) return;
    std::string text = opts->format == "json"   ? analyze::render_matrix_json(*ms)
                       : opts->format == "html" ? analyze::render_matrix_html(*ms)
                       : opts->format == "svg"  ? analyze::render_matrix_svg(*ms)
                                                : analyze::render_matrix_md(*ms);
    ctx.exit_code = emit(text, opts->output);
  });
}

}  // namespace vk::cli
