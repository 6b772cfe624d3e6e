// The loader over real HDF5 files: shards cover the split with equal counts for world sizes 1..5,
// batches hold the right values, are identical for every number of loader threads, reshuffle
// between epochs, and bad inputs stop with the file, dataset and sample named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/half.h"
#include "data/loader.h"
#include "data/schema.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

constexpr std::int64_t kFrames = 3, kDim = 5;

std::filesystem::path violence_file(const TempDir& dir, std::int64_t samples, h5::Dtype dtype = h5::Dtype::f32,
                                    std::int64_t chunk = 2) {
  data::SynthOptions options{.workload = "violence",
                             .samples = samples,
                             .seed = 9,
                             .dtype = dtype,
                             .frames = kFrames,
                             .feature_dim = kDim,
                             .chunk_samples = chunk};
  auto path = dir / fmt::format("v{}_{}.h5", samples, h5::dtype_name(dtype));
  data::synthesize(options, path);
  return path;
}

std::vector<data::Batch> epoch_batches(data::Loader& loader, std::int64_t epoch) {
  std::vector<data::Batch> batches;
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

TEST(Loader, ShardsCoverTheSplitWithEqualCounts) {
  TempDir dir;
  for (const std::int64_t n : {13, 37}) {
    const auto path = violence_file(dir, n);
    for (int world = 1; world <= 5; ++world) {
      SCOPED_TRACE(fmt::format("N={} world={}", n, world));
      std::set<std::int64_t> covered;
      std::int64_t total = 0;
      std::vector<std::int64_t> per_rank;
      for (int rank = 0; rank < world; ++rank) {
        data::Loader loader(path, {.rank = rank, .world = world, .batch = 2, .seed = 4, .threads = 1});
        std::multiset<std::int64_t> mine;
        for (const auto& batch : epoch_batches(loader, 0)) {
          EXPECT_TRUE(std::is_sorted(batch.samples.begin(), batch.samples.end()));
          mine.insert(batch.samples.begin(), batch.samples.end());
        }
        // No sample twice within a rank's epoch.
        EXPECT_EQ(std::set<std::int64_t>(mine.begin(), mine.end()).size(), mine.size());
        per_rank.push_back(static_cast<std::int64_t>(mine.size()));
        covered.insert(mine.begin(), mine.end());
        total += static_cast<std::int64_t>(mine.size());
      }
      const std::int64_t expected = (n + world - 1) / world;
      for (auto count : per_rank) EXPECT_EQ(count, expected);
      EXPECT_EQ(static_cast<std::int64_t>(covered.size()), n);
      EXPECT_EQ(total - n, expected * world - n);  // the documented padding, no more
    }
  }
}

TEST(Loader, BatchesHoldTheSamplesValues) {
  TempDir dir;
  const auto path = violence_file(dir, 11);
  data::SynthBlock block;
  data::generate({.workload = "violence", .samples = 11, .seed = 9, .frames = kFrames, .feature_dim = kDim}, 0, 11,
                 block);
  data::Loader loader(path, {.batch = 4, .seed = 1, .threads = 2});
  for (const auto& batch : epoch_batches(loader, 3)) {
    const data::Tensor& features = batch.inputs.at("features");
    ASSERT_EQ(features.shape, (std::vector<std::int64_t>{batch.size(), kFrames, kDim}));
    for (std::int64_t r = 0; r < batch.size(); ++r) {
      const std::int64_t sample = batch.samples[static_cast<std::size_t>(r)];
      for (std::int64_t e = 0; e < kFrames * kDim; ++e) {
        ASSERT_EQ(features.values[static_cast<std::size_t>(r * kFrames * kDim + e)],
                  block.features[static_cast<std::size_t>(sample * kFrames * kDim + e)]);
      }
      EXPECT_EQ(batch.targets.at("labels")[static_cast<std::size_t>(r)],
                block.labels[static_cast<std::size_t>(sample)]);
    }
  }
}

TEST(Loader, Float16FilesAreWidenedExactly) {
  TempDir dir;
  const auto path = violence_file(dir, 9, h5::Dtype::f16);
  data::SynthBlock block;
  data::generate({.workload = "violence", .samples = 9, .seed = 9, .frames = kFrames, .feature_dim = kDim}, 0, 9,
                 block);
  data::Loader loader(path, {.batch = 9, .shuffle = false, .threads = 0});
  const auto batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  const auto& values = batches[0].inputs.at("features").values;
  for (std::size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(values[i], half_to_float(float_to_half(block.features[i])));
  }
}

TEST(Loader, SameBatchesForEveryThreadCount) {
  TempDir dir;
  const auto path = violence_file(dir, 29, h5::Dtype::f32, 3);
  std::vector<data::Batch> reference;
  for (const int threads : {0, 1, 2, 4, 8}) {
    SCOPED_TRACE(threads);
    data::Loader loader(path, {.rank = 1, .world = 2, .batch = 4, .seed = 21, .threads = threads, .depth = 3});
    auto batches = epoch_batches(loader, 2);
    if (reference.empty()) {
      reference = std::move(batches);
      continue;
    }
    ASSERT_EQ(batches.size(), reference.size());
    for (std::size_t b = 0; b < batches.size(); ++b) {
      EXPECT_EQ(batches[b].index, static_cast<std::int64_t>(b));
      EXPECT_EQ(batches[b].samples, reference[b].samples);
      EXPECT_EQ(batches[b].inputs.at("features").values, reference[b].inputs.at("features").values);
      EXPECT_EQ(batches[b].targets.at("labels"), reference[b].targets.at("labels"));
    }
  }
}

TEST(Loader, ReshufflesBetweenEpochsAndRepeatsForTheSameSeed) {
  TempDir dir;
  const auto path = violence_file(dir, 40);
  auto order = [&](std::uint64_t seed, std::int64_t epoch) {
    data::Loader loader(path, {.batch = 5, .seed = seed, .threads = 2});
    std::vector<std::int64_t> samples;
    for (const auto& batch : epoch_batches(loader, epoch))
      samples.insert(samples.end(), batch.samples.begin(), batch.samples.end());
    return samples;
  };
  EXPECT_NE(order(1, 0), order(1, 1));
  EXPECT_EQ(order(1, 1), order(1, 1));
  EXPECT_NE(order(1, 0), order(2, 0));
  // One loader, several epochs: each epoch is complete and they differ.
  data::Loader loader(path, {.batch = 8, .seed = 1, .threads = 2});
  const auto first = epoch_batches(loader, 0), second = epoch_batches(loader, 1);
  EXPECT_EQ(first.size(), 5u);
  EXPECT_EQ(second.size(), 5u);
  EXPECT_NE(first[0].samples, second[0].samples);
  EXPECT_GE(loader.wait_ns(), 0);
}

TEST(Loader, ShopliftingBatchesCarryBothInputsAndBothTargets) {
  TempDir dir;
  data::synthesize({.workload = "shoplifting", .samples = 17}, dir / "s.h5");
  data::Loader loader(dir / "s.h5", {.workload = "shoplifting", .batch = 6, .drop_last = true, .threads = 1});
  const auto batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].inputs.at("visual").shape, (std::vector<std::int64_t>{6, 2048}));
  EXPECT_EQ(batches[0].inputs.at("pose").shape, (std::vector<std::int64_t>{6, 16, 34}));
  EXPECT_EQ(batches[0].targets.at("action").size(), 6u);
}

