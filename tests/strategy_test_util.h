// Running a strategy for a few steps on small random batches, the way the equivalence tests of
// every strategy do: the same model options, the same batches, the final state compared with
// `serial`. Multi-process strategies (ddp, zero) run their ranks as threads over `local`
// communicators here; tests under mpiexec run them as processes.
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <string>
#include <thread>
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

inline RunResult run_steps(const std::string& name, strategies::StrategyOptions options, int batch, int steps) {
  if (!runs_as_ranks(name) || options.comm) return run_one(name, options, batch, steps);
  auto comms = strategies::make_local_comms(options.workers);
  std::vector<RunResult> results(comms.size());
  std::vector<std::exception_ptr> errors(comms.size());
  std::vector<std::thread> ranks;
  for (std::size_t r = 0; r < comms.size(); ++r) {
    ranks.emplace_back([&, r] {
      try {
        strategies::StrategyOptions mine = options;
        mine.comm = std::shared_ptr<strategies::Comm>(std::move(comms[r]));
        results[r] = run_one(name, mine, batch, steps);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : ranks) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
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

}  // namespace parbench::test
