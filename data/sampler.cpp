// Shuffling and sharding for data/sampler.h. The shuffle and its bounded draw are written out here
// over core/rng.h rather than taken from <random>: std::shuffle and std::uniform_int_distribution
// give different sequences on different standard libraries, and a run must be reproducible anywhere.
#include "data/sampler.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/rng.h"

namespace parbench::data {
namespace {

struct Wide {
  std::uint64_t hi;
  std::uint64_t lo;
};

// Full 64x64 -> 128-bit product without relying on the non-standard __int128.
Wide multiply(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t mask = 0xffffffffULL;
  const std::uint64_t ll = (a & mask) * (b & mask);
  const std::uint64_t lh = (a & mask) * (b >> 32);
  const std::uint64_t hl = (a >> 32) * (b & mask);
  const std::uint64_t hh = (a >> 32) * (b >> 32);
  const std::uint64_t mid = (ll >> 32) + (lh & mask) + (hl & mask);
  return {hh + (lh >> 32) + (hl >> 32) + (mid >> 32), (mid << 32) | (ll & mask)};
}

// Draw k of an epoch is a pure function of (seed, epoch, k), with the epoch as the stream.
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::int64_t epoch) : seed_(seed), epoch_(static_cast<std::uint64_t>(epoch)) {}

  std::uint64_t next() { return rng::hash(seed_, epoch_, counter_++); }

  // Uniform in [0, bound), bound > 0: Lemire's multiply-shift with rejection, which is unbiased
  // and almost never needs a second draw.
  std::uint64_t below(std::uint64_t bound) {
    Wide product = multiply(next(), bound);
    if (product.lo < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (product.lo < threshold) product = multiply(next(), bound);
    }
    return product.hi;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t epoch_;
  std::uint64_t counter_ = 0;
};

}  // namespace

void validate(const ShardSpec& spec) {
  if (spec.samples <= 0) raise("sampler: the number of samples must be positive, got {}", spec.samples);
  if (spec.world < 1) raise("sampler: world size must be at least 1, got {}", spec.world);
  if (spec.rank < 0 || spec.rank >= spec.world) {
    raise("sampler: rank {} is outside [0, {}) for world size {}", spec.rank, spec.world, spec.world);
  }
  if (spec.batch < 1) raise("sampler: batch size must be at least 1, got {}", spec.batch);
  if (spec.world > spec.samples) {
    raise("sampler: more workers than samples: world size {} > {} samples", spec.world, spec.samples);
  }
  const std::int64_t per_rank = samples_per_rank(spec.samples, spec.world);
  if (spec.batch > per_rank) {
    raise("sampler: batch size {} larger than the {} samples each of the {} ranks gets; N={}", spec.batch, per_rank,
          spec.world, spec.samples);
  }
}

std::vector<std::int64_t> epoch_permutation(std::int64_t samples, std::uint64_t seed, std::int64_t epoch,
                                            bool shuffle) {
  if (samples < 0) raise("sampler: the number of samples must be non-negative, got {}", samples);
  if (epoch < 0) raise("sampler: epoch must be non-negative, got {}", epoch);
  std::vector<std::int64_t> permutation(static_cast<std::size_t>(samples));
  std::iota(permutation.begin(), permutation.end(), std::int64_t{0});
  if (!shuffle) return permutation;
  CounterRng rng(seed, epoch);
  for (std::size_t i = permutation.size(); i > 1; --i) {
    std::swap(permutation[i - 1], permutation[rng.below(i)]);
  }
  return permutation;
}

std::int64_t samples_per_rank(std::int64_t samples, int world) {
  if (samples < 0) raise("sampler: the number of samples must be non-negative, got {}", samples);
  if (world < 1) raise("sampler: world size must be at least 1, got {}", world);
  return (samples + world - 1) / world;
}

std::vector<std::int64_t> rank_indices(const ShardSpec& spec, std::int64_t epoch) {
  validate(spec);
  const std::vector<std::int64_t> permutation = epoch_permutation(spec.samples, spec.seed, epoch, spec.shuffle);
  const std::int64_t per_rank = samples_per_rank(spec.samples, spec.world);
  std::vector<std::int64_t> indices;
  indices.reserve(static_cast<std::size_t>(per_rank));
  for (std::int64_t i = 0; i < per_rank; ++i) {
    // Positions past N wrap to the start of the permutation: that is the padding.
    const std::int64_t position = spec.rank + i * spec.world;
    indices.push_back(permutation[static_cast<std::size_t>(position % spec.samples)]);
  }
  return indices;
}

std::int64_t batches_per_epoch(const ShardSpec& spec) {
  validate(spec);
  const std::int64_t per_rank = samples_per_rank(spec.samples, spec.world);
  return spec.drop_last ? per_rank / spec.batch : (per_rank + spec.batch - 1) / spec.batch;
}

std::vector<std::int64_t> batch_indices(const ShardSpec& spec, std::int64_t epoch, std::int64_t b) {
  return EpochPlan(spec, epoch).batch(b);
}

EpochPlan::EpochPlan(const ShardSpec& spec, std::int64_t epoch)
    : batch_size_(spec.batch), batches_(batches_per_epoch(spec)), indices_(rank_indices(spec, epoch)) {}

std::vector<std::int64_t> EpochPlan::batch(std::int64_t b) const {
  if (b < 0 || b >= batches_) raise("sampler: batch {} is outside [0, {}) for this epoch", b, batches_);
  const std::int64_t begin = b * batch_size_;
  const std::int64_t end = std::min(begin + batch_size_, static_cast<std::int64_t>(indices_.size()));
  std::vector<std::int64_t> indices(indices_.begin() + begin, indices_.begin() + end);
  std::sort(indices.begin(), indices.end());
  return indices;
}

}  // namespace parbench::data
