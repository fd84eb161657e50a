// vdsokit identify FILE.so|IMAGE-DIR|ARCHIVE... [--catalog PATH]... [--format text|json|yaml]
#include <filesystem>
#include <fstream>

#include "analyzers/identify.h"
#include "analyzers/inspect.h"
#include "cli/common.h"
#include "formats/common/parallel.h"
#include "formats/common/progress.h"
#include "formats/criu/inputs.h"

namespace vk::cli {

namespace {

// A file starting with the ELF magic, or with a CRIU mark, is a vDSO blob; anything else is a
// checkpoint input (image directory or archive) handed to criu::discover.
bool looks_like_vdso(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char m[8] = {};
  in.read(m, sizeof m);
  return std::string(m, 4) == "\x7f" "ELF" || std::string(m, 4) == "CRIU" || std::string(m, 4) == "criu";
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
  add_format(*cmd, o->format, {"text", "json", "yaml"});
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
    auto paths = unit_paths(*units);
    using Out = Expected<std::vector<analyze::Identification>>;
    bool bad = false;
    Progress progress("identify", paths.size());
    for_each_ordered<Out>(paths.size(), o->jobs, [&](size_t i) -> Out {
      const std::string& path = paths[i];
      std::vector<analyze::Identification> out;
      if (looks_like_vdso(path)) {
        // A vDSO is a few pages; refuse anything larger instead of reading it whole.
        VK_TRY(bytes, read_file(path, 1 << 20));
        // A malformed vDSO file is bad input (exit 3 with its offset), not an "unknown" result.
        VK_TRY(v, vdso::parse(path, std::move(bytes)));
        auto id = ident.identify(v, o->top);
        id.input = path;
        out.push_back(std::move(id));
        return out;
      }
      VK_TRY(sets, criu::open_sets({path}));
      for (const auto& in : sets) {
        VK_TRY(r, analyze::inspect(in.set, in.label));
        for (const auto& p : r.processes) {
          std::string label = in.label + ": pid " + std::to_string(p.pid) + " (" + p.comm + ")";
          if (!p.vdso) {
            analyze::Identification id;
            id.input = label;
            id.explanation = p.vdso_error ? *p.vdso_error : "no vDSO in this process's images";
            out.push_back(std::move(id));
            continue;
          }
          auto id = ident.identify(*p.vdso, o->top);
          id.input = label;
          out.push_back(std::move(id));
        }
      }
      return out;
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
