// `thread_pool` and `task_graph` against `serial`: the same parameters, BatchNorm buffers and Adam
// state after a few steps on uneven batches, for N = 1..4 on both workloads (N = 1 bitwise); runs
// repeat bitwise; bad worker counts fail clearly; a failed step neither hangs nor breaks the next;
// the BatchNorm shard sum cannot deadlock; state, memory, trace and step results hold what they say.
#include <gtest/gtest.h>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <cmath>
#include <limits>
#include <thread>

#include "strategies/replica.h"
#include "strategies/thread_replicas.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using strategies::FullState;
using test::expect_bitwise_equal;
using test::expect_close_to_serial;
using test::run_steps;
using test::small_options;

constexpr int kBatch = 7;  // uneven over 2, 3 and 4 workers (N = 4: one shard of one row)
constexpr int kSteps = 3;

const std::vector<std::string> kStrategies = {"thread_pool", "task_graph"};

// N > 1: with Adam's eps = 1e-3, within 3e-3 of each state's scale (strategy_test_util.h says why).
class ThreadsMatchSerial : public testing::TestWithParam<std::tuple<std::string, std::string, int>> {};

TEST_P(ThreadsMatchSerial, AfterThreeAdamStepsOnUnevenBatches) {
  const auto& [strategy, workload, workers] = GetParam();
  const test::RunResult& serial = test::serial_run(workload, kBatch, kSteps);
  const test::RunResult run = run_steps(strategy, test::compare_options(workload, workers, kBatch), kBatch, kSteps);
  ASSERT_EQ(run.steps.size(), serial.steps.size());
  if (workers == 1) {
    // One worker is serial's computation: the same kernels on the same rows in the same order
    // (task_graph's per-layer Adam is element-wise, so splitting it changes no bit).
    expect_bitwise_equal(run.state, serial.state);
    for (std::size_t s = 0; s < run.steps.size(); ++s) {
      EXPECT_EQ(run.steps[s].loss_sum, serial.steps[s].loss_sum);
      EXPECT_EQ(run.steps[s].grad_norm, serial.steps[s].grad_norm);
      EXPECT_EQ(run.steps[s].lr, serial.steps[s].lr);
    }
    return;
  }
  expect_close_to_serial(strategy + " " + workload + " N=" + std::to_string(workers), run.state, serial.state,
                         test::serial_run(workload, kBatch, 0).state);
  test::expect_steps_close_to_serial(run.steps, serial.steps, kBatch);
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadsMatchSerial,
                         testing::Combine(testing::ValuesIn(kStrategies), testing::Values("violence", "shoplifting"),
                                          testing::Values(1, 2, 3, 4)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" +
                                  std::to_string(std::get<2>(info.param));
                         });

class InProcessStrategy : public testing::TestWithParam<std::string> {};

TEST_P(InProcessStrategy, DeterministicRunsRepeatBitwise) {
  for (const std::string workload : {"violence", "shoplifting"}) {
    auto options = small_options(workload, 3, kBatch);
    options.deterministic = true;
    const test::RunResult first = run_steps(GetParam(), options, kBatch, kSteps);
    const test::RunResult second = run_steps(GetParam(), options, kBatch, kSteps);
    expect_bitwise_equal(first.state, second.state);
  }
}

TEST_P(InProcessStrategy, ClearErrorsForBadWorkerCounts) {
  const std::string name = GetParam();
  EXPECT_NE(test::error_of([&] {
              strategies::make_strategy(name, small_options("violence", kBatch + 1, kBatch));
            }).find("cannot be split over 8 workers"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              strategies::make_strategy(name, small_options("violence", 0, kBatch));
            }).find("--workers must be at least 1"),
            std::string::npos);
  // A step whose batch has fewer rows than workers.
  auto strategy = strategies::make_strategy(name, small_options("violence", 4, kBatch));
  const test::HostBatch batch = test::random_batch(small_options("violence", 4, kBatch), 3, 1);
  EXPECT_NE(test::error_of([&] { strategy->step(batch.view(), 3, 0); }).find("cannot be split over 4 workers"),
            std::string::npos);
}

