// The CUDA backend's hand-written ops: one launch function per Backend op, same parameters in the
// same order as kernels/cpu/ops.h plus the stream they run on, so the backend only forwards and
// tests call them directly (under the emulation, on CPU threads). Pointers are device memory.
// Conventions are kernels/backend.h's: outputs first; forward outputs overwrite; gradients +=.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/runtime.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

// ---- BLAS-like (blas.cu) ------------------------------------------------------------------------
void fill(float* x, float value, std::size_t n, cudaStream_t stream);                  // x (n) = value
void scale(float* x, float alpha, std::size_t n, cudaStream_t stream);                 // x (n) *= alpha
void axpy(float* y, float alpha, const float* x, std::size_t n, cudaStream_t stream);  // y (n) += alpha * x (n)
void add_bias(float* y, const float* bias, int m, int n, cudaStream_t stream);         // y (m, n) += bias (n)
void bias_backward(float* dbias, const float* dy, int m, int n, cudaStream_t stream);  // dbias (n) += col sums

// ---- sum of squares (reduce.cu) -----------------------------------------------------------------
// Doubles of device scratch sum_squares needs.
std::size_t sum_squares_workspace_size();
// sum of x (n)^2 accumulated in double, in a fixed order that depends only on n (bitwise the same
// on every call); workspace: sum_squares_workspace_size() doubles of device memory. Returns to the
// host: synchronises the stream.
double sum_squares(const float* x, std::size_t n, double* workspace, cudaStream_t stream);

// ---- activations (activations.cu): y (n) = f(x (n)), in place allowed; dx (n) += dy (n) * f'(y) --
void relu_forward(float* y, const float* x, std::size_t n, cudaStream_t stream);
void relu_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream);
void tanh_forward(float* y, const float* x, std::size_t n, cudaStream_t stream);
void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream);
void sigmoid_forward(float* y, const float* x, std::size_t n, cudaStream_t stream);
void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream);

// ---- softmax (softmax.cu) -----------------------------------------------------------------------
// probs (B, C) = softmax of each row of logits (B, C); in place allowed.
void softmax_forward(float* probs, const float* logits, int batch, int classes, cudaStream_t stream);

// ---- BatchNorm over the rows of x (m, c), statistics per column (batchnorm.cu) -------------------
// Parameters as kernels/cpu/ops.h's, plus device scratch (the CPU's std::vectors):
// batchnorm_workspace_size(c) floats, for forward_train and backward.
std::size_t batchnorm_workspace_size(int c);
// y (m, c), mean (c), rstd (c) = 1/sqrt(biased var + eps) written; running_mean, running_var (c)
// updated with `momentum` and the unbiased variance. Fewer than 2 rows in the whole batch fails
// through PB_HOST_CHECK (the CPU throws parbench::Error). `across` (may be nullptr): statistics over
// every replica's rows; it is called on device memory right after the sums' kernel is queued on
// `stream`, so it must order itself after that stream (an all-reduce on the same stream, or a
// synchronisation first); reading the batch's row count back then synchronises the stream.
void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                             float momentum, float* workspace, const ReplicaSum* across, cudaStream_t stream);
// y (m, c) from x (m, c), gamma, beta, running_mean, running_var (c); in place allowed.
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int m, int c, float eps, cudaStream_t stream);
// dx (m, c), dgamma (c), dbeta (c) accumulate, each may be nullptr; dy, x (m, c); mean, rstd from the
// training forward; gamma (c). `across`: as in the forward (dgamma, dbeta stay this replica's).
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                        const float* rstd, const float* gamma, int m, int c, float* workspace, const ReplicaSum* across,
                        cudaStream_t stream);

// ---- inverted dropout (dropout.cu): y, x, dx, dy (samples, per_sample); row s is global sample --
// first_sample + s; the masks of kernels/math.h, bit for bit the CPU backend's. rng_stream is the
// Backend's `stream` (step and layer), renamed beside the CUDA stream.
void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                     std::uint64_t seed, std::uint64_t rng_stream, float p, cudaStream_t stream);
void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                      std::uint64_t seed, std::uint64_t rng_stream, float p, cudaStream_t stream);

// ---- losses (losses.cu) over softmax probabilities ----------------------------------------------
// kernels/backend.h's LossSpec as the kernels take it (a kernel parameter by value); the .cu files
// include only runtime.h and math.h, not the Backend interface. Same semantics as LossSpec.
struct LossParams {
  bool focal = false;            // LossSpec::Kind::focal, else cross-entropy
  float label_smoothing = 0.0f;  // targets q = (1 - ls) * onehot + ls / C
  float focal_alpha = 0.25f;     // focal: loss = -alpha * sum_c q_c (1 - p_c)^gamma log p_c
  float focal_gamma = 2.0f;
};
// losses (B) = per-sample loss * class_weights[target]; probs (B, C), targets (B) in [0, C),
// class_weights (C) or nullptr; log p of max(p, 1e-12), as the CPU. A target outside [0, C), which
// the CPU backend raises on and a kernel cannot, gives the sample a NaN loss (and NaN gradients).
void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights, int batch,
                  int classes, const LossParams& spec, cudaStream_t stream);
// dlogits (B, C) += scale * d(weighted loss)/d logits, through the softmax that made probs (B, C).
void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                   int batch, int classes, const LossParams& spec, float scale, cudaStream_t stream);

// ---- bidirectional LSTM layer, native path (lstm.cu) ---------------------------------------------
// Backend::lstm_forward / lstm_backward semantics (kernels/backend.h), with the GEMMs on `blas`
// (whose stream is `stream`): the input projection of all timesteps as one GEMM, then per timestep
// the recurrent GEMM of both directions and one fused kernel for the gate math of kernels/math.h.
// Reserve and workspace layouts are this file's own; sizes in floats.
std::size_t lstm_reserve_size(const LstmShape& shape);
std::size_t lstm_workspace_size(const LstmShape& shape);
void lstm_forward(cublasHandle_t blas, float* y, float* reserve, float* workspace, const float* x, const float* w_ih,
                  const float* w_hh, const float* b_ih, const float* b_hh, const LstmShape& shape, cudaStream_t stream);
void lstm_backward(cublasHandle_t blas, float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                   float* workspace, const float* dy, const float* x, const float* y, const float* reserve,
                   const float* w_ih, const float* w_hh, const LstmShape& shape, cudaStream_t stream);

// ---- additive attention over time (attention.cu) -------------------------------------------------
// Backend::attention_forward / attention_backward semantics, GEMMs on `blas` (stream `stream`).
std::size_t attention_workspace_size(const AttentionShape& shape);
void attention_forward(cublasHandle_t blas, float* context, float* alpha, float* u, const float* h, const float* w,
                       const float* b, const float* v, const AttentionShape& shape, cudaStream_t stream);
void attention_backward(cublasHandle_t blas, float* dh, float* dw, float* db, float* dv, float* workspace,
                        const float* dcontext, const float* h, const float* alpha, const float* u, const float* w,
                        const float* v, const AttentionShape& shape, cudaStream_t stream);

// ---- optimizers (optimizers.cu): param, m, v, grad (n) --------------------------------------------
// torch.optim.Adam (no weight decay, no amsgrad); step counts from 1 (checked on the host).
void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
               float eps, std::int64_t step, cudaStream_t stream);
void sgd_step(float* param, const float* grad, std::size_t n, float lr, cudaStream_t stream);  // param -= lr * grad

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda
