// `zero` (ZeRO stages 1-3, FSDP, hybrid sharding) against `serial`: the same parameters, BatchNorm
// buffers and Adam state after a few steps on uneven batches, for N = 1..4 on both workloads;
// runs repeat bitwise; the state is a full checkpoint whatever the stage and N; the measured model
// state equals design.md §4's prediction; bad --stage, --workers and --hybrid are clear errors.
#include <gtest/gtest.h>

#include <functional>

#include "strategies/replica.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using strategies::FullState;
using strategies::StrategyOptions;
using test::difference_in_scale;
using test::expect_bitwise_equal;
using test::run_steps;
using test::serial_run;
using test::small_options;

constexpr int kBatch = 7;  // uneven over 2, 3 and 4 workers
constexpr int kSteps = 3;

StrategyOptions zero_options(const std::string& workload, int stage, int workers, int hybrid) {
  StrategyOptions options = small_options(workload, workers, kBatch);
  options.stage = stage;
  options.hybrid = hybrid;
  return options;
}

// Runs `body(rank, strategy)` for every rank of a zero run as threads over local communicators.
void on_ranks(StrategyOptions options, const std::function<void(int, strategies::Strategy&)>& body) {
  test::on_local_ranks(options.workers, [&](int rank, std::shared_ptr<strategies::Comm> comm) {
    StrategyOptions mine = options;
    mine.comm = std::move(comm);
    const auto strategy = strategies::make_strategy("zero", mine);
    body(rank, *strategy);
  });
}

void run_batches(strategies::Strategy& strategy, const StrategyOptions& options, int first, int steps) {
  for (int s = first; s < first + steps; ++s) {
    const test::HostBatch data = test::random_batch(options, kBatch, 100 + static_cast<std::uint64_t>(s));
    strategy.step(data.view().rows_from(strategy.process_rows(kBatch).begin), kBatch, s);
  }
}

// (workload, stage, workers, hybrid group size; 0 = no hybrid)
using Case = std::tuple<std::string, int, int, int>;
// Sharding the optimizer state changes no arithmetic (Adam is element-wise, the global norm is
// summed exactly: see Zero.StagesShareTheArithmetic), so zero differs from serial only as ddp does,
// in summation order: with Adam's eps = 1e-3, within 3e-3 of each state's scale
// (strategy_test_util.h says why).
class ZeroMatchesSerial : public testing::TestWithParam<Case> {};

TEST_P(ZeroMatchesSerial, AfterThreeAdamStepsOnUnevenBatches) {
  const auto& [workload, stage, workers, hybrid] = GetParam();
  const test::RunResult& serial = serial_run(workload, kBatch, kSteps);
  const FullState& initial = serial_run(workload, kBatch, 0).state;
  StrategyOptions options = zero_options(workload, stage, workers, hybrid);
  options.optimizer.eps = test::kCompareEps;
  const test::RunResult run = run_steps("zero", options, kBatch, kSteps);
  test::expect_close_to_serial("zero stage " + std::to_string(stage) + " " + workload +
                                   " N=" + std::to_string(workers) + " hybrid " + std::to_string(hybrid),
                               run.state, serial.state, initial);
  test::expect_steps_close_to_serial(run.steps, serial.steps, kBatch);
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const auto& [workload, stage, workers, hybrid] = info.param;
  return workload + "_stage" + std::to_string(stage) + "_N" + std::to_string(workers) +
         (hybrid ? "_hybrid" + std::to_string(hybrid) : "");
}

INSTANTIATE_TEST_SUITE_P(Stages, ZeroMatchesSerial,
                         testing::Combine(testing::Values("violence", "shoplifting"), testing::Values(1, 2, 3),
                                          testing::Values(1, 2, 3, 4), testing::Values(0)),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Hybrid, ZeroMatchesSerial,
                         testing::Combine(testing::Values("violence", "shoplifting"), testing::Values(1, 2, 3),
                                          testing::Values(4), testing::Values(2)),
                         case_name);

