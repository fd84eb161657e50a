// analyzers/deploy: the sbatch script of `vdsokit batch slurm` (the slurm_array ctest runs it on a real
// cluster; this checks what it must contain and refuse).
#include <doctest/doctest.h>

#include "analyzers/deploy.h"

using namespace vk;

TEST_CASE("batch slurm: the job array passes the shard, jsonl and, for rewrites, the shared state") {
  analyze::SlurmJob job;
  job.vdsokit = "/opt/vdsokit/bin/vdsokit";
  job.dir = "/scratch/run 1";
  job.tasks = 8;
  job.max_running = 3;
  job.command = {"rewrite", "pagemap", "--to", "4.1", "/store", "it's"};
  std::string why;
  auto s = analyze::render_sbatch(job, &why);
  REQUIRE_MESSAGE(!s.empty(), why);
  CHECK(s.starts_with("#!/bin/bash\n"));
  CHECK(s.find("#SBATCH --array=0-7%3\n") != std::string::npos);
  CHECK(s.find("#SBATCH --output=/scratch/run 1/out/%A_%a.jsonl\n") != std::string::npos);
  CHECK(s.find("export VDSOKIT_SHARD_COUNT=8\n") != std::string::npos);
  CHECK(s.find("/opt/vdsokit/bin/vdsokit rewrite pagemap --to 4.1 /store 'it'\\''s' --format jsonl "
               "--shard \"${SLURM_ARRAY_TASK_ID}/8\" --state '/scratch/run 1/state'\n") != std::string::npos);
  // Every #SBATCH line precedes the first command (sbatch ignores directives after it).
  CHECK(s.rfind("#SBATCH") < s.find("set -u"));
  job.command = {"check", "/store", "--target", "host"};
  s = analyze::render_sbatch(job, &why);
  CHECK(s.find("--state") == std::string::npos);
  CHECK(s.find("check /store --target host --format jsonl --shard") != std::string::npos);
}

TEST_CASE("batch slurm: refuses flags the script sets, commands without records, an empty command") {
  analyze::SlurmJob job;
  job.vdsokit = "/v";
  job.dir = "/d";
  for (auto cmd : std::vector<std::vector<std::string>>{{"check", "/s", "--format", "json"},
                                                         {"rewrite", "pagemap", "--to", "4.1", "/s", "--shard=1/2"},
                                                         {"rewrite", "pagemap", "--to", "4.1", "/s", "--state", "x"},
                                                         {"inspect", "/s"},
                                                         {}}) {
    job.command = cmd;
    std::string why;
    CHECK(analyze::render_sbatch(job, &why).empty());
    CHECK(!why.empty());
  }
}