std::string loader_error(const std::filesystem::path& path, const data::LoaderOptions& options) {
  try {
    data::Loader loader(path, options);
    loader.start_epoch(0);
    while (loader.next()) {
    }
  } catch (const parbench::Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Loader, BadInputs) {
  TempDir dir;
  const auto path = violence_file(dir, 10);
  std::string m = loader_error(path, {.batch = 11});
  EXPECT_NE(m.find("batch size 11 larger than the 10 samples"), std::string::npos) << m;
  EXPECT_NE(m.find("v10_float32.h5"), std::string::npos) << m;
  m = loader_error(path, {.world = 11, .batch = 1});
  EXPECT_NE(m.find("more workers than samples"), std::string::npos) << m;
  m = loader_error(path, {.workload = "shoplifting"});
  EXPECT_NE(m.find("expected 'shoplifting'"), std::string::npos) << m;
  m = loader_error(path, {.group = "/train"});
  EXPECT_NE(m.find("no group /train"), std::string::npos) << m;
  m = loader_error(dir / "missing.h5", {});
  EXPECT_NE(m.find("missing.h5: no such file"), std::string::npos) << m;
}

TEST(Loader, NanInFeaturesNamesTheSampleWhenRead) {
  TempDir dir;
  const auto path = violence_file(dir, 8);
  {
    h5::File file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)};
    h5::Dataset features = h5::open_dataset(file.get(), "/features");
    std::vector<float> row(kFrames * kDim, 1.0f);
    row[4] = std::numeric_limits<float>::quiet_NaN();
    h5::write_rows(features.get(), H5T_NATIVE_FLOAT, 6, 1, row.data());
  }
  for (const int threads : {0, 2}) {
    const std::string m = loader_error(path, {.batch = 4, .threads = threads});
    EXPECT_NE(m.find("v8_float32.h5:/features: sample 6 holds nan at element 4"), std::string::npos) << m;
  }
}

