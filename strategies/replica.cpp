// The per-replica work shared by the strategies.
#include "strategies/replica.h"

#include <cmath>

#include "core/error.h"

namespace parbench::strategies {

std::vector<RowRange> batch_shards(int rows, int workers) {
  if (workers < 1) raise("--workers must be at least 1 (got {})", workers);
  if (rows < workers) raise("a batch of {} rows cannot be split over {} workers: use --batch >= --workers", rows, workers);
  std::vector<RowRange> shards;
  int begin = 0;
  for (const std::size_t size : even_parts(static_cast<std::size_t>(rows), workers)) {
    shards.push_back({begin, begin + static_cast<int>(size)});
    begin += static_cast<int>(size);
  }
  return shards;
}

double forward_backward(models::Model& model, const models::BatchView& shard, int rows, int first, int global_rows,
                        std::int64_t step, const StrategyOptions& options, const kernels::ReplicaSum* sync,
                        const models::Model::GradientsReady& ready) {
  return forward_backward(model, shard, rows, first, global_rows, step, options, sync, ready, nullptr);
}

double forward_backward(models::Model& model, const models::BatchView& shard, int rows, int first, int global_rows,
                        std::int64_t step, const StrategyOptions& options, const kernels::ReplicaSum* sync,
                        const models::Model::GradientsReady& ready, const models::UnitHook* units) {
  models::Pass pass{model.backend(), rows, true, options.seed, static_cast<std::uint64_t>(step), first};
  pass.sync = sync;
  pass.units = units;
  const double loss = model.forward(pass, shard, options.loss);
  if (!std::isfinite(loss)) {
    raise("loss is {} at step {}; first non-finite values in the output of layer {}", loss, step,
          model.first_nonfinite_layer(rows));
  }
  model.backward(pass, shard, options.loss, 1.0f / static_cast<float>(global_rows), ready);
  return loss;
}

float apply_update(models::Optimizer& optimizer, float* parameters, float* gradients, std::size_t count,
                   double squared_norm, std::int64_t step) {
  const double norm = std::sqrt(squared_norm);
  if (!std::isfinite(norm)) raise("gradient norm is {} at step {}", norm, step);
  optimizer.clip(gradients, count, norm);
  const float lr = models::learning_rate(optimizer.config(), step);
  optimizer.step(parameters, gradients, step + 1, lr);
  return lr;
}

double replicated_model_state_bytes(double parameters, double state_floats_per_parameter) {
  return 4.0 * parameters * (2.0 + state_floats_per_parameter);
}

}  // namespace parbench::strategies