// The stages change who holds which part of the state, not the arithmetic: the communicator sums
// every gradient element in rank order whether it all-reduces (stage 1) or reduce-scatters (2, 3),
// Adam is element-wise, and the global norm is summed in double. So with the workloads' own eps,
// stage 2 and 3 are bitwise equal to stage 1 at the same N, and at N = 1 all of them to serial.
TEST(Zero, StagesShareTheArithmetic) {
  for (const std::string workload : {"violence", "shoplifting"}) {
    for (const int workers : {1, 2, 3, 4}) {
      SCOPED_TRACE(testing::Message() << workload << " N " << workers);
      const FullState stage1 = run_steps("zero", zero_options(workload, 1, workers, 0), kBatch, kSteps).state;
      if (workers == 1) {
        expect_bitwise_equal(stage1, serial_run(workload, kBatch, kSteps, models::OptimizerConfig{}.eps).state);
      }
      for (const int stage : {2, 3}) {
        SCOPED_TRACE(testing::Message() << "stage " << stage);
        expect_bitwise_equal(run_steps("zero", zero_options(workload, stage, workers, 0), kBatch, kSteps).state,
                             stage1);
      }
    }
  }
}

// The local communicator sums every element in rank order, and zero issues its collectives in an
// order fixed by the model's layer order: runs repeat bitwise.
TEST(Zero, RunsRepeatBitwise) {
  for (const auto& [stage, hybrid] : {std::pair{1, 0}, std::pair{2, 0}, std::pair{3, 0}, std::pair{3, 2}}) {
    SCOPED_TRACE(testing::Message() << "stage " << stage << " hybrid " << hybrid);
    StrategyOptions options = zero_options("violence", stage, 4, hybrid);
    options.deterministic = true;
    const test::RunResult first = run_steps("zero", options, kBatch, kSteps);
    const test::RunResult second = run_steps("zero", options, kBatch, kSteps);
    expect_bitwise_equal(second.state, first.state);
    for (std::size_t s = 0; s < first.steps.size(); ++s) EXPECT_EQ(second.steps[s].loss_sum, first.steps[s].loss_sum);
  }
}

// The state is the full checkpoint whatever the stage, N and hybrid grouping: a state saved by
// stage 3 on 3 ranks loads into stage 2 on 2 ranks (and back into stage 3 on 4 ranks, hybrid) and
// comes out bitwise the same; stage 3's evaluation model holds the full parameters.
TEST(Zero, StateIsTheSameCheckpointForEveryStageAndWorldSize) {
  const test::RunResult saved = run_steps("zero", zero_options("shoplifting", 3, 3, 0), kBatch, 2);
  for (const auto& [stage, workers, hybrid] : {std::tuple{2, 2, 0}, std::tuple{3, 4, 2}, std::tuple{1, 1, 0}}) {
    SCOPED_TRACE(testing::Message() << "stage " << stage << " N " << workers << " hybrid " << hybrid);
    std::vector<FullState> states(static_cast<std::size_t>(workers));
    std::vector<std::vector<float>> evaluated(static_cast<std::size_t>(workers));
    on_ranks(zero_options("shoplifting", stage, workers, hybrid), [&](int rank, strategies::Strategy& s) {
      s.load_state(saved.state);
      states[static_cast<std::size_t>(rank)] = s.state();
      models::Model& model = s.evaluation_model();
      evaluated[static_cast<std::size_t>(rank)].resize(model.parameter_count());
      s.backend().download(evaluated[static_cast<std::size_t>(rank)].data(), model.parameter_data(),
                           model.parameter_count());
    });
    expect_bitwise_equal(states[0], saved.state);
    for (const auto& parameters : evaluated) EXPECT_EQ(parameters, saved.state.parameters);
  }
}

