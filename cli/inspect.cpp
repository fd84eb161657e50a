// vdsokit inspect <image-dir|folder|archive>... [--pid N]... [--format text|json|yaml] [-o FILE]
#include <algorithm>

#include "analyzers/inspect.h"
#include "analyzers/records.h"
#include "cli/common.h"
#include "formats/common/parallel.h"
#include "formats/common/progress.h"
#include "formats/criu/inputs.h"

namespace vk::cli {

namespace {

// --format jsonl: one record per unit as soon as it is read (status ok or error; detail = the unit's
// image_sets[] entries of --format json); a unit that cannot be read does not stop the run.
int inspect_jsonl(const ShardedInputs& units, const std::string& output) {
  auto sink = LineSink::open(output);
  if (!sink) return report(sink.error());
  int code = analyze::run_units(
      units.units, units.total, units.shard, "inspect", "",
      [&](const criu::Unit& u, analyze::UnitRecord& rec) {
        auto fail = [&](const Error& e) {
          report(e);
          analyze::fill_error(rec, e);
        };
        auto sets = criu::open_sets({u.path});
        if (!sets) return fail(sets.error());
        std::vector<analyze::SetReport> reports;
        for (const auto& s : *sets) {
          auto r = analyze::inspect(s.set, s.label);
          if (!r) return fail(r.error());
          reports.push_back(r.take());
        }
        rec.status = "ok";
        rec.detail = nlohmann::json::parse(analyze::render_json(reports), nullptr, false).value("image_sets", nlohmann::json::array());
      },
      [&](const analyze::UnitRecord& rec) { (*sink)->write(analyze::to_jsonl(rec)); });
  auto st = (*sink)->close();
  return st ? code : report(st.error());
}

}  // namespace

void add_inspect(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> inputs;
    std::vector<uint32_t> pids;
    std::string format;
    std::string output;
    std::string shard;
    unsigned jobs = 0;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("inspect", "Show each process's vDSO, vvar, auxv and the CRIU that wrote the images");
  cmd->add_option("inputs", opts->inputs, "Image directories, folders of image sets, or checkpoint archives (.tar, .tar.gz, .tar.zst)")
      ->required();
  add_format(*cmd, opts->format, {"text", "json", "yaml", "jsonl"});
  cmd->add_option("-o,--output", opts->output, "Write the report to this file (atomically) instead of stdout");
  add_shard(*cmd, opts->shard);
  add_jobs(*cmd, opts->jobs);
  add_pid(*cmd, opts->pids);
  cmd->callback([opts, &ctx] {
    auto units = shard_inputs(opts->inputs, opts->shard);
    if (failed(ctx, units)) return;
    if (opts->format == "jsonl") return void(ctx.exit_code = inspect_jsonl(*units, opts->output));
    auto paths = unit_paths(*units);
    std::vector<analyze::SetReport> reports;
    bool bad = false;
    using Out = Expected<std::vector<analyze::SetReport>>;
    Progress progress("inspect", paths.size());
    for_each_ordered<Out>(paths.size(), opts->jobs, [&](size_t i) -> Out {
      VK_TRY(sets, criu::open_sets({paths[i]}));
      std::vector<analyze::SetReport> out;
      for (const auto& s : sets) {
        VK_TRY(r, analyze::inspect(s.set, s.label));
        out.push_back(std::move(r));
      }
      return out;
    }, [&](size_t i, Out& r) {
      progress.tick(i + 1);
      if ((bad = failed(ctx, r))) return false;
      for (auto& x : *r) {
        if (!opts->pids.empty()) {   // --pid: only those processes; a set without them is left out
          auto& ps = x.processes;
          ps.erase(std::remove_if(ps.begin(), ps.end(),
                                  [&](const analyze::Process& p) {
                                    return std::find(opts->pids.begin(), opts->pids.end(), p.pid) == opts->pids.end();
                                  }),
                   ps.end());
          if (ps.empty()) continue;
        }
        reports.push_back(std::move(x));
      }
      return true;
    });
    if (bad) return;
    if (reports.empty() && !opts->pids.empty()) {
      ctx.exit_code = report(usage_error("--pid: no process with that pid in any input"));
      return;
    }
    std::string text = opts->format == "json"   ? analyze::render_json(reports)
                       : opts->format == "yaml" ? analyze::render_yaml(reports)
                                                : analyze::render_text(reports);
    ctx.exit_code = emit(text, opts->output);
  });
}

}  // namespace vk::cli
