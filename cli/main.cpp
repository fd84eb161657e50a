// vdsokit: will this checkpoint restore on that kernel, and if not, what has to change?
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/common.h"

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The subcommand chain the user typed (["vdsokit", "catalog", "show"]) as far as it names commands.
const CLI::App* deepest(const CLI::App& app, int argc, char** argv, std::string& path) {
  const CLI::App* cur = &app;
  path = "vdsokit";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.empty() || a[0] == '-') continue;
    const CLI::App* next = nullptr;
    for (const auto* sub : cur->get_subcommands([](const CLI::App*) { return true; }))
      if (sub->get_name() == a) next = sub;
    if (!next) break;
    cur = next;
    path += " " + a;
  }
  return cur;
}

// One line: what went wrong, and where to read more. An unknown or misspelled command says so
// (CLI11 would say "A subcommand is required" or list "arguments not expected").
std::string parse_error_line(const CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
  std::string path;
  const CLI::App* cmd = deepest(app, argc, argv, path);
  auto subs = cmd->get_subcommands([](const CLI::App*) { return true; });
  if (!subs.empty()) {
    // The first word after the known chain that is not an option: the command the user meant.
    std::string word;
    int depth = 0;
    for (int i = 1; i < argc && word.empty(); ++i) {
      std::string a = argv[i];
      if (a.empty() || a[0] == '-') continue;
      if (depth++ < int(std::count(path.begin(), path.end(), ' '))) continue;
      word = a;
    }
    std::string where = path == "vdsokit" ? "" : path.substr(8) + ": ";
    if (word.empty()) return where + "a command is required (see " + path + " --help)";
    std::string best;
    size_t best_d = 3;
    for (const auto* s : subs)
      if (size_t d = edit_distance(word, s->get_name()); d < best_d) best_d = d, best = s->get_name();
    return where + "unknown command '" + word + "'" + (best.empty() ? "" : "; did you mean '" + best + "'?") + " (see " + path +
           " --help)";
  }
  std::string what = e.what();
  for (auto& c : what)
    if (c == '\n') c = ' ';
  while (!what.empty() && what.back() == ' ') what.pop_back();
  std::string where = path == "vdsokit" ? "" : path.substr(8) + ": ";
  return where + what + " (see " + path + " --help)";
}

// Every command, in the order `--help` lists them, by the name(s) its add_* function registers.
struct Command {
  const char* name;
  void (*add)(CLI::App&, vk::cli::Context&);
};
const Command kCommands[] = {
    {"inspect", vk::cli::add_inspect}, {"check", vk::cli::add_check},       {"diff", vk::cli::add_diff},
    {"matrix", vk::cli::add_matrix},   {"decode", vk::cli::add_decode},     {"encode", vk::cli::add_decode},
    {"kernel", vk::cli::add_kernel},   {"catalog", vk::cli::add_catalog},   {"identify", vk::cli::add_identify},
    {"plan", vk::cli::add_plan},       {"selftest", vk::cli::add_selftest}, {"rewrite", vk::cli::add_rewrite},
    {"fixup", vk::cli::add_fixup},     {"report", vk::cli::add_report},     {"batch", vk::cli::add_batch},
    // last: completion and man pages cover every command above
    {"completion", vk::cli::add_docs}, {"explain", vk::cli::add_docs},      {"man", vk::cli::add_docs},
};

// Start-up (issue 11): building the options of every command was a third of `vdsokit --version`.
// A run builds the tree of the command it names only, and the whole tree when it needs it: help, no
// command or a word that names none (the error lists or suggests commands), the docs commands
// (completion and man pages walk every command). A lone --version needs no command at all.
void add_commands(CLI::App& app, vk::cli::Context& ctx, const std::vector<char*>& args) {
  bool help = false, version = false;
  const char* word = nullptr;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help" || a == "--help-all") help = true;
    else if (a == "--version") version = true;
    else if (!word && !a.empty() && a[0] != '-') word = args[i];
  }
  const Command* only = nullptr;
  if (word && !help)
    for (const auto& c : kCommands)
      if (std::strcmp(c.name, word) == 0 && c.add != vk::cli::add_docs) only = &c;
  if (only) return only->add(app, ctx);
  if (version && !word && !help) return;
  void (*last)(CLI::App&, vk::cli::Context&) = nullptr;
  for (const auto& c : kCommands)
    if (c.add != last) c.add(app, ctx), last = c.add;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vk::cli;
  CLI::App app{"vdsokit: vDSO/vvar pre-flight, inspection and rewriting for CRIU checkpoints", "vdsokit"};
  app.set_version_flag("--version", std::string("vdsokit 0.1.0"));
  app.require_subcommand(1);
  Context ctx;
  // CRIU runs an --action-script by exec'ing its path without a shell (Debian 4.2.1: execvp of
  // "vdsokit fixup" fails with ENOENT), so the fixup needs a program name of its own: invoked as
  // vdsokit-fixup (a symlink to vdsokit, built next to it) this binary is `vdsokit fixup`.
  std::vector<char*> args(argv, argv + argc);
  const char* base = std::strrchr(argv[0], '/');
  static char fixup[] = "fixup";
  if (std::strcmp(base ? base + 1 : argv[0], "vdsokit-fixup") == 0) args.insert(args.begin() + 1, fixup);
  add_commands(app, ctx, args);
  try {
    app.parse(int(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Every real parse error is one "vdsokit: ..." line and a usage error (docs/cli.md).
    std::cerr << "vdsokit: " << parse_error_line(app, int(args.size()), args.data(), e) << "\n";
    return vk::kExitUsage;
  }
  return ctx.exit_code;
}