// Resuming under another stage and world size continues the same training: 2 steps of stage 3 on
// 3 ranks, then 1 step of stage 1 on 3 ranks, is bitwise 3 steps of stage 1 on 3 ranks (the
// stages share the arithmetic); with 2 ranks for the last step it matches serial as above.
TEST(Zero, ResumesUnderAnotherStageAndWorldSize) {
  auto options = [](int stage, int workers) {
    StrategyOptions o = zero_options("violence", stage, workers, 0);
    o.optimizer.eps = test::kCompareEps;
    return o;
  };
  const test::RunResult first = run_steps("zero", options(3, 3), kBatch, 2);
  for (const int workers : {3, 2}) {
    SCOPED_TRACE(testing::Message() << "resumed on " << workers);
    FullState resumed;
    on_ranks(options(1, workers), [&](int rank, strategies::Strategy& s) {
      s.load_state(first.state);
      run_batches(s, options(1, workers), 2, 1);
      FullState state = s.state();
      if (rank == 0) resumed = std::move(state);
    });
    if (workers == 3) {
      expect_bitwise_equal(resumed, run_steps("zero", options(1, 3), kBatch, kSteps).state);
    } else {
      const FullState& serial = serial_run("violence", kBatch, kSteps).state;
      const FullState& initial = serial_run("violence", kBatch, 0).state;
      EXPECT_LT(difference_in_scale(resumed.parameters, serial.parameters, initial.parameters), test::kStateTolerance);
      EXPECT_LT(difference_in_scale(resumed.m, serial.m, {}), test::kStateTolerance);
      EXPECT_LT(difference_in_scale(resumed.v, serial.v, {}), test::kStateTolerance);
    }
  }
}

// Without --sync-bn each rank's BatchNorm running statistics see only its own shards (as in
// PyTorch DDP and FSDP); the state and the evaluation model use rank 0's, broadcast to every rank.
TEST(Zero, EvaluatesWithRankZerosBatchNormStatisticsWithoutSyncBn) {
  StrategyOptions options = zero_options("violence", 3, 2, 0);
  options.sync_bn = false;
  std::vector<std::vector<float>> trained(2), evaluated(2);
  on_ranks(options, [&](int rank, strategies::Strategy& s) {
    run_batches(s, options, 0, 2);
    models::Model& model = s.model();
    auto buffers = [&] {
      std::vector<float> host(model.buffer_count());
      s.backend().download(host.data(), model.buffer_data(), host.size());
      return host;
    };
    trained[static_cast<std::size_t>(rank)] = buffers();
    s.evaluation_model();
    evaluated[static_cast<std::size_t>(rank)] = buffers();
  });
  EXPECT_NE(trained[0], trained[1]);
  EXPECT_EQ(evaluated[0], trained[0]);
  EXPECT_EQ(evaluated[1], trained[0]);
}

