// `dp` and `ddp` against `serial`: the same parameters, BatchNorm buffers and Adam state after a
// few steps on uneven batches, for N = 1..4 on both workloads; ddp's bucketing and overlap must not
// change the result; runs repeat bitwise; the measurements and memory report hold what they claim.
#include <gtest/gtest.h>

#include <cmath>

#include "strategies/replica.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using strategies::FullState;
using test::expect_bitwise_equal;
using test::run_steps;
using test::small_options;

constexpr int kBatch = 7;  // uneven over 2, 3 and 4 workers
constexpr int kSteps = 3;

// A workload's model for its layout (spans, counts); the backend must outlive it.
struct Layout {
  std::unique_ptr<kernels::Backend> backend = kernels::make_backend("cpu");
  std::unique_ptr<models::Model> model;
  explicit Layout(const strategies::StrategyOptions& options)
      : model(models::make_model(options.workload, *backend, options.model)) {}
};

// With Adam's eps = 1e-3, within 3e-3 of each state's scale: strategy_test_util.h says why.
class MatchesSerial : public testing::TestWithParam<std::tuple<std::string, std::string, int>> {};

TEST_P(MatchesSerial, AfterThreeAdamStepsOnUnevenBatches) {
  const auto& [strategy, workload, workers] = GetParam();
  const FullState& origin = test::serial_run(workload, kBatch, 0).state;
  const test::RunResult& serial = test::serial_run(workload, kBatch, kSteps);
  const test::RunResult run = run_steps(strategy, test::compare_options(workload, workers, kBatch), kBatch, kSteps);
  test::expect_close_to_serial(strategy + " " + workload + " N=" + std::to_string(workers), run.state, serial.state,
                               origin);
  test::expect_steps_close_to_serial(run.steps, serial.steps, kBatch);
}

INSTANTIATE_TEST_SUITE_P(DpDdp, MatchesSerial,
                         testing::Combine(testing::Values("dp", "ddp"), testing::Values("violence", "shoplifting"),
                                          testing::Values(1, 2, 3, 4)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" +
                                  std::to_string(std::get<2>(info.param));
                         });

// The local communicator sums every element in rank order whatever the bucket boundaries, and so
// does dp's master, replica after replica: bucket size, overlap, and dp versus ddp with the same N
// change when the sums are made, never their order, so the results are bitwise equal.
TEST(Ddp, BucketsAndOverlapDoNotChangeTheResult) {
  for (const std::string workload : {"violence", "shoplifting"}) {
    SCOPED_TRACE(workload);
    const auto options = small_options(workload, 3, kBatch);
    const test::RunResult reference = run_steps("ddp", options, kBatch, kSteps);
    auto tiny = options;
    tiny.bucket_bytes = 1;  // one bucket per layer span
    expect_bitwise_equal(run_steps("ddp", tiny, kBatch, kSteps).state, reference.state);
    auto serialised = options;
    serialised.overlap = false;
    expect_bitwise_equal(run_steps("ddp", serialised, kBatch, kSteps).state, reference.state);
    expect_bitwise_equal(run_steps("dp", options, kBatch, kSteps).state, reference.state);
  }
}

TEST(DpDdp, RunsRepeatBitwise) {
  for (const std::string strategy : {"dp", "ddp"}) {
    SCOPED_TRACE(strategy);
    auto options = small_options("violence", 3, kBatch);
    options.deterministic = true;
    const FullState first = run_steps(strategy, options, kBatch, kSteps).state;
    expect_bitwise_equal(run_steps(strategy, options, kBatch, kSteps).state, first);
  }
}

// One all-reduce per bucket and one for the loss each step: bucket_bytes = 1 makes a bucket of
// every layer span; the 25 MiB default makes two of this 4.4 MB model, PyTorch's 1 MiB first
// bucket (the last layers) and the rest.
TEST(Ddp, OneAllReducePerBucket) {
  for (const std::size_t bucket_bytes : {std::size_t{1}, std::size_t{25} << 20}) {
    auto options = small_options("violence", 1, kBatch);
    options.sync_bn = false;  // its all-reduces would be counted too
    options.bucket_bytes = bucket_bytes;
    options.comm = std::move(strategies::make_local_comms(1).front());
    run_steps("ddp", options, kBatch, kSteps);
    const Layout layout(options);
    ASSERT_GT(4 * layout.model->parameter_count(), std::size_t{1} << 20);
    ASSERT_LT(4 * layout.model->parameter_count(), std::size_t{25} << 20);
    const std::int64_t buckets = bucket_bytes == 1 ? static_cast<std::int64_t>(layout.model->spans().size()) : 2;
    EXPECT_EQ(options.comm->counters().at("all_reduce").calls, kSteps * (buckets + 1)) << bucket_bytes;
  }
}

TEST(Ddp, WorkersMustEqualTheCommunicatorSize) {
  auto options = small_options("violence", 3, kBatch);
  auto comms = strategies::make_local_comms(2);
  options.comm = std::move(comms.front());
  EXPECT_EQ(test::error_of([&] { strategies::make_strategy("ddp", options); }),
            "--workers 3 but the MPI world has 2 ranks: start with mpirun -np 3");
}

