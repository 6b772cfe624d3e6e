// Per-element math shared by the CPU and CUDA backends: one definition, compiled as
// __host__ __device__ under nvcc and as plain inline functions otherwise, so the CUDA kernels'
// arithmetic is tested by the CPU tests.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define PB_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PB_HOST_DEVICE inline
#endif

namespace parbench::kernels {

// exp(x) from arithmetic alone, so that loops calling it vectorize (glibc's expf and tanhf are
// scalar calls: they were half of an LSTM layer's forward time). Cody-Waite reduction
// x = n ln2 + r and Cephes' degree-5 polynomial for e^r on |r| <= ln2/2, then 2^n from the exponent
// bits: relative error below 1e-7 on [-87, 88] (KernelsOpsMath checks it against std::exp).
// The device uses its own __expf.
PB_HOST_DEVICE float exp_approx(float x) {
#if defined(__CUDA_ARCH__)
  return __expf(x);
#else
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round x / ln2 to the nearest integer by adding and removing 1.5 * 2^23 (no floorf call).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const auto exponent = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &exponent, sizeof scale);
  return e * scale;
#endif
}

PB_HOST_DEVICE float sigmoidf(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// tanh(x) = 2 sigmoid(2x) - 1: absolute error ~1e-7 (relative error grows near 0, where the
// values that follow it add, not multiply, so absolute error is what matters).
PB_HOST_DEVICE float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }

// splitmix64 finalizer; the same mixing as core/rng.h, repeated here because kernels/ must build
// for the device without core/.
PB_HOST_DEVICE std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Dropout masks: element `element` of global sample `sample` at (seed, stream) is kept when a
// counter-based uniform is >= p, where stream identifies the step and the layer. Any split of a
// batch over workers, threads or devices draws the same mask, and backward recomputes it instead
// of storing it. (seed, stream, sample) is mixed with 64-bit splitmix once per row; an element
// then costs one 32-bit murmur3 finalizer, which vectorizes (64-bit multiplies do not below
// AVX-512DQ) — the violence model draws 5120 per row.
PB_HOST_DEVICE std::uint32_t dropout_row_key(std::uint64_t seed, std::uint64_t stream, std::uint64_t sample) {
  const std::uint64_t key = mix64(mix64(mix64(seed) ^ stream) ^ sample);
  return static_cast<std::uint32_t>(key ^ (key >> 32));
}
PB_HOST_DEVICE bool dropout_keep(std::uint32_t row_key, std::uint32_t element, float p) {
  std::uint32_t h = row_key + element * 0x9e3779b9u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  // 24 random bits as a uniform in [0, 1).
  return static_cast<float>(h >> 8) * 0x1.0p-24f >= p;
}

// One LSTM cell update from pre-activation gates (i, f, g, o): PyTorch's equations
//   i = sigmoid(zi), f = sigmoid(zf), g = tanh(zg), o = sigmoid(zo)
//   c = f * c_prev + i * g, h = o * tanh(c)
struct LstmCell {
  float i, f, g, o, c, tanh_c, h;
};
PB_HOST_DEVICE LstmCell lstm_cell(float zi, float zf, float zg, float zo, float c_prev) {
  LstmCell s{};  // every field is set below; {} so that no path reads an indeterminate one
  s.i = sigmoidf(zi);
  s.f = sigmoidf(zf);
  s.g = tanh_approx(zg);
  s.o = sigmoidf(zo);
  s.c = s.f * c_prev + s.i * s.g;
  s.tanh_c = tanh_approx(s.c);
  s.h = s.o * s.tanh_c;
  return s;
}

// Backward through lstm_cell from its activations (i, f, g, o, tanh(c)), the previous cell state,
// dh = dL/dh of this step (output plus recurrent) and dc = dL/dc flowing back from the next step:
//   dc += dh o (1 - tanh^2(c))
//   dz_i = dc g i (1 - i), dz_f = dc c_prev f (1 - f), dz_g = dc i (1 - g^2), dz_o = dh tanh(c) o (1 - o)
// and dc_prev = dc f flows on to the previous step.
struct LstmCellGrad {
  float zi, zf, zg, zo, dc_prev;
};
PB_HOST_DEVICE LstmCellGrad lstm_cell_backward(float i, float f, float g, float o, float tanh_c, float c_prev, float dh,
                                               float dc) {
  const float dc_total = dc + dh * o * (1.0f - tanh_c * tanh_c);
  return {dc_total * g * i * (1.0f - i), dc_total * c_prev * f * (1.0f - f), dc_total * i * (1.0f - g * g),
          dh * tanh_c * o * (1.0f - o), dc_total * f};
}

// Adam, as torch.optim.Adam (no weight decay, no amsgrad): bias-corrected moments and eps added
// to the square root of the corrected second moment. `step` counts from 1.
PB_HOST_DEVICE void adam_update(float& param, float& m, float& v, float grad, float lr, float beta1, float beta2,
                                float eps, float bias_correction1, float bias_correction2) {
  m = beta1 * m + (1.0f - beta1) * grad;
  v = beta2 * v + (1.0f - beta2) * grad * grad;
  const float m_hat = m / bias_correction1;
  const float v_hat = v / bias_correction2;
  param -= lr * m_hat / (sqrtf(v_hat) + eps);
}

// ---- losses on softmax probabilities ----------------------------------------------------

// Smallest probability whose log the losses take: log(1e-12) = -27.6 keeps a saturated softmax
// finite. The gradient ignores the clamp (it only matters where p < 1e-12, where p log p ~ 0).
inline constexpr float kMinProb = 1e-12f;

// Smoothed target q_c = (1 - ls) * onehot_c + ls / C.
PB_HOST_DEVICE float smoothed_target(bool is_target, float label_smoothing, int classes) {
  return (is_target ? 1.0f - label_smoothing : 0.0f) + label_smoothing / static_cast<float>(classes);
}

// Focal loss term of one class: -alpha * q * (1 - p)^gamma * log p.
PB_HOST_DEVICE float focal_loss_term(float p, float q, float alpha, float gamma) {
  return -alpha * q * powf(1.0f - p, gamma) * logf(fmaxf(p, kMinProb));
}

// p * d(focal_loss_term)/dp = alpha * q * (gamma * p * (1-p)^(gamma-1) * log p - (1-p)^gamma).
// Multiplying by p first keeps it finite as p -> 0 (the (1-p)^gamma / p part), and at p = 1 both
// parts are 0 (written explicitly because (1-p)^(gamma-1) is inf there when gamma < 1).
PB_HOST_DEVICE float focal_grad_term(float p, float q, float alpha, float gamma) {
  const float one_minus_p = 1.0f - p;
  if (one_minus_p <= 0.0f) return 0.0f;
  const float log_p = logf(fmaxf(p, kMinProb));
  return alpha * q * (gamma * p * powf(one_minus_p, gamma - 1.0f) * log_p - powf(one_minus_p, gamma));
}

}  // namespace parbench::kernels
