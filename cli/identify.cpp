// vdsokit identify FILE.so|IMAGE-DIR|ARCHIVE... [--catalog PATH]... [--format text|json|yaml|jsonl]
#include "analyzers/identify.h"
#include "analyzers/records.h"
#include "cli/common.h"
#include "formats/common/parallel.h"
#include "formats/common/progress.h"

namespace vk::cli {

namespace {

// --format jsonl: one record per unit as soon as it is identified; a unit that cannot be read is an
// error record and the run goes on (analyzers/records.h).
int identify_jsonl(const ShardedInputs& units, const analyze::Identifier& ident, size_t top, const std::string& output,
                   const std::string& operation) {
  auto sink = LineSink::open(output);
  if (!sink) return report(sink.error());
  int code = analyze::run_units(
      units.units, units.total, units.shard, "identify", operation,
      [&](const criu::Unit& u, analyze::UnitRecord& rec) {
        auto ids = analyze::identify_input(ident, u.path, top);
        if (!ids) {
          report(ids.error());
          return analyze::fill_error(rec, ids.error());
        }
        analyze::fill_identify(rec, *ids);
      },
      [&](const analyze::UnitRecord& rec) { (*sink)->write(analyze::to_jsonl(rec)); });
  auto st = (*sink)->close();
  return st ? code : report(st.error());
}

}  // namespace

void add_identify(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> inputs, catalogs;
    bool no_builtin = false;
    std::string format = "text", output, shard;
    size_t top = 3;
    unsigned jobs = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("identify", "Name the kernel build of a vDSO file or of each process's dumped vDSO");
  cmd->add_option("inputs", o->inputs, "vDSO files, image directories or checkpoint archives")->required();
  add_catalogs(*cmd, o->catalogs, "A user catalog.yaml merged over the built-in one (repeatable; later wins)");
  cmd->add_flag("--no-builtin", o->no_builtin, "Leave the built-in catalog out");
  cmd->add_option("--top", o->top, "How many nearest builds to list (default 3)");
  add_format(*cmd, o->format, {"text", "json", "yaml", "jsonl"});
  cmd->add_option("-o,--output", o->output, "Write the report to this file (atomically) instead of stdout");
  add_shard(*cmd, o->shard);
  add_jobs(*cmd, o->jobs);
  cmd->callback([o, &ctx] {
    auto cat = catalog::effective_catalog(o->catalogs, !o->no_builtin);
    if (!cat) return void(ctx.exit_code = report(cat.error()));
    analyze::Identifier ident(*cat);
    std::vector<analyze::Identification> results;
    auto units = shard_inputs(o->inputs, o->shard);
    if (!units) return void(ctx.exit_code = report(units.error()));
    if (o->format == "jsonl") {
      // As check's operation, the catalogs' paths are left out: a shard may see them at another mount.
      std::string operation = "--top " + std::to_string(o->top) + (o->no_builtin ? " --no-builtin" : "");
      return void(ctx.exit_code = identify_jsonl(*units, ident, o->top, o->output, operation));
    }
    auto paths = unit_paths(*units);
    using Out = Expected<std::vector<analyze::Identification>>;
    bool bad = false;
    Progress progress("identify", paths.size());
    for_each_ordered<Out>(paths.size(), o->jobs, [&](size_t i) -> Out {
      return analyze::identify_input(ident, paths[i], o->top);
    }, [&](size_t i, Out& r) {
      progress.tick(i + 1);
      if ((bad = failed(ctx, r))) return false;
      for (auto& x : *r) results.push_back(std::move(x));
      return true;
    });
    if (bad) return;
    std::string text = o->format == "json"   ? analyze::render_json(results)
                       : o->format == "yaml" ? analyze::render_yaml(results)
                                             : analyze::render_text(results);
    ctx.exit_code = emit(text, o->output);
  });
}

}  // namespace vk::cli
