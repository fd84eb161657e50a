// vdsokit rewrite pagemap --to 4.1|4.2 INPUT... | rewrite vvar --target ID|RELEASE|host INPUT...
// [--dry-run] [--format text|json|jsonl] [--output PATH] [--shard K/N] [--state DIR]: atomic edits of image sets and archives (docs/rewrite.md).
#include <iostream>
#include <optional>

#include "analyzers/records.h"
#include "analyzers/restorer.h"
#include "cli/common.h"
#include "formats/catalog/catalog.h"
#include "rewriters/batch.h"
#include "rewriters/exports.h"
#include "rewriters/pagemap.h"
#include "rewriters/state.h"
#include "rewriters/vvar.h"

namespace vk::cli {

namespace {

struct CommonOpts {
  std::vector<std::string> inputs;
  bool dry_run = false;
  std::string format, output, shard, state;
  unsigned jobs = 0;
};

void add_common(CLI::App& cmd, CommonOpts& o) {
  cmd.add_option("inputs", o.inputs, "Image directories, folders of image sets, or checkpoint archives")->required();
  cmd.add_flag("-n,--dry-run", o.dry_run, "Report what would change; write nothing");
  add_format(cmd, o.format, {"text", "json", "jsonl"});
  cmd.add_option("-o,--output", o.output, "With one archive input: write the new archive here instead of replacing it");
  add_shard(cmd, o.shard);
  add_jobs(cmd, o.jobs, "two per core (a rewrite mostly waits on fsync)");
  cmd.add_option("--state", o.state,
                 "Record finished units in this directory; a re-run skips what is done and redoes what was interrupted")
      ->type_name("DIR");
}

// Unit by unit: each unit's record streamed as a JSON line (--format jsonl) and/or resumed from and
// recorded into the state directory (rewriters/state.h); otherwise the same report as a batch.
int run_units(const CommonOpts& o, const ShardedInputs& units, const rewrite::Planner& plan,
              const rewrite::BatchOptions& bo, const std::string& operation) {
  std::optional<rewrite::StateDir> state;
  if (!o.state.empty()) {
    auto s = rewrite::StateDir::open(o.state, operation);
    if (!s) return report(s.error());
    state.emplace(s.take());
  }
  std::unique_ptr<LineSink> sink;
  if (o.format == "jsonl") {
    auto s = LineSink::open("");
    if (!s) return report(s.error());
    sink = s.take();
  }
  rewrite::BatchReport all;
  all.operation = operation;
  all.dry_run = o.dry_run;
  size_t index = 0;
  int code = analyze::run_units(
      units.units, units.total, units.shard, "rewrite", operation,
      [&](const criu::Unit& unit, analyze::UnitRecord& rec) {
        bool resumed = false;
        rewrite::UnitResult u;
        if (state) {
          u = state->run(unit, plan, bo, resumed);
        } else {
          auto r = rewrite::run_batch({unit.path}, plan, bo, operation);
          u = r.units.front();
        }
        if (u.error) std::cerr << "vdsokit: " << u.error->str() << "\n";
        rewrite::fill_rewrite(rec, u);
        rec.resumed = resumed;
        all.units.push_back(std::move(u));
      },
      [&](const analyze::UnitRecord& rec) {
        ++index;
        if (sink) sink->write(analyze::to_jsonl(rec));
        else if (units.units.size() > 1)
          std::cerr << rewrite::progress_line(index, units.units.size(), all.units.back())
                    << (rec.resumed ? " (done by an earlier run)" : "") << "\n";
      });
  if (sink) {
    auto st = sink->close();
    return st ? code : report(st.error());
  }
  int rc = emit(o.format == "json" ? rewrite::render_json(all) : rewrite::render_text(all), "");
  return rc != kExitOk ? rc : code;
}

// Progress on stderr for batches, the report on stdout, one stderr line per failed input.
int run(const CommonOpts& o, const rewrite::Planner& plan, const std::string& operation) {
  if (!o.output.empty() && o.inputs.size() != 1)
    return report(usage_error("--output needs exactly one archive input"));
  rewrite::BatchOptions bo;
  bo.dry_run = o.dry_run;
  bo.output = o.output;
  bo.jobs = o.jobs;
  bo.progress = [](size_t i, size_t n, const rewrite::UnitResult& u) {
    if (n > 1) std::cerr << rewrite::progress_line(i, n, u) << "\n";
    else if (u.error) std::cerr << "vdsokit: " << u.error->str() << "\n";
  };
  if (!o.state.empty() && (o.dry_run || !o.output.empty()))
    return report(usage_error("--state records what a run wrote in place: not with --dry-run or --output"));
  auto units = shard_inputs(o.inputs, o.shard);
  if (!units) return report(units.error());
  if (o.format == "jsonl" || !o.state.empty()) {
    bo.progress = nullptr;
    return run_units(o, *units, plan, bo, operation);
  }
  auto r = rewrite::run_batch(units->paths(), plan, bo, operation);
  if (!o.output.empty() && !r.units.empty() && r.units.front().kind != "archive")
    return report(usage_error("--output applies to an archive input, not to " + r.units.front().input));
  if (r.units.size() > 1)
    for (const auto& u : r.units)
      if (u.error) std::cerr << "vdsokit: " << u.error->str() << "\n";
  int rc = emit(o.format == "json" ? rewrite::render_json(r) : rewrite::render_text(r), "");
  return rc != kExitOk ? rc : r.exit_code();
}

}  // namespace

void add_rewrite(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("rewrite", "Atomic edits of image sets and archives: pagemap schema, vvar retarget, export stubs");
  cmd->require_subcommand(1);

  struct PagemapOpts : CommonOpts {
    std::string to;
  };
  auto pm = std::make_shared<PagemapOpts>();
  auto* pcmd = cmd->add_subcommand("pagemap", "Convert every pagemap-*.img between the CRIU >= 4.2 schema and the <= 4.1 schema");
  pcmd->add_option("--to", pm->to, "Target schema: 4.1 (readable by CRIU <= 4.1 and Debian crit) or 4.2")
      ->required()
      ->check(CLI::IsMember({"4.1", "4.2"}));
  add_common(*pcmd, *pm);
  pcmd->callback([pm, &ctx] {
    auto to = rewrite::parse_pagemap_schema(pm->to);
    if (!to) {
      ctx.exit_code = report(to.error());
      return;
    }
    rewrite::PagemapSchema schema = *to;
    ctx.exit_code = run(*pm, [schema](const criu::ImageSet& set, const std::string&) {
      return rewrite::plan_pagemap(set, schema);
    }, "pagemap --to " + pm->to);
  });

  struct ExportsOpts : CommonOpts {
    std::string restorer = "criu-4.2";
  };
  auto ex = std::make_shared<ExportsOpts>();
  auto* ecmd = cmd->add_subcommand("exports",
                                   "Write system-call stubs over the dumped vDSO's exports that the restorer leaves on old code "
                                   "while they read vvar data (VK003), so a proxy restore is correct");
  add_restorer(*ecmd, ex->restorer)->description("Restorer whose proxy the stubs complete");
  add_common(*ecmd, *ex);
  ecmd->callback([ex, &ctx] {
    const auto* r = analyze::find_restorer(ex->restorer);
    ctx.exit_code = run(*ex, [r](const criu::ImageSet& set, const std::string& label) {
      return rewrite::plan_exports_set(set, label, *r);
    }, "exports --restorer " + ex->restorer);
  });

  struct VvarOpts : CommonOpts {
    std::string target, restorer = "criu-4.2";
    std::vector<std::string> catalogs;
    bool force = false;
  };
  auto vv = std::make_shared<VvarOpts>();
  auto* vcmd = cmd->add_subcommand("vvar", "Move the vvar VMA of retargetable processes so the restore remaps in place (VK006)");
  add_target(*vcmd, vv->target, "Target kernel: a catalog id, a release, or host (the running kernel)")->required();
  add_restorer(*vcmd, vv->restorer);
  add_catalogs(*vcmd, vv->catalogs);
  vcmd->add_flag("--force", vv->force, "Write even when the in-place result still carries an error finding (VK005)");
  add_common(*vcmd, *vv);
  vcmd->callback([vv, &ctx] {
    auto cat = catalog::effective_catalog(vv->catalogs);
    if (!cat) {
      ctx.exit_code = report(cat.error());
      return;
    }
    auto shared = std::make_shared<catalog::Catalog>(cat.take());
    const auto* r = analyze::find_restorer(vv->restorer);
    // One catalog index and one host capture for every set of the run.
    auto checker = std::make_shared<analyze::Checker>(*shared, vv->target, *r);
    bool force = vv->force;
    ctx.exit_code = run(*vv, [shared, checker, force](const criu::ImageSet& set, const std::string& label) {
      return rewrite::plan_vvar(set, label, *checker, force);
    }, "vvar --target " + vv->target + " --restorer " + vv->restorer + (force ? " --force" : ""));
  });
}

}  // namespace vk::cli