// design.md §4 per rank, with N the shard group size and P/N the rank's own (uneven) shard S:
// ZeRO-1 8P + 8S, ZeRO-2 4P + 12S, ZeRO-3 16S + 4U (U the largest unit = layer span). Stage 1 and
// 2 shard the flat buffer (S = even_parts(P, N)[rank]); stage 3 shards every span.
TEST(Zero, MeasuredModelStateEqualsThePrediction) {
  for (const std::string workload : {"violence", "shoplifting"}) {
    for (const auto& [stage, workers, hybrid] :
         {std::tuple{1, 3, 0}, std::tuple{2, 3, 0}, std::tuple{3, 3, 0}, std::tuple{2, 4, 2}, std::tuple{3, 4, 2}}) {
      SCOPED_TRACE(testing::Message() << workload << " stage " << stage << " N " << workers << " hybrid " << hybrid);
      const StrategyOptions options = zero_options(workload, stage, workers, hybrid);
      const int group = hybrid ? hybrid : workers;
      std::vector<strategies::MemoryReport> reports(static_cast<std::size_t>(workers)),
          evaluating(static_cast<std::size_t>(workers));
      std::vector<models::LayerSpan> spans;
      std::size_t p = 0;
      bool holds_full_parameters = false, holds_full_gradients = false;
      std::int64_t activation_floats = 0;
      on_ranks(options, [&](int rank, strategies::Strategy& s) {
        run_batches(s, options, 0, 1);
        if (rank == 0) {
          holds_full_parameters = s.model().parameter_data() != nullptr;
          holds_full_gradients = s.model().gradient_data() != nullptr;
        }
        reports[static_cast<std::size_t>(rank)] = s.memory(kBatch);
        s.evaluation_model();
        evaluating[static_cast<std::size_t>(rank)] = s.memory(kBatch);
        if (rank == 0) {
          spans = s.model().spans();
          p = s.model().parameter_count();
          activation_floats = s.model().activation_floats_per_sample();
        }
      });
      // The model's own flat buffers are freed where the stage shards them.
      EXPECT_EQ(holds_full_parameters, stage < 3);
      EXPECT_EQ(holds_full_gradients, stage < 2);
      std::size_t largest = 0;
      for (const auto& span : spans) largest = std::max(largest, span.count);
      for (int rank = 0; rank < workers; ++rank) {
        const auto me = static_cast<std::size_t>(rank % group);
        double shard = static_cast<double>(strategies::even_parts(p, group)[me]);
        if (stage == 3) {
          shard = 0;
          for (const auto& span : spans) shard += static_cast<double>(strategies::even_parts(span.count, group)[me]);
        }
        const double pf = static_cast<double>(p);
        const double predicted = stage == 1   ? 8 * pf + 8 * shard
                                 : stage == 2 ? 4 * pf + 12 * shard
                                              : 16 * shard + 4 * static_cast<double>(largest);
        const strategies::MemoryReport& r = reports[static_cast<std::size_t>(rank)];
        EXPECT_EQ(r.predicted_model_state, predicted) << "rank " << rank;
        EXPECT_EQ(r.parameters + r.gradients + r.optimizer_state, r.predicted_model_state) << "rank " << rank;
        EXPECT_EQ(r.optimizer_state, 8 * shard) << "rank " << rank;
        // Stage 3's evaluation model is a gathered full copy, held until the next step: a
        // communication buffer, outside the training state.
        const strategies::MemoryReport& e = evaluating[static_cast<std::size_t>(rank)];
        EXPECT_EQ(e.parameters + e.gradients + e.optimizer_state, r.predicted_model_state) << "rank " << rank;
        EXPECT_EQ(e.communication, r.communication + (stage == 3 ? 4 * pf : 0)) << "rank " << rank;
        const int rows = strategies::batch_shards(kBatch, workers)[static_cast<std::size_t>(rank)].size();
        EXPECT_EQ(r.activations, 4.0 * static_cast<double>(activation_floats) * rows);
        EXPECT_GT(r.measured_peak, 0);
      }
    }
  }
}

// At N = 2 (no hybrid) every collective is over 2 ranks: all-reduces carry a bus factor of 1,
// reduce-scatters and all-gathers 1/2. Stage 3 gathers every unit twice (forward, backward) and
// reduce-scatters it once: at least 3P floats of messages, of which 1.5P bus bytes.
TEST(Zero, ReportsBytesBusBytesAndTimes) {
  const StrategyOptions options = zero_options("violence", 3, 2, 0);
  std::vector<strategies::StepResult> steps;
  std::size_t p = 0;
  on_ranks(options, [&](int rank, strategies::Strategy& s) {
    for (int step = 0; step < 2; ++step) {
      const test::HostBatch data = test::random_batch(options, kBatch, 100 + static_cast<std::uint64_t>(step));
      const auto result = s.step(data.view().rows_from(s.process_rows(kBatch).begin), kBatch, step);
      if (rank == 0) steps.push_back(result);
    }
    if (rank == 0) p = s.model().parameter_count();
  });
  for (const auto& step : steps) {
    EXPECT_GE(step.bytes, 3 * 4.0 * static_cast<double>(p));
    EXPECT_GT(step.bus_bytes, 0.5 * step.bytes);
    EXPECT_LT(step.bus_bytes, step.bytes);
    EXPECT_GT(step.times.compute, 0);
    EXPECT_GT(step.times.communication, 0);
    EXPECT_GT(step.times.exposed_communication, 0);
    EXPECT_GT(step.times.optimizer, 0);
  }
}

