// The per-replica work shared by the strategies.
#include "strategies/replica.h"

#include <cmath>

#include "core/error.h"

namespace parbench::strategies {

std::vector<RowRange> batch_shards(int rows, int workers) {
  if (workers < 1) raise("--workers must be at least 1 (got {})", workers);
  if (rows < workers)
    raise("a batch of {} rows cannot be split over {} workers: use --batch >= --workers", rows, workers);
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
  const models::BatchView batch = model.stage(shard, rows);
  const double loss = model.forward(pass, batch, options.loss);
  if (!std::isfinite(loss)) {
    raise("loss is {} at step {}; first non-finite values in the output of layer {}", loss, step,
          model.first_nonfinite_layer(rows));
  }
  model.backward(pass, batch, options.loss, 1.0f / static_cast<float>(global_rows), ready);
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

void update_whole_replica(models::Model& model, models::Optimizer& optimizer, std::int64_t step, Trace* trace,
                          StepResult& result) {
  const auto start = Clock::now();
  {
    const Trace::Scope span(trace, 0, "optimizer");
    float* grads = model.gradient_data();
    const std::size_t count = model.parameter_count();
    const double squared = optimizer.squared_norm(grads, count);
    result.grad_norm = std::sqrt(squared);
    result.lr = apply_update(optimizer, model.parameter_data(), grads, count, squared, step);
    model.backend().synchronize();
  }
  result.times.optimizer = seconds_since(start);
}

double replicated_model_state_bytes(double parameters, double state_floats_per_parameter) {
  return 4.0 * parameters * (2.0 + state_floats_per_parameter);
}

MemoryReport whole_replica_memory(const models::Model& model, const models::Optimizer& optimizer, int rows) {
  const double p = static_cast<double>(model.parameter_count());
  MemoryReport report;
  report.parameters = 4 * p;
  report.gradients = 4 * p;
  report.optimizer_state = 4.0 * static_cast<double>(optimizer.state_floats());
  report.activations = 4.0 * static_cast<double>(model.activation_floats_per_sample()) * rows;
  report.predicted_model_state = replicated_model_state_bytes(p, optimizer.state_floats() ? 2 : 0);
  report.measured_peak = peak_resident_bytes();
  report.device_peak = static_cast<double>(model.backend().device_peak_bytes());
  return report;
}

}  // namespace parbench::strategies
