// A strategy owns how one step of synchronous data-parallel SGD over a global batch is spread
// out (design.md §4): which replicas exist, who computes which rows, how gradients are combined,
// who updates which parameters. Every strategy must produce the parameters `serial` produces.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/loader.h"
#include "models/model.h"
#include "models/optimizer.h"
#include "strategies/comm.h"
#include "strategies/trace.h"

namespace parbench::strategies {

// Seconds of one step on worker 0 (rank 0). compute + exposed_communication + optimizer is about
// the step's wall time; communication - exposed_communication is what overlap hid.
struct StepTimes {
  double compute = 0;                // forward + backward
  double communication = 0;          // collectives in total (on the communication thread)
  double exposed_communication = 0;  // time the worker was blocked waiting for collectives
  double optimizer = 0;              // norm, clipping and update
};

struct StepResult {
  double loss_sum = 0;       // sum of per-sample weighted losses over the global batch (all workers)
  std::int64_t samples = 0;  // global batch rows
  double grad_norm = 0;      // before clipping
  float lr = 0;
  StepTimes times;
  double bytes = 0;      // message bytes of the step's collectives (nccl-tests "size"), worker 0
  double bus_bytes = 0;  // the same weighted by each collective's bus factor (nccl-tests busBw)
};

// Bytes per worker. The categories are measured: the sizes of the buffers the worker holds
// (worker 0, or rank 0). `predicted_model_state` is design.md §4's formula for parameters +
// gradients + optimizer state under this strategy (replicated 16P, ZeRO-1 8P + 8P/N, ZeRO-2
// 4P + 12P/N, ZeRO-3 16P/N + the largest gathered unit), which the measured sum must equal.
struct MemoryReport {
  double parameters = 0, gradients = 0, optimizer_state = 0, activations = 0, communication = 0;
  double predicted_model_state = 0;
  double measured_peak = 0;  // resident set high-water mark of this process
  double device_peak = 0;    // the worker's backend: device memory high-water mark (0 on the CPU)
};

// The whole training state as host arrays in the model's flat layout: parameters, BatchNorm
// buffers, Adam m and v (empty for SGD). What checkpoints hold, whatever the strategy.
struct FullState {
  std::vector<float> parameters, buffers, m, v;
};

// Rows [begin, end) of a global batch.
struct RowRange {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};

struct StrategyOptions {
  std::string workload;
  models::ModelConfig model;
  std::string backend = "cpu";
  kernels::BackendOptions backend_options;  // --device, --tf32, --lstm; ddp and zero set local_rank
  int threads = 1;                          // intra-op threads per worker
  int workers = 1;
  models::OptimizerConfig optimizer;
  models::LossConfig loss;
  std::uint64_t seed = 0;                // parameter initialisation and dropout masks
  int max_batch = 32;                    // global batch
  bool sync_bn = false;                  // BatchNorm statistics over the global batch, not per worker
  bool deterministic = false;            // fixed reduction orders: runs repeat bitwise
  int stage = 0;                         // zero: 1, 2 or 3
  int hybrid = 0;                        // zero: shard within groups of this many ranks (0 = all ranks)
  std::size_t bucket_bytes = 25u << 20;  // ddp gradient buckets
  bool overlap = true;                   // ddp: all-reduce buckets during backward
  // The process group of the multi-process strategies (ddp, zero); null: MPI_COMM_WORLD.
  // Tests pass make_local_comms() to run ranks as threads.
  std::shared_ptr<Comm> comm;
  std::shared_ptr<Trace> trace;  // --trace: spans per worker; null = off
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;

  // Processes that run this strategy together (MPI ranks); in-process strategies are 0 of 1.
  virtual int process_rank() const { return 0; }
  virtual int process_count() const { return 1; }
  // The rows of a global batch of `rows` that this process reads and passes to step().
  virtual RowRange process_rows(int rows) const { return {0, rows}; }

  // One optimizer step over a global batch of `rows` rows, of which `batch` holds this process's
  // process_rows(rows); `step` counts from 0. Collective over the processes.
  virtual StepResult step(const models::BatchView& batch, int rows, std::int64_t step) = 0;

  // The model whose layout every replica shares, for names, shapes and heads.
  virtual models::Model& model() = 0;
  virtual kernels::Backend& backend() = 0;
  // model() with the current full parameters and buffers, for evaluation. Collective (ZeRO-3
  // gathers its shards).
  virtual models::Model& evaluation_model() { return model(); }
  // The full state, complete on process 0 (others may return partial arrays). Collective.
  virtual FullState state();
  // Replaces the state on every process (each keeps what it owns). Collective.
  virtual void load_state(const FullState& state);
  // Memory of worker 0 (this process's first worker) for a global batch of `batch` rows: the
  // activations are those of its shard.
  virtual MemoryReport memory(int batch) const = 0;

 protected:
  // For state()/load_state()'s default: the optimizer over the whole flat buffer of model().
  virtual models::Optimizer& optimizer() = 0;
};

// Creates a strategy by name; throws parbench::Error listing the valid names.
std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyOptions& options);
std::vector<std::string> strategy_names();
// True for the strategies that run one MPI process per worker (ddp, zero): under mpirun/srun their
// worker count is the world size. False for the in-process ones and for unknown names.
bool one_process_per_worker(std::string_view name);

// The batch's host tensors as a model view (valid while `batch` lives).
models::BatchView view_of(const data::Batch& batch);

// Resident set high-water mark of this process, bytes.
double peak_resident_bytes();

}  // namespace parbench::strategies
