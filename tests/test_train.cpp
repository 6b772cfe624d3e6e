// Serial training end to end on real HDF5 files: it converges on synthetic data where the class
// prior cannot, a resumed run continues bitwise where it stopped, and bad inputs stop cleanly.
#include <gtest/gtest.h>

#include <cmath>

#include "data/checkpoint.h"
#include "data/synth.h"
#include "strategies/trainer.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

std::filesystem::path violence_data(const TempDir& dir, std::int64_t samples, double balance = 0.5) {
  data::SynthOptions options{.workload = "violence",
                             .samples = samples,
                             .seed = 4,
                             .positive_fraction = balance,
                             .frames = 8,
                             .feature_dim = 64};
  options.splits = data::parse_splits("train,val");
  data::synthesize(options, dir / "violence.h5");
  return dir / "violence.h5";
}

strategies::TrainOptions options_for(const std::string& workload, const std::filesystem::path& data) {
  strategies::TrainOptions o;
  o.strategy.workload = workload;
  o.strategy.loss.spec = models::default_loss(workload);
  o.strategy.optimizer.warmup_steps = -1;
  o.data = data;
  o.quiet = true;
  return o;
}

TEST(TrainMetrics, ClassificationMetrics) {
  const auto r = strategies::classification_metrics("h", 2, {0, 0, 1, 1, 1}, {0, 1, 1, 1, 0});
  EXPECT_DOUBLE_EQ(r.accuracy, 0.6);
  EXPECT_EQ(r.confusion, (std::vector<std::vector<std::int64_t>>{{1, 1}, {1, 2}}));
  EXPECT_DOUBLE_EQ(r.class_accuracy[0], 0.5);
  EXPECT_DOUBLE_EQ(r.class_accuracy[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.f1_positive, 2.0 * 2 / (3 + 3));  // precision 2/3, recall 2/3
  EXPECT_EQ(strategies::balanced_class_weights({78, 22}), (std::vector<float>{100.0f / 156, 100.0f / 44}));
}

TEST(TrainMetrics, WarmupCosineSchedule) {
  models::OptimizerConfig c;
  c.lr = 1e-3f;
  c.warmup_steps = 4;
  c.total_steps = 14;
  EXPECT_FLOAT_EQ(models::learning_rate(c, 0), 0.25e-3f);
  EXPECT_FLOAT_EQ(models::learning_rate(c, 3), 1e-3f);
  EXPECT_FLOAT_EQ(models::learning_rate(c, 4), 1e-3f);
  EXPECT_NEAR(models::learning_rate(c, 9), 0.5e-3 + 0.5e-7, 1e-9);
  EXPECT_FLOAT_EQ(models::learning_rate(c, 14), 1e-7f);
  c.schedule = "constant";
  EXPECT_FLOAT_EQ(models::learning_rate(c, 9), 1e-3f);
  EXPECT_FLOAT_EQ(models::clip_factor(1.0f, 4.0), static_cast<float>(1.0 / (4.0 + 1e-6)));
  EXPECT_FLOAT_EQ(models::clip_factor(1.0f, 0.5), 1.0f);
  EXPECT_FLOAT_EQ(models::clip_factor(0.0f, 9.0), 1.0f);
}

TEST(Train, ViolenceConvergesWhereThePriorCannot) {
  TempDir dir;
  auto o = options_for("violence", violence_data(dir, 500, 0.22));
  o.batch = 32;
  o.epochs = 4;
  o.class_weights = true;
  const auto result = strategies::train(o);
  ASSERT_EQ(result.last_eval.size(), 1u);
  const auto& eval = result.last_eval[0];
  // A constant predictor gets the majority share (about 0.78) and F1 0 for the violent class.
  EXPECT_GE(eval.accuracy, 0.9);
  EXPECT_GE(eval.f1_positive, 0.8);
  EXPECT_EQ(result.metrics["schema"], "parbench.train/1");
  EXPECT_EQ(result.metrics["epochs"].size(), 4u);
}

TEST(Train, ShopliftingAnomalyHeadConverges) {
  TempDir dir;
  data::SynthOptions options{.workload = "shoplifting", .samples = 500, .seed = 2};
  options.splits = data::parse_splits("train,val");
  data::synthesize(options, dir / "s.h5");
  auto o = options_for("shoplifting", dir / "s.h5");
  o.batch = 32;
  o.epochs = 4;
  const auto result = strategies::train(o);
  ASSERT_EQ(result.last_eval.size(), 2u);
  EXPECT_EQ(result.last_eval[0].head, "anomaly");
  EXPECT_GE(result.last_eval[0].accuracy, 0.9);
}

std::vector<float> params_of(const std::filesystem::path& checkpoint) {
  std::vector<float> all;
  for (const auto& t : data::load_checkpoint(checkpoint, "violence").params) {
    all.insert(all.end(), t.values.begin(), t.values.end());
  }
  return all;
}

TEST(Train, ResumeContinuesBitwise) {
  TempDir dir;
  const auto data = violence_data(dir, 120);
  auto o = options_for("violence", data);
  o.batch = 16;  // 6 steps per epoch: the split point 4 lies inside an epoch
  o.strategy.optimizer.schedule = "constant";
  o.steps = 8;
  o.checkpoint = dir / "straight.h5";
  strategies::train(o);
  o.steps = 4;
  o.checkpoint = dir / "half.h5";
  strategies::train(o);
  o.steps = 8;
  o.resume = dir / "half.h5";
  o.checkpoint = dir / "resumed.h5";
  strategies::train(o);
  // An existing output is refused before training unless forced or continued.
  EXPECT_THROW(strategies::train(o), parbench::Error);
  o.checkpoint = dir / "half.h5";
  o.steps = 9;
  strategies::train(o);
  EXPECT_EQ(data::load_checkpoint(dir / "half.h5", "violence").step, 9);
  const auto straight = params_of(dir / "straight.h5"), resumed = params_of(dir / "resumed.h5");
  ASSERT_EQ(straight.size(), resumed.size());
  EXPECT_TRUE(std::equal(straight.begin(), straight.end(), resumed.begin())) << "resumed run diverged";
  EXPECT_FALSE(std::equal(straight.begin(), straight.end(), params_of(dir / "half.h5").begin()));
}

std::string train_error(const strategies::TrainOptions& o) {
  try {
    strategies::train(o);
  } catch (const parbench::Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Train, BadInputs) {
  TempDir dir;
  const auto data = violence_data(dir, 60);
  auto o = options_for("violence", data);
  o.batch = 100;
  std::string m = train_error(o);
  EXPECT_NE(m.find("batch size 100 larger than the 48 samples"), std::string::npos) << m;

  o.batch = 8;
  o.steps = 2;
  o.checkpoint = dir / "good.h5";
  strategies::train(o);
  auto shop = options_for("shoplifting", data);
  m = train_error(shop);
  EXPECT_NE(m.find("holds data for workload 'violence', expected 'shoplifting'"), std::string::npos) << m;

  // A checkpoint of another workload, and a truncated one.
  data::SynthOptions s{.workload = "shoplifting", .samples = 40};
  data::synthesize(s, dir / "shop.h5");
  shop = options_for("shoplifting", dir / "shop.h5");
  shop.resume = dir / "good.h5";
  m = train_error(shop);
  EXPECT_NE(m.find("good.h5"), std::string::npos) << m;
  EXPECT_NE(m.find("'violence'"), std::string::npos) << m;
  std::filesystem::copy_file(dir / "good.h5", dir / "cut.h5");
  std::filesystem::resize_file(dir / "cut.h5", std::filesystem::file_size(dir / "good.h5") / 2);
  o.resume = dir / "cut.h5";
  o.checkpoint.clear();
  m = train_error(o);
  EXPECT_NE(m.find("cut.h5"), std::string::npos) << m;
}

TEST(Train, NanLossStopsWithStepAndLayerAndKeepsTheLastCheckpoint) {
  TempDir dir;
  const auto data = violence_data(dir, 60);
  auto o = options_for("violence", data);
  o.batch = 8;
  o.steps = 2;
  o.checkpoint = dir / "last.h5";
  strategies::train(o);
  const auto before = params_of(dir / "last.h5");
  // A learning rate that blows the weights up: the loss becomes NaN within a few steps.
  o.resume = dir / "last.h5";
  o.steps = 40;
  o.strategy.optimizer.lr = 1e30f;
  o.strategy.optimizer.schedule = "constant";
  o.strategy.optimizer.clip = 0;
  o.strategy.optimizer.kind = "adam";
  const std::string m = train_error(o);
  EXPECT_NE(m.find("at step"), std::string::npos) << m;
  EXPECT_TRUE(m.find("output of layer") != std::string::npos || m.find("gradient norm") != std::string::npos) << m;
  const auto after = params_of(dir / "last.h5");
  EXPECT_EQ(before, after);
}

}  // namespace
