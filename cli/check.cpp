// vdsokit check <image-dir|archive>... --target ID|host [--restorer R] [--format text|json|yaml|junit]
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
        auto sets = criu::open_sets({u.path});
        if (!sets) return fail(sets.error());
        std::vector<analyze::SetCheck> checks;
        for (const auto& s : *sets) {
          auto c = checker.check(s.set, s.label);
          if (!c) return fail(c.error());
          checks.push_back(c.take());
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
  cmd->add_option("inputs", opts->inputs, "Image directories, folders of image sets, or checkpoint archives")->required();
  cmd->add_option("-t,--target", opts->target, "Target kernel: a catalog id, a release, or host (the running kernel)")->required();
  cmd->add_option("-r,--restorer", opts->restorer, "Restorer whose rules apply")
      ->check(CLI::IsMember(analyze::restorer_names()))
      ->capture_default_str();
  add_format(*cmd, opts->format, {"text", "json", "yaml", "junit", "jsonl"});
  cmd->add_option("-o,--output", opts->output, "Write the report to this file (atomically) instead of stdout");
  cmd->add_option("--catalog", opts->catalogs, "Add a user catalog (repeatable; later ones win on the same id)");
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
    std::vector<analyze::SetCheck> checks;
    int code = kExitOk;
    bool bad = false;
    // Every unit (set folder or archive) on its own core; the report keeps the input order.
    using Out = Expected<std::vector<analyze::SetCheck>>;
    Progress progress("check", paths.size());
    for_each_ordered<Out>(paths.size(), opts->jobs, [&](size_t i) -> Out {
      VK_TRY(sets, criu::open_sets({paths[i]}));
      std::vector<analyze::SetCheck> out;
      for (const auto& s : sets) {
        VK_TRY(c, checker.check(s.set, s.label));
        out.push_back(std::move(c));
      }
      return out;
    }, [&](size_t i, Out& c) {
      progress.tick(i + 1);
      if ((bad = failed(ctx, c))) return false;
      for (auto& x : *c) {
        code = std::max(code, x.exit_code());
        checks.push_back(std::move(x));
      }
      return true;
    });
    if (bad) return;
    std::string text = opts->format == "json"    ? analyze::render_check_json(checks)
                       : opts->format == "yaml"  ? analyze::render_check_yaml(checks)
                       : opts->format == "junit" ? analyze::render_check_junit(checks)
                                                 : analyze::render_check_text(checks);
    int rc = emit(text, opts->output);
    ctx.exit_code = rc != kExitOk ? rc : code;
  });
}

}  // namespace vk::cli
