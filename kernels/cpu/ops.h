// The CPU backend's hand-written ops other than the LSTM: one free function per Backend op, same
// parameters in the same order, so CpuBackend only forwards and tests call them without a backend.
// Conventions are kernels/backend.h's: outputs first; forward outputs overwrite; gradients +=.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace parbench::kernels::cpu {

// ---- BLAS-like --------------------------------------------------------------------------------
void add_bias(float* y, const float* bias, int m, int n);         // y (m, n) += bias (n) per row
void bias_backward(float* dbias, const float* dy, int m, int n);  // dbias (n) += column sums of dy (m, n)
void fill(float* x, float value, std::size_t n);                  // x (n) = value
void scale(float* x, float alpha, std::size_t n);                 // x (n) *= alpha
void axpy(float* y, float alpha, const float* x, std::size_t n);  // y (n) += alpha * x (n)
double sum_squares(const float* x, std::size_t n);                // sum of x (n)^2 in double

// ---- activations: y (n) = f(x (n)), in place allowed; backward dx (n) += dy (n) * f'(from y (n)) --
void relu_forward(float* y, const float* x, std::size_t n);
void relu_backward(float* dx, const float* dy, const float* y, std::size_t n);
void tanh_forward(float* y, const float* x, std::size_t n);
void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n);
void sigmoid_forward(float* y, const float* x, std::size_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n);

// ---- additive attention over time ---------------------------------------------------------------
// Forward needs no scratch: the scores s (B, T) are computed in `alpha` and softmaxed in place.
// Backward workspace: [dz (B*T, A) = d(pre-tanh projection) | ds (B*T) = d(scores)], B*T*(A+1) floats.
std::size_t attention_workspace_size(const AttentionShape& shape);
// context (B, D), alpha (B, T), u (B, T, A) = outputs; h (B, T, D), w (A, D), b (A), v (A).
void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                       const float* v, const AttentionShape& shape);
// dh (B, T, D), dw (A, D), db (A), dv (A) accumulate, each may be nullptr; workspace as above;
// dcontext (B, D); h, alpha, u, w, v as in / from attention_forward.
void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                        const float* h, const float* alpha, const float* u, const float* w, const float* v,
                        const AttentionShape& shape);

// ---- BatchNorm over the rows of x (m, c), statistics per column -----------------------------------
// y (m, c), mean (c), rstd (c) = 1/sqrt(biased var + eps) written; running_mean, running_var (c)
// updated with `momentum` and the unbiased variance. Fewer than 2 rows in the whole batch throws
// parbench::Error, as PyTorch refuses training-mode BatchNorm on one value per channel (the
// unbiased variance is undefined). `across` (may be nullptr): statistics over every replica's rows.
void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                             float momentum, const ReplicaSum* across = nullptr);
// y (m, c) from x (m, c), gamma, beta, running_mean, running_var (c).
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int m, int c, float eps);
// dx (m, c), dgamma (c), dbeta (c) accumulate, each may be nullptr; dy, x (m, c); mean, rstd from
// the training forward; gamma (c). `across`: as in the forward (dgamma, dbeta stay this replica's).
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                        const float* rstd, const float* gamma, int m, int c, const ReplicaSum* across = nullptr);

// ---- inverted dropout: y, x, dx, dy (samples, per_sample); row s is global sample first_sample + s --
// 0 <= p <= 1; p = 1 drops everything (y = 0) as torch.nn.Dropout(1.0) does.
void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                     std::uint64_t seed, std::uint64_t stream, float p);
void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                      std::uint64_t seed, std::uint64_t stream, float p);

// ---- softmax and losses -------------------------------------------------------------------------
// probs (B, C) = softmax of each row of logits (B, C); in place allowed.
void softmax_forward(float* probs, const float* logits, int batch, int classes);
// losses (B) = per-sample loss * class_weights[target]; probs (B, C), targets (B) in [0, C),
// class_weights (C) or nullptr. log p is taken of max(p, 1e-12) so a saturated softmax gives a
// large finite loss instead of inf.
void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights, int batch,
                  int classes, const LossSpec& spec);
// dlogits (B, C) += scale * d(weighted loss)/d logits, through the softmax that made probs (B, C).
void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                   int batch, int classes, const LossSpec& spec, float scale);

// ---- optimizers: param, m, v, grad (n) ---------------------------------------------------------
// torch.optim.Adam (no weight decay, no amsgrad); step counts from 1.
void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
               float eps, std::int64_t step);
void sgd_step(float* param, const float* grad, std::size_t n, float lr);  // param -= lr * grad

}  // namespace parbench::kernels::cpu
