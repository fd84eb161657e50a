// vdsokit batch slurm --dir DIR [--tasks N] ... [--submit] -- COMMAND...: writes (and submits) the
// sbatch job array that runs COMMAND over N shards (analyzers/deploy.h, docs/deploy/).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "analyzers/deploy.h"
#include "cli/common.h"
#include "formats/common/atomic.h"

namespace vk::cli {

namespace fs = std::filesystem;

namespace {

// Runs sbatch --parsable on the script; its stdout is the job id ("123" or "123;cluster").
Expected<std::string> submit(const std::string& script) {
  std::string cmd = "sbatch --parsable " + analyze::shell_quote(script);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return bad_input(script, "cannot run sbatch");
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = ::pclose(p);
  if (st != 0) return bad_input(script, "sbatch failed (exit " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) + ")");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.substr(0, out.find(';'));
}

}  // namespace

void add_batch(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("batch", "Run a check or rewrite over a whole store on a scheduler, one shard per task");
  cmd->require_subcommand(1);
  struct Opts {
    analyze::SlurmJob job;
    bool submit = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = cmd->add_subcommand("slurm", "Write DIR/job.sh, an sbatch job array of N tasks over N shards (and submit it)");
  s->add_option("--dir", o->job.dir, "Work directory: job.sh, out/ (one .jsonl per task attempt), log/, state/")->required();
  s->add_option("-N,--tasks", o->job.tasks, "Array size = number of shards")->capture_default_str()->check(CLI::Range(1, 100000));
  s->add_option("--max-running", o->job.max_running, "At most this many tasks at once (the array's %M)");
  s->add_option("-p,--partition", o->job.partition, "Slurm partition");
  s->add_option("--time", o->job.time_limit, "Time limit per task (sbatch --time)");
  s->add_option("--cpus-per-task", o->job.cpus_per_task, "CPUs per task")->capture_default_str();
  s->add_option("--job-name", o->job.job_name, "Job name")->capture_default_str();
  s->add_option("--vdsokit", o->job.vdsokit, "Path of vdsokit on the nodes (default: this binary)");
  s->add_flag("--submit", o->submit, "Submit with sbatch and print the job id");
  s->add_option("command", o->job.command, "After --: the vdsokit command, e.g. -- rewrite pagemap --to 4.1 /store")->required();
  s->callback([o, &ctx] {
    auto& job = o->job;
    std::error_code ec;
    job.dir = fs::absolute(job.dir, ec).lexically_normal().string();
    if (job.vdsokit.empty()) job.vdsokit = fs::read_symlink("/proc/self/exe", ec).string();
    std::string why;
    std::string text = analyze::render_sbatch(job, &why);
    if (text.empty()) return void(ctx.exit_code = report(usage_error(why)));
    for (const char* d : {"out", "log", "state"}) fs::create_directories(fs::path(job.dir) / d, ec);
    if (ec) return void(ctx.exit_code = report(bad_input(job.dir, "cannot create the work directory: " + ec.message())));
    std::string script = job.dir + "/job.sh";
    auto st = write_file_atomic(script, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0755);
    if (!st) return void(ctx.exit_code = report(st.error()));
    if (!o->submit) {
      std::cout << script << "\nsubmit with: sbatch " << analyze::shell_quote(script) << "\n";
      return;
    }
    auto id = submit(script);
    if (!id) return void(ctx.exit_code = report(id.error()));
    std::cout << *id << "\n";
  });
}

}  // namespace vk::cli
