// Synthetic data: a pure function of (seed, sample), the requested class balance, and learnable:
// a small model separates the classes on held-out samples where the class prior cannot.
#include <gtest/gtest.h>

#include <cmath>

#include "data/h5.h"
#include "data/schema.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

TEST(Synth, SamplesDoNotDependOnBlocking) {
  for (const char* workload : {"violence", "shoplifting"}) {
    SCOPED_TRACE(workload);
    const data::SynthOptions options{.workload = workload, .samples = 12, .seed = 7, .frames = 4, .feature_dim = 32};
    data::SynthBlock whole, tail;
    data::generate(options, 0, 12, whole);
    data::generate(options, 5, 7, tail);
    const auto same_tail = [](const std::vector<float>& a, const std::vector<float>& b) {
      return std::equal(b.begin(), b.end(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
    };
    EXPECT_TRUE(same_tail(whole.features, tail.features));
    EXPECT_TRUE(same_tail(whole.visual, tail.visual));
    EXPECT_TRUE(same_tail(whole.pose, tail.pose));
    EXPECT_TRUE(std::equal(tail.labels.begin(), tail.labels.end(), whole.labels.begin() + 5));
    data::SynthOptions other = options;
    other.seed = 8;
    data::SynthBlock different;
    data::generate(other, 0, 12, different);
    EXPECT_NE(
        different.labels == whole.labels && different.features == whole.features && different.visual == whole.visual,
        true);
  }
}

TEST(Synth, FileDoesNotDependOnChunking) {
  TempDir dir;
  data::SynthOptions options{.workload = "violence", .samples = 23, .seed = 3, .frames = 3, .feature_dim = 16};
  options.chunk_samples = 1;
  data::synthesize(options, dir / "a.h5");
  options.chunk_samples = 5;
  options.gzip_level = 0;
  data::synthesize(options, dir / "b.h5");
  auto read = [](const std::filesystem::path& path) {
    h5::File file = h5::open_read(path);
    h5::Dataset features = h5::open_dataset(file.get(), "/features");
    std::vector<float> values(23 * 3 * 16);
    h5::read_rows(features.get(), H5T_NATIVE_FLOAT, 0, 23, values.data());
    return values;
  };
  EXPECT_EQ(read(dir / "a.h5"), read(dir / "b.h5"));
}

TEST(Synth, ClassBalanceFollowsTheOption) {
  for (double fraction : {0.22, 0.5}) {
    data::SynthBlock block;
    data::generate(
        {.workload = "violence", .samples = 4000, .positive_fraction = fraction, .frames = 1, .feature_dim = 1}, 0,
        4000, block);
    const double positives = static_cast<double>(std::count(block.labels.begin(), block.labels.end(), 1));
    EXPECT_NEAR(positives / 4000.0, fraction, 0.03);
  }
  data::SynthBlock block;
  data::generate({.workload = "shoplifting", .samples = 500, .positive_fraction = 0.3}, 0, 500, block);
  for (std::size_t i = 0; i < 500; ++i) {
    // Normal clips carry the Normal action; anomalies one of the 13 crimes.
    EXPECT_EQ(block.labels[i] == 0, block.action[i] == 13);
    EXPECT_GE(block.action[i], 0);
    EXPECT_LT(block.action[i], 14);
  }
  for (float p : block.pose) {
    EXPECT_GE(p, 0.0f);
    EXPECT_LE(p, 1.0f);
  }
}

// Nearest class centroid on per-sample summary features, fitted on `train` and scored on `test`.
double centroid_accuracy(const std::vector<std::vector<double>>& train_x, const std::vector<int>& train_y,
                         const std::vector<std::vector<double>>& test_x, const std::vector<int>& test_y, int classes) {
  const std::size_t dims = train_x.front().size();
  std::vector<std::vector<double>> centroid(static_cast<std::size_t>(classes), std::vector<double>(dims, 0.0));
  std::vector<double> count(static_cast<std::size_t>(classes), 0.0);
  for (std::size_t i = 0; i < train_x.size(); ++i) {
    auto& c = centroid[static_cast<std::size_t>(train_y[i])];
    for (std::size_t d = 0; d < dims; ++d) c[d] += train_x[i][d];
    count[static_cast<std::size_t>(train_y[i])] += 1;
  }
  for (int k = 0; k < classes; ++k) {
    for (auto& v : centroid[static_cast<std::size_t>(k)]) v /= std::max(1.0, count[static_cast<std::size_t>(k)]);
  }
  int correct = 0;
  for (std::size_t i = 0; i < test_x.size(); ++i) {
    int best = 0;
    double best_distance = INFINITY;
    for (int k = 0; k < classes; ++k) {
      double distance = 0;
      for (std::size_t d = 0; d < dims; ++d)
        distance += std::pow(test_x[i][d] - centroid[static_cast<std::size_t>(k)][d], 2);
      if (distance < best_distance) {
        best_distance = distance;
        best = k;
      }
    }
    correct += best == test_y[i];
  }
  return static_cast<double>(correct) / static_cast<double>(test_x.size());
}

double prior_accuracy(const std::vector<int>& test_y, int majority) {
  return static_cast<double>(std::count(test_y.begin(), test_y.end(), majority)) / static_cast<double>(test_y.size());
}

TEST(Synth, ViolenceIsLearnableFromTemporalPatterns) {
  const std::int64_t frames = 20, dim = 256, n = 600;
  data::SynthOptions options{.workload = "violence",
                             .samples = n,
                             .seed = 11,
                             .positive_fraction = 0.22,
                             .frames = frames,
                             .feature_dim = dim};
  data::SynthBlock block;
  data::generate(options, 0, n, block);
  // Per feature: mean over time and mean absolute frame-to-frame change (how fast it moves).
  std::vector<std::vector<double>> x;
  std::vector<int> y(block.labels.begin(), block.labels.end());
  for (std::int64_t s = 0; s < n; ++s) {
    std::vector<double> summary(2 * dim, 0.0);
    const float* f = block.features.data() + s * frames * dim;
    for (std::int64_t t = 0; t < frames; ++t) {
      for (std::int64_t d = 0; d < dim; ++d) {
        summary[d] += f[t * dim + d] / frames;
        if (t > 0) summary[dim + d] += std::abs(f[t * dim + d] - f[(t - 1) * dim + d]) / (frames - 1);
      }
    }
    x.push_back(summary);
  }
  const std::vector<std::vector<double>> train_x(x.begin(), x.begin() + 300), test_x(x.begin() + 300, x.end());
  const std::vector<int> train_y(y.begin(), y.begin() + 300), test_y(y.begin() + 300, y.end());
  const double accuracy = centroid_accuracy(train_x, train_y, test_x, test_y, 2);
  // A constant predictor gets the prior, about 0.78 here; the temporal summary nearly everything.
  EXPECT_LT(prior_accuracy(test_y, 0), 0.85);
  EXPECT_GE(accuracy, 0.95);
}

TEST(Synth, ShopliftingAnomalyIsLearnable) {
  const std::int64_t n = 400;
  data::SynthBlock block;
  data::generate({.workload = "shoplifting", .samples = n, .seed = 5}, 0, n, block);
  std::vector<std::vector<double>> x;
  for (std::int64_t s = 0; s < n; ++s) {
    x.emplace_back(block.visual.begin() + s * 2048, block.visual.begin() + (s + 1) * 2048);
  }
  std::vector<int> y(block.labels.begin(), block.labels.end());
  const std::vector<std::vector<double>> train_x(x.begin(), x.begin() + 300), test_x(x.begin() + 300, x.end());
  const std::vector<int> train_y(y.begin(), y.begin() + 300), test_y(y.begin() + 300, y.end());
  EXPECT_GE(centroid_accuracy(train_x, train_y, test_x, test_y, 2), 0.9);
  EXPECT_LT(prior_accuracy(test_y, 0), 0.65);
}

TEST(Synth, ParseSplits) {
  auto splits = data::parse_splits("train,val");
  ASSERT_EQ(splits.size(), 2u);
  EXPECT_EQ(splits[0].name, "train");
  EXPECT_DOUBLE_EQ(splits[0].fraction, 0.8);
  splits = data::parse_splits("train=0.9,val=0.1");
  EXPECT_DOUBLE_EQ(splits[1].fraction, 0.1);
  EXPECT_THROW(data::parse_splits("train=0.9,val=0.2"), parbench::Error);
  EXPECT_THROW(data::parse_splits("train,train"), parbench::Error);
  EXPECT_THROW(data::parse_splits("a/b"), parbench::Error);
  EXPECT_THROW(data::parse_splits("train=x"), parbench::Error);
}

TEST(Synth, BadOptionsAreRejectedBeforeWriting) {
  TempDir dir;
  EXPECT_THROW(data::synthesize({.workload = "violence", .samples = 0}, dir / "a.h5"), parbench::Error);
  EXPECT_THROW(data::synthesize({.workload = "imagenet", .samples = 5}, dir / "a.h5"), parbench::Error);
  data::SynthOptions options{.workload = "violence", .samples = 1};
  options.splits = data::parse_splits("train,val");
  EXPECT_THROW(data::synthesize(options, dir / "a.h5"), parbench::Error);
  EXPECT_TRUE(dir.files().empty());
}

}  // namespace
