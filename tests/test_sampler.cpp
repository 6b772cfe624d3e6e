// Tests for data/sampler.h: the sharding invariants DistributedSampler promises (equal shares,
// complete coverage, padding only across ranks), reshuffling per epoch, and a pinned permutation,
// because recorded runs are only reproducible while the generator stays bit-for-bit the same.
#include "data/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace parbench::data {
namespace {

using Indices = std::vector<std::int64_t>;

Indices iota(std::int64_t n) {
  Indices v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), std::int64_t{0});
  return v;
}

Indices sorted(Indices v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The ceil(N/W) invariants for one (N, W, seed, epoch, shuffle), checked over all ranks together.
void check_sharding(std::int64_t n, int world, std::uint64_t seed, std::int64_t epoch, bool shuffle) {
  SCOPED_TRACE(testing::Message() << "N=" << n << " W=" << world << " seed=" << seed << " epoch=" << epoch
                                  << " shuffle=" << shuffle);
  const std::int64_t per_rank = samples_per_rank(n, world);
  ASSERT_EQ(per_rank, (n + world - 1) / world);

  std::map<std::int64_t, int> seen;  // index -> occurrences over all ranks
  for (int rank = 0; rank < world; ++rank) {
    const Indices indices =
        rank_indices({.samples = n, .rank = rank, .world = world, .seed = seed, .shuffle = shuffle}, epoch);
    EXPECT_EQ(static_cast<std::int64_t>(indices.size()), per_rank) << "rank " << rank;
    EXPECT_EQ(std::set<std::int64_t>(indices.begin(), indices.end()).size(), indices.size())
        << "an index repeats within rank " << rank;
    for (std::int64_t i : indices) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, n);
      ++seen[i];
    }
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), n) << "some samples are never seen";
  std::int64_t repeats = 0;
  for (const auto& [index, times] : seen) {
    EXPECT_LE(times, 2) << "index " << index;
    repeats += times - 1;
  }
  EXPECT_EQ(repeats, world * per_rank - n);

  // The repeated samples are the first ones of the epoch's permutation, as in torch.
  const Indices permutation = epoch_permutation(n, seed, epoch, shuffle);
  for (std::int64_t k = 0; k < world * per_rank - n; ++k) {
    EXPECT_EQ(seen[permutation[static_cast<std::size_t>(k)]], 2) << "padding position " << k;
  }
}

TEST(Sampler, ShardsCoverAllSamplesWithEqualShares) {
  for (int world = 1; world <= 5; ++world) {
    for (std::int64_t n : {1, 7, 10, 13, 101}) {
      if (n < world) continue;
      for (std::uint64_t seed : {0ULL, 42ULL}) {
        for (std::int64_t epoch : {0, 3}) {
          for (bool shuffle : {true, false}) check_sharding(n, world, seed, epoch, shuffle);
        }
      }
    }
  }
}

TEST(Sampler, BatchesConcatenateToRankIndices) {
  for (int world = 1; world <= 5; ++world) {
    for (std::int64_t n : {1, 7, 10, 13, 101}) {
      if (n < world) continue;
      const std::int64_t per_rank = samples_per_rank(n, world);
      for (std::int64_t batch = 1; batch <= per_rank; ++batch) {
        for (int rank = 0; rank < world; ++rank) {
          SCOPED_TRACE(testing::Message() << "N=" << n << " W=" << world << " B=" << batch << " rank=" << rank);
          const ShardSpec spec{.samples = n, .rank = rank, .world = world, .batch = batch, .seed = 7};
          const EpochPlan plan(spec, 1);
          ASSERT_EQ(plan.batches(), batches_per_epoch(spec));
          ASSERT_EQ(plan.batches(), (per_rank + batch - 1) / batch);
          Indices joined;
          for (std::int64_t b = 0; b < plan.batches(); ++b) {
            const Indices indices = plan.batch(b);
            EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end())) << "batch " << b;
            EXPECT_EQ(indices, batch_indices(spec, 1, b)) << "batch " << b;
            const bool last = b == plan.batches() - 1;
            EXPECT_EQ(static_cast<std::int64_t>(indices.size()), last ? per_rank - b * batch : batch);
            joined.insert(joined.end(), indices.begin(), indices.end());
          }
          EXPECT_EQ(sorted(joined), sorted(rank_indices(spec, 1)));
          EXPECT_EQ(plan.indices(), rank_indices(spec, 1));
        }
      }
    }
  }
}

TEST(Sampler, PermutationIsReproducibleAndReshuffledPerEpoch) {
  const std::int64_t n = 101;
  const Indices epoch0 = epoch_permutation(n, 42, 0, true);
  EXPECT_EQ(sorted(epoch0), iota(n));
  EXPECT_EQ(epoch0, epoch_permutation(n, 42, 0, true));
  EXPECT_NE(epoch0, epoch_permutation(n, 42, 1, true));
  EXPECT_NE(epoch0, epoch_permutation(n, 43, 0, true));
  EXPECT_NE(epoch0, iota(n));

  const ShardSpec spec{.samples = n, .rank = 1, .world = 3, .batch = 4, .seed = 42};
  EXPECT_EQ(rank_indices(spec, 5), rank_indices(spec, 5));
  EXPECT_NE(rank_indices(spec, 0), rank_indices(spec, 1));
}

