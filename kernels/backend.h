// The one kernel interface models are built from (design.md §3). A backend owns the memory its
// ops use and the stream they run on; the CPU backend's stream is synchronous. Models and
// strategies hold backend buffers and call only these ops, so the same model runs on any device.
//
// Conventions, stated once for every op below:
// - row-major tensors; every pointer carries its shape in a comment; sizes come last;
// - outputs first, then inputs; forward outputs (activations, caches) are overwritten (=);
// - gradients d* ACCUMULATE (+=): callers zero gradient buffers before a backward pass. This is
//   what lets a tensor that feeds two consumers, or a parameter used at every timestep, receive
//   its gradient from each without extra buffers;
// - a nullptr gradient output means "not needed" (e.g. the input features of the first layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::kernels {

enum class Trans : bool { no = false, yes = true };

// Sums `values` (n, device memory) element-wise over the replicas that each hold a shard of one
// batch, in place (an all-reduce). Synchronised BatchNorm calls it between its passes so that
// every replica normalises with the statistics of the whole batch.
using ReplicaSum = std::function<void(float* values, std::size_t n)>;
enum class Precision : std::uint8_t { fp32, bf16, fp16 };

struct LstmShape {
  int batch;   // B
  int steps;   // T
  int input;   // I
  int hidden;  // H per direction
};

struct AttentionShape {
  int batch;      // B
  int steps;      // T
  int features;   // D (2H of the last LSTM)
  int attention;  // A (hidden size of the scoring MLP)
};

// Loss over logits (B, C) with targets, label smoothing and per-class weights (design.md §2).
struct LossSpec {
  enum class Kind : std::uint8_t { cross_entropy, focal } kind = Kind::cross_entropy;
  float label_smoothing = 0.0f;  // targets q = (1 - ls) * onehot + ls / C
  float focal_alpha = 0.25f;     // focal: loss = -alpha * sum_c q_c (1 - p_c)^gamma log p_c
  float focal_gamma = 2.0f;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "cpu", "cuda"
  virtual bool supports(Precision precision) const = 0;
  // What ran: BLAS library and kernel set, device model... for the run context.
  virtual std::string describe() const = 0;

  // ---- memory and execution ---------------------------------------------------------------
  // True when device memory is host memory (CPU): batches and targets are then used in place.
  virtual bool host_memory() const = 0;
  virtual float* alloc(std::size_t count) = 0;  // count floats, uninitialised
  virtual void free(float* pointer) noexcept = 0;
  virtual void upload(float* device, const float* host, std::size_t count) = 0;
  // Class labels (count int32) into memory from alloc(count): a batch's targets on the device.
  virtual void upload_targets(std::int32_t* device, const std::int32_t* host, std::size_t count) = 0;
  virtual void download(float* host, const float* device, std::size_t count) = 0;
  virtual void copy(float* destination, const float* source, std::size_t count) = 0;
  // destination (rows, cols) with row stride ld_destination = source (rows, cols) with row stride
  // ld_source (as cudaMemcpy2D): concatenation along features without a kernel of its own.
  virtual void copy_2d(float* destination, int ld_destination, const float* source, int ld_source, int rows,
                       int cols) = 0;
  virtual void synchronize() = 0;
  // High-water mark of the device memory this backend allocated; 0 where device memory is host
  // memory (the process's resident set measures that).
  virtual std::size_t device_peak_bytes() const { return 0; }
  // Intra-op threads (BLAS and loops). Strategies that run one worker per core set 1.
  virtual void set_threads(int threads) = 0;
  virtual int threads() const = 0;

