// vdsokit check <image-dir|folder|archive>... --target ID|RELEASE|host [--restorer R] [--pid N]...
//               [--format text|json|yaml|junit|jsonl] [-o FILE] [--catalog PATH]... [--shard K/N] [-j N]
#include <iostream>

#include "analyzers/check.h"
#include "analyzers/records.h"
#include "cli/common.h"
#include "formats/common/parallel.h"
#include "formats/common/progress.h"
#include "formats/criu/inputs.h"

namespace vk::cli {

namespace {

struct Opts {
  std::vector<std::string> inputs, catalogs;
  std::vector<uint32_t> pids;
  std::string target, restorer = "criu-4.2", format, output, shard;
  unsigned jobs = 0;
};

// --format jsonl: one record per unit as soon as it is checked; a unit that cannot be read is an
// error record and the run goes on (analyzers/records.h).
int check_jsonl(const ShardedInputs& units, const catalog::Catalog& cat, const analyze::Restorer& r, const Opts& o) {
  auto sink = LineSink::open(o.output);
  if (!sink) return report(sink.error());
  analyze::Checker checker(cat, o.target, r);
  int code = analyze::run_units(
      units.units, units.total, units.shard, "check", "--target " + o.target + " --restorer " + o.restorer,
      [&](const criu::Unit& u, analyze::UnitRecord& rec) {
        auto fail = [&](const Error& e) {
          report(e);
          analyze::fill_error(rec, e);
        };
        std::vector<analyze::SetCheck> checks;
        for (auto& s : criu::open_each({u.path})) {
          if (s.error) return fail(*s.error);
          auto c = checker.check(*s.set, s.label, {o.pids});
          if (!c) return fail(c.error());
          checks.push_back(c.take());
          checks.back().container = s.container;   // the same detail as --format json
        }
        analyze::fill_check(rec, checks);
      },
      [&](const analyze::UnitRecord& rec) { (*sink)->write(analyze::to_jsonl(rec)); });
  auto st = (*sink)->close();
  return st ? code : report(st.error());
}

}  // namespace

void add_check(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("check", "Pre-flight: will each process restore on the target kernel with the restorer, and what breaks");
  cmd->add_option("inputs", opts->inputs,
                  "Image directories, folders of image sets and checkpoint archives (Podman/CRI-O .tar, .tar.gz, .tar.zst), or archives")
      ->required();
  add_target(*cmd, opts->target, "Target kernel: a catalog id, a release, or host (the running kernel)")->required();
  add_restorer(*cmd, opts->restorer);
  add_format(*cmd, opts->format, {"text", "json", "yaml", "junit", "jsonl"});
  cmd->add_option("-o,--output", opts->output, "Write the report to this file (atomically) instead of stdout");
  add_pid(*cmd, opts->pids);
  add_catalogs(*cmd, opts->catalogs);
  add_shard(*cmd, opts->shard);
  add_jobs(*cmd, opts->jobs);
  cmd->callback([opts, &ctx] {
    auto cat = catalog::effective_catalog(opts->catalogs);
    if (failed(ctx, cat)) return;
    const auto* r = analyze::find_restorer(opts->restorer);
    auto units = shard_inputs(opts->inputs, opts->shard);
    if (failed(ctx, units)) return;
    if (opts->format == "jsonl") return void(ctx.exit_code = check_jsonl(*units, *cat, *r, *opts));
    auto paths = unit_paths(*units);
    analyze::Checker checker(*cat, opts->target, *r);   // one catalog index for the whole run
    // A batch keeps going: a set that cannot be read is an error entry in the report (a JUnit error
    // case), the others are still checked, and the exit code is the worst of all (docs/cli.md). Only
    // a target that does not resolve (the command's mistake, the same for every set) stops the run.
    std::vector<analyze::SetCheck> checks;
    bool bad = false, pid_seen = opts->pids.empty(), any_read = false;
    // Every unit (set folder or archive) on its own core; the report keeps the input order.
    using Out = Expected<std::vector<analyze::SetCheck>>;
    Progress progress("check", paths.size());
    for_each_ordered<Out>(paths.size(), opts->jobs, [&](size_t i) -> Out {
      std::vector<analyze::SetCheck> out;
      for (auto& s : criu::open_each({paths[i]})) {
        if (s.error) {
          out.push_back(analyze::check_error(s.label, opts->target, *r, *s.error));
          out.back().container = s.container;
          continue;
        }
        auto c = checker.check(*s.set, s.label, {opts->pids});
        if (!c && c.error().exit_code == kExitUsage) return c.error();
        out.push_back(c ? c.take() : analyze::check_error(s.label, opts->target, *r, c.error()));
        out.back().container = s.container;
      }
      return out;
    }, [&](size_t i, Out& c) {
      progress.tick(i + 1);
      if ((bad = failed(ctx, c))) return false;
      for (auto& x : *c) {
        pid_seen = pid_seen || !x.processes.empty();
        any_read = any_read || !x.error;
        checks.push_back(std::move(x));
      }
      return true;
    });
    if (bad) return;
    if (!pid_seen && any_read) {
      ctx.exit_code = report(usage_error("--pid: no process with that pid in any input"));
      return;
    }
    std::string text = opts->format == "json"    ? analyze::render_check_json(checks)
                       : opts->format == "yaml"  ? analyze::render_check_yaml(checks)
                       : opts->format == "junit" ? analyze::render_check_junit(checks)
                                                 : analyze::render_check_text(checks);
    int rc = emit(text, opts->output);
    ctx.exit_code = rc != kExitOk ? rc : analyze::summarize(checks).exit_code;
    // The errors also go to stderr, one line each, for a terminal that only shows the exit code.
    for (const auto& c : checks)
      if (c.error) report(*c.error);
  });
}

}  // namespace vk::cli
