// Preemption (TrainOptions::stop): a run told to stop finishes its step, writes the checkpoint at
// that step and returns preempted; resumed, it ends with the parameters of a run never stopped.
// Under ddp the ranks (threads over `local` communicators here, MPI ranks in
// mpi.train_preempted_resumes) stop after the same step even when only one of them was told.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/checkpoint.h"
#include "data/synth.h"
#include "strategies/trainer.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

std::filesystem::path violence_data(const TempDir& dir) {
  data::SynthOptions options{.workload = "violence", .samples = 120, .seed = 4, .frames = 8, .feature_dim = 64};
  options.splits = data::parse_splits("train,val");
  data::synthesize(options, dir / "violence.h5");
  return dir / "violence.h5";
}

// 96 training rows in batches of 16: 6 steps per epoch, 8 steps end inside the second epoch.
strategies::TrainOptions options_for(const std::filesystem::path& data, const std::string& strategy, int workers) {
  strategies::TrainOptions o;
  o.strategy_name = strategy;
  o.strategy.workload = "violence";
  o.strategy.workers = workers;
  o.strategy.loss.spec = models::default_loss("violence");
  o.strategy.optimizer.schedule = "constant";
  o.data = data;
  o.batch = 16;
  o.steps = 8;
  o.loader_threads = 1;
  o.quiet = true;
  return o;
}

const std::atomic<bool> never{false};  // makes a run preemptible; only stop_after_step stops it

std::vector<float> params_of(const std::filesystem::path& checkpoint) {
  std::vector<float> all;
  for (const auto& t : data::load_checkpoint(checkpoint, "violence").params) {
    all.insert(all.end(), t.values.begin(), t.values.end());
  }
  return all;
}

// train() once per rank on threads over local communicators; `per_rank` adjusts each rank's options.
std::vector<strategies::TrainResult> train_ranks(const strategies::TrainOptions& o,
                                                 const std::function<void(int, strategies::TrainOptions&)>& per_rank) {
  std::vector<strategies::TrainResult> results(static_cast<std::size_t>(o.strategy.workers));
  test::on_local_ranks(o.strategy.workers, [&](int rank, std::shared_ptr<strategies::Comm> comm) {
    strategies::TrainOptions mine = o;
    mine.strategy.comm = std::move(comm);
    per_rank(rank, mine);
    results[static_cast<std::size_t>(rank)] = strategies::train(mine);
  });
  return results;
}

TEST(Preempt, StopsAfterTheStepWritesTheCheckpointAndResumesBitwise) {
  TempDir dir;
  const auto data = violence_data(dir);
  auto o = options_for(data, "serial", 1);
  o.checkpoint = dir / "straight.h5";
  const auto straight = strategies::train(o);
  EXPECT_FALSE(straight.preempted);

  // Stopped after step 7: inside the second epoch, after the first epoch's checkpoint.
  o.checkpoint = dir / "run.h5";
  o.metrics = dir / "first.json";
  o.stop = &never;
  o.stop_after_step = 7;
  const auto first = strategies::train(o);
  EXPECT_TRUE(first.preempted);
  EXPECT_EQ(first.steps, 7);
  EXPECT_EQ(first.last_epoch, 2);
  EXPECT_EQ(data::load_checkpoint(o.checkpoint, "violence").step, 7);
  const auto metrics = nlohmann::json::parse(std::ifstream(o.metrics));
  EXPECT_TRUE(metrics["result"]["preempted"].get<bool>());
  EXPECT_EQ(metrics["result"]["steps"], 7);
  EXPECT_EQ(metrics["context"]["placement"]["local_size"], 1);

  o.stop_after_step = 0;
  o.resume = o.checkpoint;  // the same file: continued, not refused as an existing output
  o.metrics = dir / "second.json";
  const auto second = strategies::train(o);
  EXPECT_FALSE(second.preempted);
  EXPECT_EQ(second.steps, 8);
  EXPECT_EQ(params_of(dir / "run.h5"), params_of(dir / "straight.h5")) << "the preempted and resumed run diverged";
}

TEST(Preempt, AFlagAlreadySetStopsAfterOneStep) {
  TempDir dir;
  auto o = options_for(violence_data(dir), "serial", 1);
  const std::atomic<bool> stop{true};
  o.stop = &stop;
  o.checkpoint = dir / "run.h5";
  const auto result = strategies::train(o);
  EXPECT_TRUE(result.preempted);
  EXPECT_EQ(result.steps, 1);
  EXPECT_EQ(data::load_checkpoint(o.checkpoint, "violence").step, 1);
}

TEST(Preempt, AStopAtTheLastStepIsACompleteRun) {
  TempDir dir;
  auto o = options_for(violence_data(dir), "serial", 1);
  o.checkpoint = dir / "run.h5";
  o.stop = &never;
  o.stop_after_step = 8;
  const auto result = strategies::train(o);
  EXPECT_FALSE(result.preempted);
  EXPECT_EQ(result.steps, 8);
}

TEST(Preempt, DdpRanksStopTogetherWhenOneIsTold) {
  TempDir dir;
  const auto data = violence_data(dir);
  auto o = options_for(data, "ddp", 2);
  o.strategy.deterministic = true;
  const auto unchanged = [](int, strategies::TrainOptions&) {};
  o.checkpoint = dir / "straight.h5";
  train_ranks(o, unchanged);

  // Only rank 1 is told (a signal that reached one process): both must stop after step 3, or
  // rank 0 would wait forever in the next step's collectives.
  o.checkpoint = dir / "run.h5";
  o.stop = &never;
  const auto first = train_ranks(o, [](int rank, strategies::TrainOptions& mine) {
    if (rank == 1) mine.stop_after_step = 3;
  });
  for (const auto& r : first) {
    EXPECT_TRUE(r.preempted);
    EXPECT_EQ(r.steps, 3);
  }
  EXPECT_EQ(data::load_checkpoint(o.checkpoint, "violence").step, 3);

  o.resume = o.checkpoint;
  const auto second = train_ranks(o, unchanged);
  EXPECT_FALSE(second[0].preempted);
  EXPECT_EQ(params_of(dir / "run.h5"), params_of(dir / "straight.h5")) << "the preempted and resumed ddp run diverged";
}

}  // namespace