// The collectives of a step, per stage (sync_bn off, whose all-reduces would be counted too; U
// units = layer spans): stage 1 all-reduces its one 25 MiB bucket and all-gathers the parameters
// once; stage 2 reduce-scatters every unit's gradient and all-gathers the parameters once; stage 3
// all-gathers every unit twice (before its forward and again before its backward) and
// reduce-scatters it once. Every stage all-gathers the ranks' loss parts, stages 2 and 3 also
// their squared gradient norms (stage 1 has every gradient).
TEST(Zero, IssuesTheCollectivesOfItsStage) {
  for (const int stage : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "stage " << stage);
    StrategyOptions options = zero_options("shoplifting", stage, 1, 0);
    options.sync_bn = false;
    options.comm = std::move(strategies::make_local_comms(1).front());
    const test::RunResult run = run_steps("zero", options, kBatch, kSteps);
    const auto backend = kernels::make_backend("cpu");
    const std::int64_t units =
        static_cast<std::int64_t>(models::make_model("shoplifting", *backend, options.model)->spans().size());
    auto calls = [&](const std::string& kind) {
      const auto counters = options.comm->counters();
      const auto found = counters.find(kind);
      return found == counters.end() ? std::int64_t{0} : found->second.calls;
    };
    // Construction broadcasts the parameters and buffers; state() at the end gathers m and v
    // (and stage 3's parameters) once per shard block.
    const std::int64_t state_gathers = stage == 3 ? 3 * units : 2;
    EXPECT_EQ(calls("all_reduce"), stage == 1 ? kSteps : 0);
    EXPECT_EQ(calls("reduce_scatter"), stage == 1 ? 0 : kSteps * units);
    const std::int64_t per_step = stage == 1 ? 2 : stage == 2 ? 3 : 2 * units + 2;
    EXPECT_EQ(calls("all_gather"), kSteps * per_step + state_gathers);
    EXPECT_EQ(calls("broadcast"), 2);
  }
}

TEST(Zero, TraceHasItsSpans) {
  StrategyOptions options = zero_options("violence", 3, 1, 0);
  options.trace = std::make_shared<strategies::Trace>();
  options.comm = std::move(strategies::make_local_comms(1).front());
  run_steps("zero", options, kBatch, 1);
  const std::string json = options.trace->json();
  for (const char* span : {"forward+backward", "optimizer", "wait gather lstm1", "wait reduce_scatter fc4"}) {
    EXPECT_NE(json.find(span), std::string::npos) << span;
  }
}

TEST(Zero, BadStageWorkersAndHybridAreClearErrors) {
  auto comms = strategies::make_local_comms(4);
  StrategyOptions options = zero_options("violence", 4, 4, 0);
  options.comm = std::move(comms[0]);
  EXPECT_EQ(test::error_of([&] { strategies::make_strategy("zero", options); }),
            "--stage 4: ZeRO stages are 1, 2 and 3");
  options.stage = 0;
  EXPECT_EQ(test::error_of([&] { strategies::make_strategy("zero", options); }),
            "--stage 0: ZeRO stages are 1, 2 and 3");
  options.stage = 2;
  options.workers = 3;
  EXPECT_EQ(test::error_of([&] { strategies::make_strategy("zero", options); }),
            "strategy zero: --workers 3 but the local communicator has 4 ranks (start one process per worker: "
            "mpirun -np 3 parbench train ... --workers 3)");
  options.workers = 4;
  options.hybrid = 3;
  EXPECT_EQ(test::error_of([&] { strategies::make_strategy("zero", options); }),
            "--hybrid 3: the shard group size must divide the 4 ranks");
}

}  // namespace
