#!/bin/bash
# What `vdsokit batch slurm --dir /scratch/vdsokit-41 --tasks 4 -- rewrite pagemap --to 4.1 /store`
# writes to /scratch/vdsokit-41/job.sh (docs/deploy/README.md). Submit it with sbatch, or let
# `vdsokit batch slurm ... --submit` do it.
# Each task attempt writes its records to out/<job>_<task>.jsonl; merge them with
#   vdsokit report /scratch/vdsokit-41/out/*.jsonl
# A task lost to a crash, pre-emption or node failure is resubmitted on its own, keeping its shard:
#   sbatch --array=K /scratch/vdsokit-41/job.sh
#SBATCH --job-name=vdsokit
#SBATCH --array=0-3
#SBATCH --output=/scratch/vdsokit-41/out/%A_%a.jsonl
#SBATCH --error=/scratch/vdsokit-41/log/%A_%a.err
#SBATCH --cpus-per-task=1
set -u
export VDSOKIT_SHARD_COUNT=4
/usr/local/bin/vdsokit rewrite pagemap --to 4.1 /store --format jsonl --shard "${SLURM_ARRAY_TASK_ID}/4" --state /scratch/vdsokit-41/state
rc=$?
# 1 (findings) and 4 (blocked) are results, recorded per unit; `vdsokit report` gives the run's exit code.
if [ "$rc" -eq 1 ] || [ "$rc" -eq 4 ]; then rc=0; fi
exit "$rc"