// A step that fails (a NaN input: non-finite loss or gradient norm) throws, and the next step runs.
TEST_P(InProcessStrategy, FailedStepThrowsAndTheNextStepRuns) {
  const auto options = small_options("shoplifting", 3, kBatch);
  auto strategy = strategies::make_strategy(GetParam(), options);
  test::HostBatch bad = test::random_batch(options, kBatch, 1);
  bad.inputs["pose"][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(test::error_of([&] { strategy->step(bad.view(), kBatch, 0); }).find("nan at step 0"), std::string::npos);
  // The failed step may have left NaN in the running statistics; training uses batch statistics.
  const test::HostBatch good = test::random_batch(options, kBatch, 2);
  for (int s = 0; s < 2; ++s) EXPECT_TRUE(std::isfinite(strategy->step(good.view(), kBatch, s).loss_sum));
}

// The whole state, Adam's per-part moments included, goes in and comes back out unchanged, and
// training continues from it as serial does.
TEST_P(InProcessStrategy, LoadStateRoundTripsAndContinuesLikeSerial) {
  const std::string workload = "violence";
  const FullState& trained = test::serial_run(workload, kBatch, kSteps).state;
  auto serial = strategies::make_strategy("serial", test::compare_options(workload, 1, kBatch));
  auto threads = strategies::make_strategy(GetParam(), test::compare_options(workload, 3, kBatch));
  serial->load_state(trained);
  threads->load_state(trained);
  expect_bitwise_equal(threads->state(), trained);
  const test::HostBatch batch = test::random_batch(test::compare_options(workload, 1, kBatch), kBatch, 7);
  serial->step(batch.view(), kBatch, kSteps);
  threads->step(batch.view(), kBatch, kSteps);
  expect_close_to_serial(GetParam() + " resumed", threads->state(), serial->state(), trained);
}

TEST_P(InProcessStrategy, MemoryMatchesTheReplicatedPrediction) {
  auto strategy = strategies::make_strategy(GetParam(), small_options("violence", 3, kBatch));
  const strategies::MemoryReport report = strategy->memory(kBatch);
  const double p = static_cast<double>(strategy->model().parameter_count());
  EXPECT_EQ(report.parameters, 4 * p);
  EXPECT_EQ(report.gradients, 4 * p);
  EXPECT_EQ(report.optimizer_state, 8 * p);
  EXPECT_EQ(report.parameters + report.gradients + report.optimizer_state, report.predicted_model_state);
  // Worker 0 holds activations for its shard: 3 of 7 rows.
  EXPECT_EQ(report.activations, 4.0 * static_cast<double>(strategy->model().activation_floats_per_sample()) * 3);
  EXPECT_GT(report.measured_peak, 0);
}

TEST_P(InProcessStrategy, StepResultAndTracePerWorker) {
  auto options = small_options("violence", 2, kBatch);
  options.trace = std::make_shared<strategies::Trace>();
  auto strategy = strategies::make_strategy(GetParam(), options);
  const test::HostBatch batch = test::random_batch(options, kBatch, 3);
  const strategies::StepResult result = strategy->step(batch.view(), kBatch, 0);
  EXPECT_EQ(result.samples, kBatch);
  EXPECT_GT(result.times.compute, 0);
  EXPECT_GT(result.times.communication, 0);
  EXPECT_GE(result.times.exposed_communication, 0);
  EXPECT_LE(result.times.exposed_communication, result.times.communication + 1e-3);
  EXPECT_GT(result.times.optimizer, 0);
  // The gradients (4P bytes) plus the BatchNorm sums.
  EXPECT_GT(result.bytes, 4.0 * static_cast<double>(strategy->model().parameter_count()));
  const std::string json = options.trace->json();
  for (const char* expected : {"\"tid\":0", "\"tid\":1", "forward+backward", "optimizer"}) {
    EXPECT_NE(json.find(expected), std::string::npos) << expected;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, InProcessStrategy, testing::ValuesIn(kStrategies));

// Both strategies add every gradient element in replica order (as dp's master does) and use
// serial's one-pass norm and element-wise updates: at the same N they compute the same bits as
// each other and as dp (design.md §4: fixed reduction orders make strategies bitwise equal).
TEST(InProcessStrategies, ThreadPoolTaskGraphAndDpComputeTheSameBits) {
  for (const std::string workload : {"violence", "shoplifting"}) {
    SCOPED_TRACE(workload);
    const auto options = small_options(workload, 3, kBatch);
    const FullState reference = run_steps("thread_pool", options, kBatch, kSteps).state;
    expect_bitwise_equal(run_steps("task_graph", options, kBatch, kSteps).state, reference);
    expect_bitwise_equal(run_steps("dp", options, kBatch, kSteps).state, reference);
  }
}

// ---- the BatchNorm shard sum --------------------------------------------------------------

struct Shards {
  std::vector<std::unique_ptr<kernels::Backend>> backends;
  std::vector<kernels::Backend*> pointers;
  explicit Shards(int n) {
    for (int s = 0; s < n; ++s) pointers.push_back(backends.emplace_back(kernels::make_backend("cpu")).get());
  }
};

// Shard s holds {s + 1, 10 (s + 1)}: the sums 1 + 2 + ... + n are exact in floats.
void expect_sums(const std::vector<std::vector<float>>& values, int n) {
  const float total = static_cast<float>(n * (n + 1) / 2);  // NOLINT(bugprone-integer-division): n (n + 1) is even
  for (const auto& v : values) EXPECT_EQ(v, (std::vector<float>{total, 10 * total}));
}

// Four shards as oneTBB tasks in an arena of ONE thread, each summing twice: a shard that waits
// must give its thread to the others, or this never finishes.
TEST(ShardSumTest, SuspendingShardsNeedNoThreadEach) {
  constexpr int n = 4;
  Shards shards(n);
  strategies::ShardSum sums(shards.pointers, strategies::ShardSum::Wait::suspend);
  sums.reset();
  std::vector<std::vector<float>> first(n), second(n);
  tbb::task_arena arena(1);
  arena.execute([&] {
    tbb::task_group group;
    for (int s = 0; s < n; ++s) {
      group.run([&, s] {
        const float x = static_cast<float>(s + 1);
        first[static_cast<std::size_t>(s)] = {x, 10 * x};
        sums.of(s)(first[static_cast<std::size_t>(s)].data(), 2);
        second[static_cast<std::size_t>(s)] = {x, 10 * x};
        sums.of(s)(second[static_cast<std::size_t>(s)].data(), 2);
      });
    }
    group.wait();
  });
  expect_sums(first, n);
  expect_sums(second, n);
  EXPECT_EQ(sums.floats(), 4u);
}

// A shard that fails releases the shards waiting for it with its error, in both waiting modes.
TEST(ShardSumTest, AFailedShardReleasesTheWaitingOnes) {
  for (const auto wait : {strategies::ShardSum::Wait::block, strategies::ShardSum::Wait::suspend}) {
    constexpr int n = 3;
    Shards shards(n);
    strategies::ShardSum sums(shards.pointers, wait);
    sums.reset();
    std::vector<std::string> errors(n);
    auto shard = [&](int s) {
      try {
        if (s == 2) throw Error("shard 2 failed");
        float values[1] = {1.0f};
        sums.of(s)(values, 1);
      } catch (const Error& e) {
        errors[static_cast<std::size_t>(s)] = e.what();
        sums.fail(std::current_exception());
      }
    };
    if (wait == strategies::ShardSum::Wait::block) {
      std::vector<std::thread> threads;
      threads.reserve(n);
      for (int s = 0; s < n; ++s) threads.emplace_back(shard, s);
      for (auto& t : threads) t.join();
    } else {
      tbb::task_arena arena(1);
      arena.execute([&] {
        tbb::task_group group;
        for (int s = 0; s < n; ++s) group.run([&, s] { shard(s); });
        group.wait();
      });
    }
    for (const auto& error : errors) EXPECT_EQ(error, "shard 2 failed");
  }
}

// After a failed step, reset() makes the sum work again.
TEST(ShardSumTest, ResetStartsTheNextStepClean) {
  constexpr int n = 3;
  Shards shards(n);
  strategies::ShardSum sums(shards.pointers, strategies::ShardSum::Wait::block);
  sums.reset();
  sums.fail(std::make_exception_ptr(Error("failed")));
  float ignored[1] = {0.0f};
  EXPECT_EQ(test::error_of([&] { sums.of(0)(ignored, 1); }), "failed");
  sums.reset();
  std::vector<std::vector<float>> values(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      const float x = static_cast<float>(s + 1);
      values[static_cast<std::size_t>(s)] = {x, 10 * x};
      sums.of(s)(values[static_cast<std::size_t>(s)].data(), 2);
    });
  }
  for (auto& t : threads) t.join();
  expect_sums(values, n);
}

}  // namespace