// A NaN in one replica's rows reaches every replica through the synchronised BatchNorm
// statistics: the step stops with the non-finite loss, and the strategy refuses further steps
// instead of running with the failed replicas' communicators closed.
TEST(Dp, NonFiniteInputOnOneReplicaStopsTheStep) {
  const auto options = small_options("violence", 2, kBatch);
  const auto dp = strategies::make_strategy("dp", options);
  test::HostBatch data = test::random_batch(options, kBatch, 1);
  data.inputs.at("features")[5 * options.model.steps * options.model.features] = NAN;  // row 5: replica 1
  EXPECT_NE(test::error_of([&] { dp->step(data.view(), kBatch, 0); }).find("loss is nan at step 0"), std::string::npos);
  const test::HostBatch clean = test::random_batch(options, kBatch, 2);
  EXPECT_NE(test::error_of([&] { dp->step(clean.view(), kBatch, 1); }).find("a replica failed"), std::string::npos);
}

// nccl-tests bus bytes: an all-reduce moves 2(n-1)/n of its message, a broadcast all of it. At
// N = 4 the step's collectives are the gradient/loss/BatchNorm all-reduces and the broadcast of
// the BatchNorm buffers, so bus_bytes = 1.5 (bytes - buffer bytes) + buffer bytes.
TEST(Ddp, ReportsBytesBusBytesAndTimes) {
  const auto options = small_options("violence", 4, 8);
  const test::RunResult run = run_steps("ddp", options, 8, 2);
  const Layout layout(options);
  const models::Model* model = layout.model.get();
  const double broadcast = 4.0 * static_cast<double>(model->buffer_count());
  const double gradients = 4.0 * static_cast<double>(model->parameter_count());
  for (const auto& step : run.steps) {
    EXPECT_GT(step.bytes, gradients + broadcast);  // plus the loss and the BatchNorm statistics
    EXPECT_NEAR(step.bus_bytes, 1.5 * (step.bytes - broadcast) + broadcast, 1e-6 * step.bytes);
    EXPECT_GT(step.times.compute, 0);
    EXPECT_GT(step.times.communication, 0);
    EXPECT_GT(step.times.exposed_communication, 0);
    EXPECT_GT(step.times.optimizer, 0);
  }
}

// dp's master work (scatter, broadcast, reduce) is all communication and all exposed; its bytes
// are the batch's inputs, the parameters and buffers, the gradients, and the BatchNorm statistics.
TEST(Dp, ReportsMasterWorkAsExposedCommunication) {
  const auto options = small_options("violence", 3, kBatch);
  const test::RunResult run = run_steps("dp", options, kBatch, 2);
  const Layout layout(options);
  const models::Model* model = layout.model.get();
  const double inputs = 4.0 * kBatch * options.model.steps * options.model.features;
  const double moved = inputs + 4.0 * static_cast<double>(2 * model->parameter_count() + model->buffer_count());
  for (const auto& step : run.steps) {
    EXPECT_GT(step.bytes, moved);  // plus the --sync-bn all-reduces
    EXPECT_GT(step.times.communication, 0);
    EXPECT_EQ(step.times.exposed_communication, step.times.communication);
    EXPECT_GT(step.times.compute, 0);
  }
}

TEST(DpDdp, MeasuredModelStateEqualsThePrediction) {
  for (const std::string strategy : {"dp", "ddp"}) {
    SCOPED_TRACE(strategy);
    auto options = small_options("shoplifting", 1, kBatch);
    options.comm = std::move(strategies::make_local_comms(1).front());
    const auto s = strategies::make_strategy(strategy, options);
    const strategies::MemoryReport report = s->memory(kBatch);
    const double p = static_cast<double>(s->model().parameter_count());
    EXPECT_EQ(report.parameters + report.gradients + report.optimizer_state, report.predicted_model_state);
    EXPECT_EQ(report.predicted_model_state, 16 * p);
    EXPECT_EQ(report.activations, 4.0 * static_cast<double>(s->model().activation_floats_per_sample()) * kBatch);
    EXPECT_GT(report.measured_peak, 0);
  }
}

TEST(DpDdp, TraceHasTheirSpans) {
  for (const std::string strategy : {"dp", "ddp"}) {
    SCOPED_TRACE(strategy);
    auto options = small_options("violence", 1, kBatch);
    options.trace = std::make_shared<strategies::Trace>();
    options.comm = std::move(strategies::make_local_comms(1).front());
    run_steps(strategy, options, kBatch, 1);
    const std::string json = options.trace->json();
    EXPECT_NE(json.find("forward+backward"), std::string::npos);
    EXPECT_NE(json.find("optimizer"), std::string::npos);
    EXPECT_NE(json.find(strategy == "dp" ? "\"reduce\"" : "all_reduce bucket 0"), std::string::npos);
  }
}

}  // namespace
