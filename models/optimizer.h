// The optimizer side of a step, shared by every strategy: learning-rate schedule, global-norm
// gradient clipping, and Adam/SGD over a range of the flat parameter buffer (a ZeRO rank updates
// only its shard, hence ranges). It lives with the models because it calls Backend ops; the
// strategies decide who runs it on which range.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/backend.h"
#include "kernels/buffer.h"

namespace parbench::models {

struct OptimizerConfig {
  std::string kind = "adam";  // adam | sgd
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f;
  float clip = 1.0f;                       // global-norm clipping; 0 = off
  std::string schedule = "warmup-cosine";  // warmup-cosine | constant
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 1;  // the cosine reaches min_lr here
  float min_lr = 1e-7f;
};

// Learning rate for optimizer step `step` (0-based): linear warmup from lr / warmup to lr over
// warmup_steps, then cosine decay to min_lr at total_steps (and min_lr after).
float learning_rate(const OptimizerConfig& config, std::int64_t step);

// torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when that is below 1.
// Returns the factor applied (1 when not clipped).
float clip_factor(float clip, double norm);

class Optimizer {
 public:
  // Updates `count` parameters (a range of the flat buffer); Adam keeps m and v for them.
  Optimizer(kernels::Backend& backend, OptimizerConfig config, std::size_t count);
  const OptimizerConfig& config() const { return config_; }
  // Global L2 norm of grads (n): the square root of a sum accumulated in double on the device.
  double norm(const float* grads, std::size_t n) const;
  // Its square: what ranks holding a part of the gradients each compute and then add up.
  double squared_norm(const float* grads, std::size_t n) const;
  // Scales grads (n) by clip_factor(config().clip, norm); returns the factor applied.
  float clip(float* grads, std::size_t n, double norm);
  // One update of params (count) from grads (count); `step` counts optimizer steps from 1.
  void step(float* params, const float* grads, std::int64_t step, float lr);
  float* m() { return m_.data(); }  // (count), empty for SGD
  float* v() { return v_.data(); }
  std::size_t state_floats() const { return m_.size() + v_.size(); }

 private:
  kernels::Backend& backend_;
  OptimizerConfig config_;
  std::size_t count_;
  kernels::Buffer m_, v_;
};

}  // namespace parbench::models