// Pinned output: if this changes, every recorded run's data order changes with it.
TEST(Sampler, PermutationIsPinned) {
  EXPECT_EQ(epoch_permutation(10, 42, 0, true), (Indices{9, 4, 7, 2, 5, 0, 1, 8, 6, 3}));
  EXPECT_EQ(epoch_permutation(10, 42, 1, true), (Indices{1, 8, 0, 2, 9, 6, 4, 7, 3, 5}));
}

// Every ordering of 4 elements should come up about equally often; a biased bounded draw or an
// off-by-one in Fisher-Yates (e.g. drawing from [0, i) instead of [0, i]) fails this.
TEST(Sampler, ShuffleIsUniform) {
  std::map<Indices, int> counts;
  const int trials = 24000;
  for (int seed = 0; seed < trials; ++seed) ++counts[epoch_permutation(4, static_cast<std::uint64_t>(seed), 0, true)];
  EXPECT_EQ(counts.size(), 24U);
  for (const auto& [permutation, count] : counts) {
    EXPECT_GT(count, 850);
    EXPECT_LT(count, 1150);
  }
}

TEST(Sampler, NoShuffleIsIdentityOrder) {
  EXPECT_EQ(epoch_permutation(13, 42, 3, false), iota(13));
  // torch's DistributedSampler with shuffle=False on N=10, W=3: pad with 0, 1 and deal round-robin.
  const Indices expected[] = {{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
  for (int rank = 0; rank < 3; ++rank) {
    const ShardSpec spec{.samples = 10, .rank = rank, .world = 3, .seed = 42, .shuffle = false};
    EXPECT_EQ(rank_indices(spec, 0), expected[rank]) << "rank " << rank;
    EXPECT_EQ(rank_indices(spec, 1), expected[rank]) << "rank " << rank;
  }
}

TEST(Sampler, DropLastDropsOnlyThePartialBatch) {
  // N=10, W=3: 4 samples per rank; batches of 3 give one full batch and one of 1.
  ShardSpec spec{.samples = 10, .rank = 2, .world = 3, .batch = 3, .seed = 1, .drop_last = false};
  EXPECT_EQ(batches_per_epoch(spec), 2);
  EXPECT_EQ(batch_indices(spec, 0, 1).size(), 1U);
  spec.drop_last = true;
  EXPECT_EQ(batches_per_epoch(spec), 1);
  const Indices first = batch_indices(spec, 0, 0);
  EXPECT_EQ(first.size(), 3U);
  const Indices rank = rank_indices(spec, 0);
  EXPECT_EQ(first, sorted(Indices(rank.begin(), rank.begin() + 3)));
  EXPECT_THROW(batch_indices(spec, 0, 1), Error);

  // When the batch divides the share, drop_last changes nothing.
  spec.batch = 2;
  EXPECT_EQ(batches_per_epoch(spec), 2);
  spec.drop_last = false;
  EXPECT_EQ(batches_per_epoch(spec), 2);
}

void expect_error(const ShardSpec& spec, const std::vector<std::string>& fragments) {
  try {
    validate(spec);
    ADD_FAILURE() << "validate accepted an invalid spec";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    }
  }
}

TEST(Sampler, ValidateRejectsBadSpecs) {
  expect_error({.samples = 0}, {"samples", "0"});
  expect_error({.samples = -5}, {"samples", "-5"});
  expect_error({.samples = 10, .world = 0}, {"world size", "0"});
  expect_error({.samples = 10, .rank = 3, .world = 3}, {"rank 3", "[0, 3)"});
  expect_error({.samples = 10, .rank = -1, .world = 3}, {"rank -1"});
  expect_error({.samples = 10, .batch = 0}, {"batch size", "0"});
  expect_error({.samples = 3, .rank = 0, .world = 4}, {"more workers than samples", "4", "3"});
  expect_error({.samples = 10, .rank = 0, .world = 3, .batch = 5},
               {"batch size 5 larger than the 4 samples each of the 3 ranks gets; N=10"});

  EXPECT_NO_THROW(validate({.samples = 10, .rank = 2, .world = 3, .batch = 4}));
  EXPECT_NO_THROW(validate({.samples = 1}));
  EXPECT_THROW(rank_indices({.samples = 10, .rank = 3, .world = 3}, 0), Error);
  EXPECT_THROW(batches_per_epoch({.samples = 10, .batch = 11}), Error);
  EXPECT_THROW(EpochPlan({.samples = 10}, 0).batch(-1), Error);
  EXPECT_THROW(epoch_permutation(10, 0, -1, true), Error);
  EXPECT_THROW(epoch_permutation(-1, 0, 0, true), Error);
  EXPECT_THROW(samples_per_rank(10, 0), Error);
}

}  // namespace
}  // namespace parbench::data
