// Shared by the subcommands: how errors become one stderr line plus an exit code (docs/cli.md).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "formats/common/error.h"
#include "formats/criu/shard.h"

namespace vk::cli {

// Each subcommand's callback returns its exit code through this.
struct Context {
  int exit_code = kExitOk;
};

// Prints "vdsokit: <error>" on stderr and returns its exit code.
int report(const Error& e);

// For a callback: when `e` holds an error, reports it into ctx and returns true.
template <class T>
bool failed(Context& ctx, const T& e) {
  if (e) return false;
  ctx.exit_code = report(e.error());
  return true;
}

// Adds `--format` with the given choices to a subcommand.
CLI::Option* add_format(CLI::App& cmd, std::string& format, const std::vector<std::string>& choices);
// `--restorer R` (criu-4.2 by default), choices from analyzers/restorer.
CLI::Option* add_restorer(CLI::App& cmd, std::string& restorer);
// `-t,--target ID|RELEASE|host`; completion offers host and the built-in catalog's ids.
CLI::Option* add_target(CLI::App& cmd, std::string& target, const std::string& help);
// `--catalog PATH`, repeatable, exactly one value per occurrence (`--catalog a.yaml IN` keeps IN).
CLI::Option* add_catalogs(CLI::App& cmd, std::vector<std::string>& catalogs,
                          const std::string& help = "Add a user catalog (repeatable; later ones win on the same id)");
// `--pid N`, repeatable: only these processes.
CLI::Option* add_pid(CLI::App& cmd, std::vector<uint32_t>& pids);

// The values an option accepts, for completion and man pages (registered by the add_* helpers).
// Computed only when asked (the catalog's ids need the built-in catalog parsed).
std::vector<std::string> option_values(const CLI::Option* opt);
void set_option_values(const CLI::Option* opt, std::function<std::vector<std::string>()> values);

// Writes `text` to stdout or, when `path` is set, atomically to that file.
int emit(const std::string& text, const std::string& path);

// Adds `-j,--jobs N` to a command that takes many inputs: units handled at once, 0 (default) = one per
// core unless `zero` says otherwise; the report keeps the input order (formats/common/parallel.h).
CLI::Option* add_jobs(CLI::App& cmd, unsigned& jobs, const char* zero = "one per core");

// Adds `--shard K/N` to a command that takes many inputs (docs/cli.md "Shards").
CLI::Option* add_shard(CLI::App& cmd, std::string& spec);

// The units of `inputs` in this run's shard (the option, else the scheduler's environment, else all).
struct ShardedInputs {
  std::vector<criu::Unit> units;   // in order
  size_t total = 0;                // units of all shards
  criu::Shard shard;
  std::vector<std::string> paths() const;
};
Expected<ShardedInputs> shard_inputs(const std::vector<std::string>& inputs, const std::string& spec);
inline std::vector<std::string> unit_paths(const ShardedInputs& s) { return s.paths(); }

// `--format jsonl`: one line per record, flushed at once, to stdout or (`-o`) to a file written as it
// goes (each line complete when written; a killed run leaves the lines of the units it finished).
class LineSink {
 public:
  static Expected<std::unique_ptr<LineSink>> open(const std::string& path);
  ~LineSink();
  void write(const std::string& line);
  Status close();   // fsync of a file output
 private:
  explicit LineSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  bool failed_ = false;
};

void add_inspect(CLI::App& app, Context& ctx);
void add_docs(CLI::App& app, Context& ctx);     // cli/docs.cpp: completion, man, explain
void add_check(CLI::App& app, Context& ctx);    // cli/check.cpp
void add_diff(CLI::App& app, Context& ctx);     // cli/diff.cpp
void add_matrix(CLI::App& app, Context& ctx);   // cli/matrix.cpp
void add_decode(CLI::App& app, Context& ctx);   // cli/decode.cpp: decode and encode
void add_kernel(CLI::App& app, Context& ctx);   // cli/kernel.cpp
void add_catalog(CLI::App& app, Context& ctx);  // cli/catalog.cpp
void add_identify(CLI::App& app, Context& ctx); // cli/identify.cpp
void add_plan(CLI::App& app, Context& ctx);     // cli/plan.cpp
void add_selftest(CLI::App& app, Context& ctx); // cli/selftest.cpp
void add_rewrite(CLI::App& app, Context& ctx);  // cli/rewrite.cpp: pagemap, vvar, exports
void add_fixup(CLI::App& app, Context& ctx);    // cli/fixup.cpp
void add_report(CLI::App& app, Context& ctx);   // cli/report.cpp: merged shard outputs
void add_batch(CLI::App& app, Context& ctx);    // cli/batch.cpp: batch slurm

}  // namespace vk::cli
