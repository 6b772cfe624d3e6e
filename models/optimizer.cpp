// Schedule, clipping and the optimizer state.
#include "models/optimizer.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace parbench::models {

float learning_rate(const OptimizerConfig& config, std::int64_t step) {
  if (config.schedule == "constant") return config.lr;
  if (step < config.warmup_steps) {
    return config.lr * static_cast<float>(step + 1) / static_cast<float>(config.warmup_steps);
  }
  const std::int64_t decay_steps = config.total_steps - config.warmup_steps;
  if (decay_steps <= 0 || step >= config.total_steps) return config.min_lr;
  const double progress = static_cast<double>(step - config.warmup_steps) / static_cast<double>(decay_steps);
  return static_cast<float>(config.min_lr +
                            0.5 * (config.lr - config.min_lr) * (1.0 + std::cos(std::numbers::pi * progress)));
}

float clip_factor(float clip, double norm) {
  if (clip <= 0.0f) return 1.0f;
  const double factor = clip / (norm + 1e-6);
  return factor < 1.0 ? static_cast<float>(factor) : 1.0f;
}

Optimizer::Optimizer(kernels::Backend& backend, OptimizerConfig config, std::size_t count)
    : backend_(backend), config_(std::move(config)), count_(count) {
  if (config_.kind == "adam") {
    m_ = kernels::Buffer(backend_, count);
    v_ = kernels::Buffer(backend_, count);
    backend_.fill(m_.data(), 0.0f, count);
    backend_.fill(v_.data(), 0.0f, count);
  } else if (config_.kind != "sgd") {
    raise("unknown optimizer '{}'; valid optimizers: adam, sgd", config_.kind);
  }
  if (config_.schedule != "warmup-cosine" && config_.schedule != "constant") {
    raise("unknown learning-rate schedule '{}'; valid: warmup-cosine, constant", config_.schedule);
  }
}

double Optimizer::norm(const float* grads, std::size_t n) const { return std::sqrt(squared_norm(grads, n)); }

double Optimizer::squared_norm(const float* grads, std::size_t n) const { return backend_.sum_squares(grads, n); }

float Optimizer::clip(float* grads, std::size_t n, double norm) {
  const float factor = clip_factor(config_.clip, norm);
  if (factor < 1.0f) backend_.scale(grads, factor, n);
  return factor;
}

void Optimizer::step(float* params, const float* grads, std::int64_t step, float lr) {
  if (config_.kind == "adam") {
    backend_.adam_step(params, m_.data(), v_.data(), grads, count_, lr, config_.beta1, config_.beta2, config_.eps,
                       step);
  } else {
    backend_.sgd_step(params, grads, count_, lr);
  }
}

}  // namespace parbench::models
