// vdsokit inspect <image-dir|archive>...
#include "analyzers/inspect.h"
#include "cli/common.h"
#include "formats/criu/inputs.h"

namespace vk::cli {

void add_inspect(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string format;
    std::string output;
    std::string shard;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("inspect", "Show each process's vDSO, vvar, auxv and the CRIU that wrote the images");
  cmd->add_option("inputs", opts->inputs, "Image directories, folders of image sets, or checkpoint archives (.tar, .tar.gz, .tar.zst)")
      ->required();
  add_format(*cmd, opts->format, {"text", "json", "yaml"});
  cmd->add_option("-o,--output", opts->output, "Write the report to this file (atomically) instead of stdout");
  add_shard(*cmd, opts->shard);
  cmd->callback([opts, &ctx] {
    auto units = shard_inputs(opts->inputs, opts->shard);
    if (failed(ctx, units)) return;
    auto sets = criu::open_sets(unit_paths(*units));
    if (failed(ctx, sets)) return;
    std::vector<analyze::SetReport> reports;
    for (const auto& s : *sets) {
      auto r = analyze::inspect(s.set, s.label);
      if (failed(ctx, r)) return;
      reports.push_back(r.take());
    }
    std::string text = opts->format == "json"   ? analyze::render_json(reports)
                       : opts->format == "yaml" ? analyze::render_yaml(reports)
                                                : analyze::render_text(reports);
    ctx.exit_code = emit(text, opts->output);
  });
}

}  // namespace vk::cli
