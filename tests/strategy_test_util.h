// Running a strategy for a few steps on small random batches, the way the equivalence tests of
// every strategy do: the same model options, the same batches, the final state compared with
// `serial`. Multi-process strategies (ddp, zero) run their ranks as threads over `local`
// communicators here; tests under mpiexec run them as processes.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/rng.h"
#include "models/model.h"
#include "strategies/comm.h"
#include "strategies/strategy.h"

namespace parbench::test {

// Strategies whose workers are processes (ranks of a Comm) rather than threads of one object.
inline bool runs_as_ranks(const std::string& strategy) { return strategy == "ddp" || strategy == "zero"; }

// A reduced model (violence T = 4, D = 24; shoplifting pose T = 3) with Adam, the workloads'
// dropout and loss, clipping on, warmup + cosine, synchronised BatchNorm.
inline strategies::StrategyOptions small_options(const std::string& workload, int workers, int batch) {
  strategies::StrategyOptions o;
  o.workload = workload;
  o.model.steps = workload == "violence" ? 4 : 3;
  o.model.features = workload == "violence" ? 24 : 0;
  o.workers = workers;
  o.threads = 1;
  o.seed = 5;
  o.max_batch = batch;
  o.loss.spec = models::default_loss(workload);
  o.optimizer.lr = 1e-2f;  // large enough that a wrong update shows after a few steps
  o.optimizer.clip = 1.0f;
  o.optimizer.warmup_steps = 1;
  o.optimizer.total_steps = 10;
  o.sync_bn = true;
  return o;
}

// Random inputs and labels of `rows` rows for small_options(workload), keyed by `seed`.
struct HostBatch {
  std::map<std::string, std::vector<float>> inputs;
  std::map<std::string, std::vector<std::int32_t>> targets;
  std::map<std::string, std::int64_t> sample_floats;
  models::BatchView view() const {
    models::BatchView v;
    for (const auto& [name, values] : inputs) v.inputs[name] = values.data();
    for (const auto& [name, values] : targets) v.targets[name] = values.data();
    v.sample_floats = sample_floats;
    return v;
  }
};

inline HostBatch random_batch(const strategies::StrategyOptions& o, int rows, std::uint64_t seed) {
  HostBatch b;
  if (o.workload == "violence") {
    b.sample_floats["features"] = o.model.steps * o.model.features;
    b.targets["labels"].resize(static_cast<std::size_t>(rows));
  } else {
    b.sample_floats["visual"] = 2048;
    b.sample_floats["pose"] = o.model.steps * 34;
    b.targets["labels"].resize(static_cast<std::size_t>(rows));
    b.targets["action"].resize(static_cast<std::size_t>(rows));
  }
  std::uint64_t stream = 1;
  for (const auto& [name, floats] : b.sample_floats) {
    auto& v = b.inputs[name];
    v.resize(static_cast<std::size_t>(rows * floats));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rng::normal(rng::hash(seed, stream, i));
    ++stream;
  }
  for (auto& [name, labels] : b.targets) {
    const std::uint64_t classes = name == "action" ? 14 : 2;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      labels[i] = static_cast<std::int32_t>(rng::hash(seed, stream, i) % classes);
    }
    ++stream;
  }
  return b;
}

// `steps` steps of strategy `name` over random_batch(options, batch, 100 + step); the final full
// state (rank 0's) and the step results of worker / rank 0.
struct RunResult {
  strategies::FullState state;
  std::vector<strategies::StepResult> steps;
};

inline RunResult run_one(const std::string& name, const strategies::StrategyOptions& options, int batch, int steps) {
  auto strategy = strategies::make_strategy(name, options);
  RunResult result;
  for (int s = 0; s < steps; ++s) {
    const HostBatch data = random_batch(options, batch, 100 + static_cast<std::uint64_t>(s));
    const strategies::RowRange rows = strategy->process_rows(batch);
    result.steps.push_back(strategy->step(data.view().rows_from(rows.begin), batch, s));
  }
  result.state = strategy->state();
  return result;
}

// body(rank, comm) for every rank of `ranks` `local` communicators, each rank on a thread of its
// own, as mpirun runs processes; rethrows the failure of the lowest-numbered rank that threw.
inline void on_local_ranks(int ranks, const std::function<void(int, std::shared_ptr<strategies::Comm>)>& body) {
  auto comms = strategies::make_local_comms(ranks);
  std::vector<std::exception_ptr> errors(comms.size());
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < comms.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        body(static_cast<int>(r), std::shared_ptr<strategies::Comm>(std::move(comms[r])));
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

inline RunResult run_steps(const std::string& name, strategies::StrategyOptions options, int batch, int steps) {
  if (!runs_as_ranks(name) || options.comm) return run_one(name, options, batch, steps);
  std::vector<RunResult> results(static_cast<std::size_t>(options.workers));
  on_local_ranks(options.workers, [&](int rank, std::shared_ptr<strategies::Comm> comm) {
    strategies::StrategyOptions mine = options;
    mine.comm = std::move(comm);
    results[static_cast<std::size_t>(rank)] = run_one(name, mine, batch, steps);
  });
  return results[0];
}

// max |a - b| / (atol + |b|) over the elements: relative error with an absolute floor for values
// near zero.
inline double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b, double atol = 1e-4) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / (atol + std::abs(static_cast<double>(b[i]))));
  }
  return worst;
}

