// A strategy owns how one step of synchronous data-parallel SGD over a global batch is spread
// out (design.md §4): which replicas exist, who computes which rows, how gradients are combined,
// who updates which parameters. Every strategy must produce the parameters `serial` produces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "models/model.h"
#include "models/optimizer.h"

namespace parbench::strategies {

struct StepTimes {  // seconds
  double compute = 0;                // forward + backward
  double communication = 0;          // collectives in total
  double exposed_communication = 0;  // the part not hidden behind compute
  double optimizer = 0;              // clipping + update
};

struct StepResult {
  double loss_sum = 0;  // sum of per-sample weighted losses over the global batch
  std::int64_t samples = 0;
  double grad_norm = 0;  // before clipping
  float lr = 0;
  StepTimes times;
};

struct MemoryReport {  // bytes per worker
  double parameters = 0, gradients = 0, optimizer_state = 0, activations = 0;
  double measured_peak = 0;  // resident set high-water mark of this process
};

struct StrategyOptions {
  std::string workload;
  models::ModelConfig model;
  std::string backend = "cpu";
  int threads = 1;  // intra-op threads per worker
  int workers = 1;
  models::OptimizerConfig optimizer;
  models::LossConfig loss;
  std::uint64_t seed = 0;  // parameter initialisation and dropout masks
  int max_batch = 32;      // global batch
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // One optimizer step over the global batch (`rows` rows); `step` counts from 0.
  virtual StepResult step(const models::BatchView& batch, int rows, std::int64_t step) = 0;
  // The replica that holds the current parameters (rank 0's): evaluation and checkpoints.
  virtual models::Model& model() = 0;
  virtual models::Optimizer& optimizer() = 0;
  virtual kernels::Backend& backend() = 0;
  virtual MemoryReport memory(int batch) const = 0;
};

// Creates a strategy by name; throws parbench::Error listing the valid names.
std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyOptions& options);
std::vector<std::string> strategy_names();

// The batch's host tensors as a model view (valid while `batch` lives).
models::BatchView view_of(const data::Batch& batch);

// Resident set high-water mark of this process, bytes.
double peak_resident_bytes();

}  // namespace parbench::strategies