// An Inf feature (violence) and a NaN pose value (shoplifting), in a sample of the first batch
// and in one of the third: the batch holding it fails as it is read, naming file, dataset and
// sample, and every batch before it is delivered intact. With check_finite off the value passes.
TEST(Loader, NonFiniteInputStopsTheBatchThatHoldsIt) {
  struct Case {
    std::string workload, dataset;
    float value;
    std::string text;
  };
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (const Case& c : {Case{"violence", "features", inf, "inf"}, Case{"shoplifting", "pose", nan, "nan"}}) {
    for (const std::int64_t sample : {2, 9}) {
      for (const int threads : {0, 2}) {
        SCOPED_TRACE(fmt::format("{} sample {} threads {}", c.workload, sample, threads));
        TempDir dir;
        const auto path = dir / "bad.h5";
        data::synthesize({.workload = c.workload, .samples = 16, .seed = 2, .frames = kFrames, .feature_dim = kDim},
                         path);
        parbench::test::poison_sample(path, "/" + c.dataset, sample, 7, c.value);
        const data::LoaderOptions options{.workload = c.workload, .batch = 4, .shuffle = false, .threads = threads};
        data::Loader loader(path, options);
        loader.start_epoch(0);
        const std::int64_t bad_batch = sample / 4;
        for (std::int64_t b = 0; b < bad_batch; ++b) EXPECT_TRUE(loader.next().has_value());
        const std::string m = parbench::test::error_of([&] { loader.next(); });
        EXPECT_NE(m.find(fmt::format("bad.h5:/{}: sample {} holds {} at element 7", c.dataset, sample, c.text)),
                  std::string::npos)
            << m;
        // Unchecked, the value reaches the batch.
        data::LoaderOptions unchecked = options;
        unchecked.check_finite = false;
        data::Loader raw(path, unchecked);
        const data::Batch batch = raw.read(0, bad_batch);
        const float got = batch.inputs.at(c.dataset).values[static_cast<std::size_t>(
            (sample % 4) * (static_cast<std::int64_t>(batch.inputs.at(c.dataset).values.size()) / 4) + 7)];
        EXPECT_FALSE(std::isfinite(got));
      }
    }
  }
}

// The vectorised test every batch goes through: each kind of NaN and infinity is found at every
// position (the vector body and the scalar tail of several lengths), and no finite value is taken
// for one, the extremes and subnormals included.
TEST(Loader, AllFiniteFindsEveryNonFiniteValueAndNoFiniteOne) {
  auto from_bits = [](std::uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  };
  const std::vector<float> bad = {std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN(),
                                  from_bits(0x7f800001u),  // signalling
                                  from_bits(0xffc00000u),
                                  from_bits(0x7fffffffu)};
  const std::vector<float> good = {std::numeric_limits<float>::max(),
                                   -std::numeric_limits<float>::max(),
                                   std::numeric_limits<float>::denorm_min(),
                                   -0.0f,
                                   0.0f,
                                   1.0f};
  for (const std::size_t n : {1, 3, 4, 7, 8, 15, 16, 17, 33, 1000}) {
    std::vector<float> values(n, 0.25f);
    EXPECT_TRUE(data::all_finite(values));
    for (std::size_t i = 0; i < n; ++i) {
      for (const float b : bad) {
        values[i] = b;
        EXPECT_FALSE(data::all_finite(values)) << "n " << n << " at " << i << " value " << b;
      }
      for (const float g : good) {
        values[i] = g;
        EXPECT_TRUE(data::all_finite(values)) << "n " << n << " at " << i << " value " << g;
      }
      values[i] = 0.25f;
    }
  }
  EXPECT_TRUE(data::all_finite({}));
}

}  // namespace
