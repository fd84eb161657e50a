// The scheduler's side of a sharded run (docs/deploy/): the sbatch script of a Slurm job array whose
// tasks run one vdsokit command each on shard $SLURM_ARRAY_TASK_ID of N, with --format jsonl to one
// output per task attempt and, for rewrites, a shared --state directory (docs/cli.md "Shards").
#pragma once

#include <string>
#include <vector>

namespace vk::analyze {

struct SlurmJob {
  std::string vdsokit;                 // absolute path of the binary on the nodes
  std::vector<std::string> command;    // e.g. {"rewrite", "pagemap", "--to", "4.1", "/store"}
  std::string dir;                     // absolute: job.sh, out/, log/, state/
  size_t tasks = 4;                    // N
  size_t max_running = 0;              // the array's %M throttle (0: none)
  std::string job_name = "vdsokit", partition, time_limit;
  size_t cpus_per_task = 1;
};

// The command's arguments plus --format jsonl, --shard "$SLURM_ARRAY_TASK_ID/N" and, for rewrite,
// --state DIR/state. Refuses a command that sets --format, --shard or --state itself.
std::string render_sbatch(const SlurmJob& job, std::string* error);

// One argument quoted for a POSIX shell.
std::string shell_quote(const std::string& arg);

}  // namespace vk::analyze
