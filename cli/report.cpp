// vdsokit report FILE... [--format text|json|junit|html] [-o OUT]: the shard outputs of one run
// (`--format jsonl`) merged into the summary a single run gives (analyzers/records.h).
#include <iostream>

#include "analyzers/records.h"
#include "cli/common.h"

namespace vk::cli {

void add_report(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> files;
    std::string format, output;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("report", "Merge the --format jsonl outputs of a run's shards into one summary");
  cmd->add_option("files", o->files, "JSON-lines outputs of check or rewrite (one per shard; resubmitted tasks too)")->required();
  add_format(*cmd, o->format, {"text", "json", "junit", "html"});
  cmd->add_option("-o,--output", o->output, "Write the report to this file (atomically) instead of stdout");
  cmd->callback([o, &ctx] {
    std::vector<analyze::RecordFile> files;
    for (const auto& f : o->files) {
      auto r = analyze::read_records(f);
      if (failed(ctx, r)) return;
      for (const auto& w : r->warnings) std::cerr << "vdsokit: warning: " << w << "\n";
      files.push_back(r.take());
    }
    auto rep = analyze::merge_records(files);
    if (failed(ctx, rep)) return;
    std::string text = o->format == "json"    ? analyze::render_report_json(*rep)
                       : o->format == "junit" ? analyze::render_report_junit(*rep)
                       : o->format == "html"  ? analyze::render_report_html(*rep)
                                              : analyze::render_report_text(*rep);
    int rc = emit(text, o->output);
    ctx.exit_code = rc != kExitOk ? rc : rep->exit_code();
  });
}

}  // namespace vk::cli
