// What every strategy does the same way, so that they differ only in how work and data move:
// one replica's forward + backward over its shard of the global batch, and the optimizer update.
#pragma once

#include <chrono>
#include <cstdint>

#include "strategies/strategy.h"

namespace parbench::strategies {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A multi-process strategy's backend options: the process's node-local rank in `comm` picks its
// device when --device does not (core/devices.h).
inline kernels::BackendOptions on_local_rank(kernels::BackendOptions options, const Comm& comm) {
  options.local_rank = comm.local_rank();
  return options;
}

// The shards of a global batch of `rows` over `workers`: contiguous rows, the first rows % workers
// one row larger. Throws parbench::Error when a shard would be empty (more workers than rows).
std::vector<RowRange> batch_shards(int rows, int workers);

// Forward and backward of rows [first, first + rows) of a global batch of global_rows rows, whose
// inputs `shard` points at: gradients += d(sum of the shard's losses) / global_rows, so that
// summing the replicas' gradients gives serial's gradient of the batch mean. Dropout masks are
// keyed by the global row. `sync` (may be nullptr) makes BatchNorm use whole-batch statistics;
// `ready` is the model's per-layer "gradients ready" hook. Returns the shard's loss sum; throws
// parbench::Error naming the first non-finite layer when it is not finite.
double forward_backward(models::Model& model, const models::BatchView& shard, int rows, int first, int global_rows,
                        std::int64_t step, const StrategyOptions& options, const kernels::ReplicaSum* sync,
                        const models::Model::GradientsReady& ready);
// The same with `units` (may be nullptr) called around each parameter-owning layer's forward and
// backward: ZeRO-3 gathers a unit's parameters there and releases them after.
double forward_backward(models::Model& model, const models::BatchView& shard, int rows, int first, int global_rows,
                        std::int64_t step, const StrategyOptions& options, const kernels::ReplicaSum* sync,
                        const models::Model::GradientsReady& ready, const models::UnitHook* units);

// The update of `count` parameters from their (already reduced) gradients, given the squared
// global gradient norm: clipping as clip_grad_norm_, then the optimizer at learning_rate(step).
// Returns the learning rate used. Throws parbench::Error when the norm is not finite.
float apply_update(models::Optimizer& optimizer, float* parameters, float* gradients, std::size_t count,
                   double squared_norm, std::int64_t step);

// A replica holding all gradients updates all its parameters: norm, clipping, optimizer step.
// Fills result.grad_norm, result.lr and result.times.optimizer; traced as "optimizer" on track 0.
void update_whole_replica(models::Model& model, models::Optimizer& optimizer, std::int64_t step, Trace* trace,
                          StepResult& result);

// Memory of a replica that holds all parameters, gradients and optimizer state, with `rows` rows
// of activations and no communication buffers; predicted_model_state is replicated (16P for Adam).
MemoryReport whole_replica_memory(const models::Model& model, const models::Optimizer& optimizer, int rows);

// Memory the design predicts per worker for parameters + gradients + optimizer state (fp32,
// design.md §4): `state_floats_per_parameter` is 2 for Adam, 0 for SGD.
double replicated_model_state_bytes(double parameters, double state_floats_per_parameter);

}  // namespace parbench::strategies
