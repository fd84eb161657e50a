#include "analyzers/deploy.h"

#include <sstream>

namespace vk::analyze {

std::string shell_quote(const std::string& arg) {
  bool plain = !arg.empty();
  for (char c : arg)
    if (!(isalnum(static_cast<unsigned char>(c)) || std::string("/._-+=:,@%").find(c) != std::string::npos)) plain = false;
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string render_sbatch(const SlurmJob& job, std::string* error) {
  auto refuse = [&](const std::string& why) {
    if (error) *error = why;
    return std::string();
  };
  if (job.command.empty()) return refuse("no vdsokit command given (e.g. -- rewrite pagemap --to 4.1 /store)");
  const std::string& sub = job.command.front();
  if (sub != "check" && sub != "rewrite") return refuse("only check and rewrite write per-unit records (--format jsonl), not '" + sub + "'");
  for (const auto& a : job.command)
    for (const char* own : {"--format", "--shard", "--state", "-o", "--output"})
      if (a == own || a.starts_with(std::string(own) + "="))
        return refuse(std::string(own) + " is set by the job script (outputs go to " + job.dir + "/out)");
  if (job.tasks == 0) return refuse("--tasks must be at least 1");
  const std::string n = std::to_string(job.tasks);
  std::ostringstream o;
  o << "#!/bin/bash\n";
  o << "# Written by `vdsokit batch slurm`: a job array of " << n << " tasks, task K handling shard K/" << n << ".\n";
  o << "# Each task attempt writes its records to out/<job>_<task>.jsonl; merge them with\n";
  o << "#   " << shell_quote(job.vdsokit) << " report " << shell_quote(job.dir) << "/out/*.jsonl\n";
  o << "# A task lost to a crash, pre-emption or node failure is resubmitted on its own, keeping its shard:\n";
  o << "#   sbatch --array=K " << shell_quote(job.dir + "/job.sh") << "\n";
  o << "#SBATCH --job-name=" << job.job_name << "\n";
  o << "#SBATCH --array=0-" << job.tasks - 1 << (job.max_running ? "%" + std::to_string(job.max_running) : "") << "\n";
  o << "#SBATCH --output=" << job.dir << "/out/%A_%a.jsonl\n";
  o << "#SBATCH --error=" << job.dir << "/log/%A_%a.err\n";
  o << "#SBATCH --cpus-per-task=" << job.cpus_per_task << "\n";
  if (!job.partition.empty()) o << "#SBATCH --partition=" << job.partition << "\n";
  if (!job.time_limit.empty()) o << "#SBATCH --time=" << job.time_limit << "\n";
  o << "set -u\n";
  o << "export VDSOKIT_SHARD_COUNT=" << n << "\n";
  o << shell_quote(job.vdsokit);
  for (const auto& a : job.command) o << " " << shell_quote(a);
  o << " --format jsonl --shard \"${SLURM_ARRAY_TASK_ID}/" << n << "\"";
  if (sub == "rewrite") o << " --state " << shell_quote(job.dir + "/state");
  o << "\nrc=$?\n";
  o << "# 1 (findings) and 4 (blocked) are results, recorded per unit; `vdsokit report` gives the run's exit code.\n";
  o << "if [ \"$rc\" -eq 1 ] || [ \"$rc\" -eq 4 ]; then rc=0; fi\n";
  o << "exit \"$rc\"\n";
  return o.str();
}

}  // namespace vk::analyze