// ---- a strategy's run against serial's ------------------------------------------------------
//
// Serial and N shards differ only in summation order: each gradient element is a sum over the
// batch's rows, which sharding splits into per-shard partial sums added afterwards (by dp's master,
// thread_pool's and task_graph's replica reduction, or ddp's and zero's communicator), and --sync-bn
// adds per-replica BatchNorm sums rounded to float. The gradients agree to ~1e-5 of each tensor's
// largest element (measured). Adam turns that into parameters through lr * m / (sqrt(v) + eps), a
// smooth function of the gradient only where |g| is well above eps. With the workloads' eps = 1e-7,
// about 1% of violence's gradients are below 1e-7 and their updates follow the rounding noise
// (after 3 steps the update differs from serial's by ~20% in L2 at N = 3): no strategy that changes
// the summation order can match elementwise there. The comparisons therefore use
// eps = kCompareEps = 1e-3, where the update is Lipschitz in g (constant lr / eps), and measure each
// state against its own scale (difference_in_scale): parameters against serial's largest change
// over the steps (~3 lr), m and v against their largest element, BatchNorm buffers against their
// largest change. The bound kStateTolerance is 3e-3 of that scale, while a wrong weighting or a
// lost shard changes updates by O(lr), i.e. O(0.3) of it. Measured (expect_close_to_serial prints
// it): dp and ddp at most ~3e-4, thread_pool and task_graph at most 1.8e-4; zero's sharding changes
// no arithmetic, so zero is where ddp is (stage 1 is bitwise equal to ddp).
inline constexpr float kCompareEps = 1e-3f;
inline constexpr double kStateTolerance = 3e-3;

// small_options with Adam's eps = kCompareEps: a run to compare with serial_run's.
inline strategies::StrategyOptions compare_options(const std::string& workload, int workers, int batch) {
  strategies::StrategyOptions options = small_options(workload, workers, batch);
  options.optimizer.eps = kCompareEps;
  return options;
}

// `steps` steps of serial on small_options(workload, 1, batch) with Adam's `eps`; run once per
// test binary and kept, since every strategy and N compares with the same run.
inline const RunResult& serial_run(const std::string& workload, int batch, int steps, float eps = kCompareEps) {
  static std::map<std::tuple<std::string, int, int, float>, RunResult> runs;
  const auto key = std::make_tuple(workload, batch, steps, eps);
  auto found = runs.find(key);
  if (found == runs.end()) {
    strategies::StrategyOptions options = small_options(workload, 1, batch);
    options.optimizer.eps = eps;
    found = runs.emplace(key, run_steps("serial", options, batch, steps)).first;
  }
  return found->second;
}

// max |a - b| / max |b - origin|: the largest difference in units of the largest change that the
// reference b made (origin empty: in units of b's largest element).
inline double difference_in_scale(const std::vector<float>& a, const std::vector<float>& b,
                                  const std::vector<float>& origin) {
  if (a.size() != b.size()) return INFINITY;
  if (a.empty()) return 0;  // a state the optimizer does not keep (SGD's m and v)
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i]) - (origin.empty() ? 0.0f : origin[i])));
  }
  return worst / scale;
}

// The state `run` against serial's `serial`, both trained from `origin`, within kStateTolerance of
// each state's scale; prints the differences under `label`.
inline void expect_close_to_serial(const std::string& label, const strategies::FullState& run,
                                   const strategies::FullState& serial, const strategies::FullState& origin) {
  const double parameters = difference_in_scale(run.parameters, serial.parameters, origin.parameters);
  const double buffers = difference_in_scale(run.buffers, serial.buffers, origin.buffers);
  const double m = difference_in_scale(run.m, serial.m, {});
  const double v = difference_in_scale(run.v, serial.v, {});
  std::printf("%s: largest difference / scale: parameters %.2e buffers %.2e m %.2e v %.2e\n", label.c_str(), parameters,
              buffers, m, v);
  EXPECT_LT(parameters, kStateTolerance);
  EXPECT_LT(buffers, kStateTolerance);
  EXPECT_LT(m, kStateTolerance);
  EXPECT_LT(v, kStateTolerance);
}

// The step results of a run against serial's, steps of `batch` rows. Step 0 starts from the same
// parameters: rounding only (measured < 1e-6 relative). Later steps start from parameters that
// differ as expect_close_to_serial bounds (measured < 2e-5 relative).
inline void expect_steps_close_to_serial(const std::vector<strategies::StepResult>& run,
                                         const std::vector<strategies::StepResult>& serial, int batch) {
  ASSERT_EQ(run.size(), serial.size());
  for (std::size_t s = 0; s < run.size(); ++s) {
    const double relative = s == 0 ? 1e-5 : 1e-3;
    EXPECT_EQ(run[s].samples, batch);
    EXPECT_NEAR(run[s].loss_sum, serial[s].loss_sum, relative * std::abs(serial[s].loss_sum));
    EXPECT_NEAR(run[s].grad_norm, serial[s].grad_norm, relative * serial[s].grad_norm);
    EXPECT_EQ(run[s].lr, serial[s].lr);
  }
}

inline void expect_bitwise_equal(const strategies::FullState& a, const strategies::FullState& b) {
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.buffers, b.buffers);
  EXPECT_EQ(a.m, b.m);
  EXPECT_EQ(a.v, b.v);
}

}  // namespace parbench::test
