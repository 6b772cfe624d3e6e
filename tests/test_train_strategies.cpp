// Every strategy trains both workloads through the training loop (real HDF5 files, loaders,
// evaluation, checkpoints, metrics) to the accuracy serial reaches on the same data. The
// multi-process strategies run their ranks as threads over `local` communicators, each rank a
// whole train() call reading its rows of every global batch, as under mpirun.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "data/synth.h"
#include "strategies/trainer.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

std::filesystem::path synth(const TempDir& dir, const std::string& workload) {
  data::SynthOptions options{.workload = workload, .samples = 400, .seed = 4, .positive_fraction = 0.3};
  if (workload == "violence") {
    options.frames = 8;
    options.feature_dim = 64;
  }
  options.splits = data::parse_splits("train,val");
  auto path = dir / (workload + ".h5");  // not const: returned by move
  data::synthesize(options, path);
  return path;
}

strategies::TrainOptions options_for(const std::string& workload, const std::filesystem::path& data,
                                     const std::string& strategy, int workers) {
  strategies::TrainOptions o;
  o.strategy_name = strategy;
  o.strategy.workload = workload;
  o.strategy.workers = workers;
  o.strategy.stage = strategy == "zero" ? 2 : 0;
  o.strategy.sync_bn = true;
  o.strategy.loss.spec = models::default_loss(workload);
  o.strategy.optimizer.warmup_steps = -1;
  o.data = data;
  o.batch = 32;
  o.epochs = 3;
  o.loader_threads = 1;
  o.quiet = true;
  return o;
}

// train() on `workers` threads over local communicators for ddp/zero, else in this thread;
// returns rank 0's result.
strategies::TrainResult train_with(strategies::TrainOptions o) {
  if (!test::runs_as_ranks(o.strategy_name)) return strategies::train(o);
  std::vector<strategies::TrainResult> results(static_cast<std::size_t>(o.strategy.workers));
  test::on_local_ranks(o.strategy.workers, [&](int rank, std::shared_ptr<strategies::Comm> comm) {
    strategies::TrainOptions mine = o;
    mine.strategy.comm = std::move(comm);
    results[static_cast<std::size_t>(rank)] = strategies::train(mine);
  });
  return results[0];
}

class TrainsLikeSerial : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(TrainsLikeSerial, SameValidationAccuracy) {
  const auto& [workload, strategy] = GetParam();
  TempDir dir;
  const auto data = synth(dir, workload);
  const auto serial = strategies::train(options_for(workload, data, "serial", 1));
  auto o = options_for(workload, data, strategy, 2);
  o.metrics = dir / "metrics.json";
  const auto result = train_with(o);
  ASSERT_EQ(result.last_eval.size(), serial.last_eval.size());
  // The same steps on the same batches: the parameters agree to rounding, so the validation
  // predictions do too, but for samples whose logits are nearly tied (1-2 of the 75 here).
  for (std::size_t h = 0; h < serial.last_eval.size(); ++h) {
    EXPECT_NEAR(result.last_eval[h].accuracy, serial.last_eval[h].accuracy, 0.03) << result.last_eval[h].head;
  }
  EXPECT_GE(result.last_eval[0].accuracy, 0.9) << "the anomaly / violence head learns";
  EXPECT_NEAR(result.last_loss, serial.last_loss, 1e-3 * std::abs(serial.last_loss));

  std::ifstream file(o.metrics);
  const auto metrics = nlohmann::json::parse(file);
  EXPECT_EQ(metrics["config"]["strategy"], strategy);
  EXPECT_EQ(metrics["config"]["workers"], 2);
  EXPECT_EQ(metrics["config"]["processes"], test::runs_as_ranks(strategy) ? 2 : 1);
  const auto& last = metrics["epochs"].back();
  EXPECT_GT(last["communication"]["bytes_per_step"].get<double>(), 0.0);
  EXPECT_GT(last["step_ms"]["communication"].get<double>(), 0.0);
  const auto& memory = metrics["memory_per_worker_bytes"];
  EXPECT_DOUBLE_EQ(memory["model_state"].get<double>(), memory["predicted_model_state"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(Strategies, TrainsLikeSerial,
                         ::testing::Combine(::testing::Values("violence", "shoplifting"),
                                            ::testing::Values("thread_pool", "task_graph", "dp", "ddp", "zero")),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

TEST(TrainTrace, OneTrackPerWorkerInAChromeTrace) {
  TempDir dir;
  auto o = options_for("shoplifting", synth(dir, "shoplifting"), "thread_pool", 2);
  o.steps = 2;
  o.trace = dir / "trace.json";
  strategies::train(o);
  std::ifstream file(o.trace);
  const auto trace = nlohmann::json::parse(file);
  std::set<int> tracks;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] == "X") tracks.insert(event["tid"].get<int>());
  }
  EXPECT_TRUE(tracks.count(0) && tracks.count(1)) << trace.dump().substr(0, 400);
}

}  // namespace