  // ---- BLAS-like --------------------------------------------------------------------------
  // c (m, n) = alpha * op(a) op(b) + beta * c, with op(a) (m, k) and op(b) (k, n);
  // lda, ldb, ldc: row strides of a, b, c as stored (so c can be a column block of a wider matrix).
  virtual void gemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta,
                    Trans tb, float alpha, float beta) = 0;
  // y (m, n) += bias (n), broadcast over rows.
  virtual void add_bias(float* y, const float* bias, int m, int n) = 0;
  // dbias (n) += column sums of dy (m, n).
  virtual void bias_backward(float* dbias, const float* dy, int m, int n) = 0;
  virtual void fill(float* x, float value, std::size_t n) = 0;
  virtual void scale(float* x, float alpha, std::size_t n) = 0;
  virtual void axpy(float* y, float alpha, const float* x, std::size_t n) = 0;  // y += alpha * x
  // sum of x^2, accumulated in double; returned to the host (a synchronisation point).
  virtual double sum_squares(const float* x, std::size_t n) = 0;

  // ---- activations: y = f(x) (in place allowed); backward from the forward OUTPUT y --------
  virtual void relu_forward(float* y, const float* x, std::size_t n) = 0;
  virtual void relu_backward(float* dx, const float* dy, const float* y, std::size_t n) = 0;
  virtual void tanh_forward(float* y, const float* x, std::size_t n) = 0;
  virtual void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n) = 0;
  virtual void sigmoid_forward(float* y, const float* x, std::size_t n) = 0;
  virtual void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n) = 0;

  // ---- bidirectional LSTM layer (PyTorch semantics: gates i, f, g, o; zero initial state) ---
  // Weights of both directions are contiguous, forward first: w_ih (2, 4H, I), w_hh (2, 4H, H),
  // b_ih (2, 4H), b_hh (2, 4H). y (B, T, 2H): forward direction in columns [0, H), reverse
  // direction (which reads t = T-1 .. 0) in [H, 2H), as nn.LSTM(bidirectional=True) outputs.
  // reserve: kept from forward to backward; workspace: scratch within one call. Layouts are the
  // backend's own (cuDNN has its own); sizes in floats.
  virtual std::size_t lstm_reserve_size(const LstmShape& shape) const = 0;
  virtual std::size_t lstm_workspace_size(const LstmShape& shape) const = 0;
  virtual void lstm_forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih,
                            const float* w_hh, const float* b_ih, const float* b_hh, const LstmShape& shape) = 0;
  // x (B, T, I), y and reserve from the forward call; dx (B, T, I) may be nullptr.
  virtual void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace,
                             const float* dy, const float* x, const float* y, const float* reserve, const float* w_ih,
                             const float* w_hh, const LstmShape& shape) = 0;

  // ---- additive attention over time -------------------------------------------------------
  // u_t = tanh(W h_t + b), s_t = v . u_t, alpha = softmax_t(s), context = sum_t alpha_t h_t.
  // h (B, T, D), w (A, D), b (A), v (A); outputs context (B, D), alpha (B, T), u (B, T, A)
  // (alpha and u are kept for backward).
  virtual std::size_t attention_workspace_size(const AttentionShape& shape) const = 0;
  virtual void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                                 const float* v, const AttentionShape& shape) = 0;
  virtual void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                                  const float* h, const float* alpha, const float* u, const float* w, const float* v,
                                  const AttentionShape& shape) = 0;

  // ---- BatchNorm over the rows of x (M, C): statistics per column -------------------------
  // Training: y = gamma * (x - mean) * rstd + beta with the biased batch variance; saves mean (C)
  // and rstd (C) = 1/sqrt(var + eps); updates running_mean/var (C) with `momentum` and the
  // unbiased variance, as torch.nn.BatchNorm1d does. With `across`, the statistics are those of
  // every replica's rows together (synchronised BatchNorm); backward then takes the same `across`.
  virtual void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                                       const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                                       float momentum, const ReplicaSum* across = nullptr) = 0;
  virtual void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, int m, int c, float eps) = 0;
  virtual void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* mean, const float* rstd, const float* gamma, int m, int c,
                                  const ReplicaSum* across = nullptr) = 0;

  // ---- inverted dropout with counter-based masks (kernels/math.h dropout_keep) ------------
  // x (samples, per_sample): row s is global sample first_sample + s; kept elements are scaled by
  // 1 / (1 - p). stream identifies (step, layer). Backward recomputes the same mask.
  virtual void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                               std::uint64_t seed, std::uint64_t stream, float p) = 0;
  virtual void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                                std::uint64_t seed, std::uint64_t stream, float p) = 0;

  // ---- softmax and losses -----------------------------------------------------------------
  // probs (B, C) = softmax over each row of logits (B, C).
  virtual void softmax_forward(float* probs, const float* logits, int batch, int classes) = 0;
  // losses (B) = per-sample loss * class_weights[target] (class_weights may be nullptr = 1);
  // dlogits (B, C) += scale * d(weighted loss)/d logits. `scale` is 1 / global batch size, so
  // that shards of a batch add up to the gradient of the batch mean.
  virtual void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights,
                            int batch, int classes, const LossSpec& spec) = 0;
  virtual void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets,
                             const float* class_weights, int batch, int classes, const LossSpec& spec, float scale) = 0;

  // ---- optimizers -------------------------------------------------------------------------
  // torch.optim.Adam; step counts from 1. param, m, v, grad (n).
  virtual void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1,
                         float beta2, float eps, std::int64_t step) = 0;
  // param -= lr * grad
  virtual void sgd_step(float* param, const float* grad, std::size_t n, float lr) = 0;
};

// How a backend is made. The defaults suit every backend; the GPU settings are errors on a backend
// that has no such choice (--tf32 or --lstm cudnn on the CPU), never silently ignored.
struct BackendOptions {
  int device = -1;          // GPU among the visible ones; -1: local_rank modulo their count (core/devices.h)
  int local_rank = 0;       // this process's node-local rank (Comm::local_rank), for the default device
  bool tf32 = false;        // GEMMs on TF32 tensor cores (cuBLAS's math mode); fp32 otherwise
  bool cudnn_lstm = false;  // the LSTM layer through cuDNN's RNN API instead of the native kernels
};

// Creates a backend by name; throws parbench::Error listing the valid names, naming the CMake
// option that enables a known backend that was not built, or saying why a built one cannot start
// (no usable GPU) or refuses an option.
std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options = {});
std::vector<std::string> backend_names();

}  // namespace parbench::kernels
