// Fleet-scale runs: the inputs of a command split into units (an image-set directory, or a whole
// archive file) and those split into N shards, so that a Slurm job array or a Kubernetes Indexed Job
// covers every unit exactly once (docs/cli.md "Shards").
//
// A unit belongs to shard (first 8 bytes of SHA-256(key), big-endian) mod N, where the key is the unit's path from its input
// argument's own name on ("store/node3/job7", "ckpt.tar.zst"). Hashing instead of cutting the list
// into positions keeps every unit's shard independent of the others: a checkpoint added to the store
// while the array runs, a task resubmitted hours later, or a store mounted at another path on another
// node never moves a unit into a second shard. Every task still discovers the whole list, so each
// unit also carries its position in it (`seq`) and the total: `vdsokit report` uses them to put
// merged shard outputs back in the order of a single run and to name units no shard reported.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::criu {

struct Shard {
  size_t index = 0;   // K, 0-based
  size_t count = 1;   // N
  std::string str() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "K/N" with 0 <= K < N (usage error otherwise).
Expected<Shard> parse_shard(const std::string& spec);

using Getenv = std::function<const char*(const char*)>;
// The shard when --shard is not given, from the scheduler's environment:
// - VDSOKIT_SHARD_COUNT=N with SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX as K (arrays numbered from
//   0; a resubmitted subset such as `sbatch --array=2` keeps its place);
// - else Slurm's SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, refused when the
//   array is not one contiguous range (a resubmitted subset would silently become "all");
// - JOB_COMPLETION_INDEX without VDSOKIT_SHARD_COUNT is refused (a Job's pods do not see completions);
// - nothing set: one shard, everything.
Expected<Shard> shard_from_env(const Getenv& env);
// An explicit spec wins; an empty one falls back to the environment.
Expected<Shard> resolve_shard(const std::string& spec, const Getenv& env);

struct Unit {
  std::string path;   // what the commands are given: a set directory, an archive, or the input as typed
  std::string key;    // path from the input argument's own name on (stable across mount points)
  size_t seq = 0;     // position among every unit of every input, in discovery order
};

// Every unit of `inputs` in discovery order (inputs in order, directories walked in sorted order as
// criu::discover does). An input that holds no set, or does not exist, is one unit of its own so that
// the shard owning it reports the error.
std::vector<Unit> list_units(const std::vector<std::string>& inputs);

uint64_t shard_hash(const std::string& key);   // first 8 bytes of SHA-256(key), big-endian
// Whether unit `u` is in shard `s`.
bool owns(const Shard& s, const Unit& u);

// The units of `inputs` in shard `s`, in order; `total` receives the number of units of all shards.
std::vector<Unit> shard_units(const std::vector<std::string>& inputs, const Shard& s, size_t* total = nullptr);

}  // namespace vk::criu
