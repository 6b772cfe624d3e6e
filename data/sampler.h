// Per-epoch shuffling and sharding of sample indices across data-parallel ranks, with torch's
// DistributedSampler semantics so that runs are comparable with PyTorch baselines. Pure functions
// built on a counter-based generator: the same (seed, epoch) gives the same order on every platform.
#pragma once

#include <cstdint>
#include <vector>

namespace parbench::data {

// Padding policy: each epoch's permutation is padded to W * ceil(N / W) by repeating its first
// elements, so for N not divisible by W a few samples are seen twice per epoch across ranks, never
// twice within one rank. With drop_last the final partial batch of each rank is dropped.
struct ShardSpec {
  std::int64_t samples = 0;  // N in the dataset (or split)
  int rank = 0;
  int world = 1;
  std::int64_t batch = 1;  // per-rank batch size
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;  // drop the final partial batch of each rank
};

// Throws Error naming the offending value when the spec cannot be sharded: samples <= 0,
// world < 1, rank outside [0, world), batch < 1, world > samples, or batch > samples_per_rank.
void validate(const ShardSpec& spec);

// A permutation of [0, samples); the identity when !shuffle. Throws Error for samples < 0 or epoch < 0.
std::vector<std::int64_t> epoch_permutation(std::int64_t samples, std::uint64_t seed, std::int64_t epoch, bool shuffle);

// ceil(N / W): every rank gets this many samples per epoch, padding included.
std::int64_t samples_per_rank(std::int64_t samples, int world);

// This rank's sample indices for the epoch, in order: rank r takes positions r, r+W, r+2W, ...
// of the padded permutation.
std::vector<std::int64_t> rank_indices(const ShardSpec& spec, std::int64_t epoch);

std::int64_t batches_per_epoch(const ShardSpec& spec);

// Indices of batch b (0-based) of this rank in this epoch, sorted ascending so that a batch can be
// read from HDF5 as one ascending hyperslab selection (order within a batch does not change a
// gradient sum). Builds the whole epoch's plan: use EpochPlan to read several batches of one epoch.
std::vector<std::int64_t> batch_indices(const ShardSpec& spec, std::int64_t epoch, std::int64_t b);

// One rank's epoch, computed once, so that a loader does not redo the O(N) shuffle per batch.
class EpochPlan {
 public:
  EpochPlan(const ShardSpec& spec, std::int64_t epoch);

  std::int64_t batches() const { return batches_; }
  const std::vector<std::int64_t>& indices() const { return indices_; }
  // Same contract as batch_indices; throws Error when b is outside [0, batches()).
  std::vector<std::int64_t> batch(std::int64_t b) const;

 private:
  std::int64_t batch_size_;
  std::int64_t batches_;
  std::vector<std::int64_t> indices_;
};

}  // namespace parbench::data
