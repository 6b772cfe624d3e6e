// The CPU backend: host memory aligned for AVX-512, a synchronous "stream", GEMM through oneDNN
// (blas.cpp), everything else hand-written (lstm.cpp, ops.cpp). This class forwards, and with
// more than one intra-op thread splits the elementwise ops (Adam, dropout, ...) into one fixed
// chunk per thread on OpenMP threads: the runtime oneDNN's GEMM runs on, whose workers keep
// spinning for a while after each GEMM, so work handed to another runtime's threads (oneTBB)
// would wait for those cores, while OpenMP's spinning workers take it at once.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/lstm.h"
#include "kernels/cpu/ops.h"

namespace parbench::kernels {

namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend() { set_threads(1); }

  std::string_view name() const override { return "cpu"; }
  bool supports(Precision precision) const override { return precision == Precision::fp32; }
  std::string describe() const override {
    return fmt::format("cpu, {} thread(s); {}", threads_, cpu::blas_description());
  }

  bool host_memory() const override { return true; }
  float* alloc(std::size_t count) override {
    // 64-byte alignment: one cache line, one AVX-512 vector.
    const std::size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): the backend's allocator; a Buffer owns the memory
    void* pointer = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!pointer) throw std::bad_alloc();
    return static_cast<float*>(pointer);
  }
  void free(float* pointer) noexcept override { std::free(pointer); }  // NOLINT(cppcoreguidelines-no-malloc)
  void upload(float* device, const float* host, std::size_t count) override { copy(device, host, count); }
  void upload_targets(std::int32_t* device, const std::int32_t* host, std::size_t count) override {
    if (count) std::memmove(device, host, count * sizeof(std::int32_t));
  }
  void download(float* host, const float* device, std::size_t count) override { copy(host, device, count); }
  void copy(float* destination, const float* source, std::size_t count) override {
    if (count) std::memmove(destination, source, count * sizeof(float));
  }
  void copy_2d(float* destination, int ld_destination, const float* source, int ld_source, int rows,
               int cols) override {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(destination + static_cast<std::ptrdiff_t>(r) * ld_destination,
                  source + static_cast<std::ptrdiff_t>(r) * ld_source, static_cast<std::size_t>(cols) * sizeof(float));
    }
  }
  void synchronize() override {}
  void set_threads(int threads) override {
    threads_ = threads < 1 ? 1 : threads;
    cpu::set_blas_threads(threads_);
  }
  int threads() const override { return threads_; }

  void gemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta,
            Trans tb, float alpha, float beta) override {
    cpu::sgemm(c, ldc, a, lda, b, ldb, m, n, k, ta, tb, alpha, beta);
  }
  void add_bias(float* y, const float* bias, int m, int n) override { cpu::add_bias(y, bias, m, n); }
  void bias_backward(float* dbias, const float* dy, int m, int n) override { cpu::bias_backward(dbias, dy, m, n); }
  void fill(float* x, float value, std::size_t n) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::fill(x + b, value, e - b); });
  }
  void scale(float* x, float alpha, std::size_t n) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::scale(x + b, alpha, e - b); });
  }
  void axpy(float* y, float alpha, const float* x, std::size_t n) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::axpy(y + b, alpha, x + b, e - b); });
  }
  double sum_squares(const float* x, std::size_t n) override {
    if (threads_ == 1 || n < kSplitMin) return cpu::sum_squares(x, n);
    // Partial sums per fixed chunk, added in chunk order: the same bits for the same thread count.
    const int parts = threads_;
    std::vector<double> partial(static_cast<std::size_t>(parts), 0.0);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int part = 0; part < parts; ++part) {
      const std::size_t begin = n * static_cast<std::size_t>(part) / parts,
                        end = n * static_cast<std::size_t>(part + 1) / parts;
      partial[static_cast<std::size_t>(part)] = cpu::sum_squares(x + begin, end - begin);
    }
    double total = 0;
    for (const double p : partial) total += p;
    return total;
  }

  void relu_forward(float* y, const float* x, std::size_t n) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::relu_forward(y + b, x + b, e - b); });
  }
  void relu_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::relu_backward(dx + b, dy + b, y + b, e - b); });
  }
  void tanh_forward(float* y, const float* x, std::size_t n) override { cpu::tanh_forward(y, x, n); }
  void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    cpu::tanh_backward(dx, dy, y, n);
  }
  void sigmoid_forward(float* y, const float* x, std::size_t n) override { cpu::sigmoid_forward(y, x, n); }
  void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    cpu::sigmoid_backward(dx, dy, y, n);
  }

  std::size_t lstm_reserve_size(const LstmShape& shape) const override { return cpu::lstm_reserve_size(shape); }
  std::size_t lstm_workspace_size(const LstmShape& shape) const override { return cpu::lstm_workspace_size(shape); }
  void lstm_forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih, const float* w_hh,
                    const float* b_ih, const float* b_hh, const LstmShape& shape) override {
    cpu::lstm_forward(y, reserve, workspace, x, w_ih, w_hh, b_ih, b_hh, shape, threads_);
  }
  void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace,
                     const float* dy, const float* x, const float* y, const float* reserve, const float* w_ih,
                     const float* w_hh, const LstmShape& shape) override {
    cpu::lstm_backward(dx, dw_ih, dw_hh, db_ih, db_hh, workspace, dy, x, y, reserve, w_ih, w_hh, shape, threads_);
  }

  std::size_t attention_workspace_size(const AttentionShape& shape) const override {
    return cpu::attention_workspace_size(shape);
  }
  void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                         const float* v, const AttentionShape& shape) override {
    cpu::attention_forward(context, alpha, u, h, w, b, v, shape);
  }
  void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                          const float* h, const float* alpha, const float* u, const float* w, const float* v,
                          const AttentionShape& shape) override {
    cpu::attention_backward(dh, dw, db, dv, workspace, dcontext, h, alpha, u, w, v, shape);
  }

  void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                               const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                               float momentum, const ReplicaSum* across) override {
    cpu::batchnorm_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, m, c, eps, momentum, across);
  }
  void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, int m, int c, float eps) override {
    cpu::batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, m, c, eps);
  }
  void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                          const float* rstd, const float* gamma, int m, int c, const ReplicaSum* across) override {
    cpu::batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, m, c, across);
  }

  // Split by samples: masks are keyed by the global sample index, so any split draws the same.
  void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                       std::uint64_t seed, std::uint64_t stream, float p) override {
    split_rows(samples, per_sample, [&](int b, int e) {
      const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(b) * per_sample;
      cpu::dropout_forward(y + offset, x + offset, e - b, per_sample, first_sample + b, seed, stream, p);
    });
  }
  void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                        std::uint64_t seed, std::uint64_t stream, float p) override {
    split_rows(samples, per_sample, [&](int b, int e) {
      const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(b) * per_sample;
      cpu::dropout_backward(dx + offset, dy + offset, e - b, per_sample, first_sample + b, seed, stream, p);
    });
  }

  void softmax_forward(float* probs, const float* logits, int batch, int classes) override {
    cpu::softmax_forward(probs, logits, batch, classes);
  }
  void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights,
                    int batch, int classes, const LossSpec& spec) override {
    cpu::loss_forward(losses, probs, targets, class_weights, batch, classes, spec);
  }
  void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                     int batch, int classes, const LossSpec& spec, float scale) override {
    cpu::loss_backward(dlogits, probs, targets, class_weights, batch, classes, spec, scale);
  }

  void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
                 float eps, std::int64_t step) override {
    split(n, [&](std::size_t b, std::size_t e) {
      cpu::adam_step(param + b, m + b, v + b, grad + b, e - b, lr, beta1, beta2, eps, step);
    });
  }
  void sgd_step(float* param, const float* grad, std::size_t n, float lr) override {
    split(n, [&](std::size_t b, std::size_t e) { cpu::sgd_step(param + b, grad + b, e - b, lr); });
  }

 private:
  // Below this many elements a split costs more than it saves (a thread wake-up is a few us).
  static constexpr std::size_t kSplitMin = 1 << 15;

  // f(begin, end) over one fixed chunk per thread (chunk p on thread p), or over everything on
  // one thread. The ops split here do not throw, which an OpenMP region requires.
  template <class F>
  void split(std::size_t n, const F& f) {
    if (threads_ == 1 || n < kSplitMin) {
      if (n) f(0, n);
      return;
    }
    const int parts = threads_;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int part = 0; part < parts; ++part) {
      f(n * static_cast<std::size_t>(part) / parts, n * static_cast<std::size_t>(part + 1) / parts);
    }
  }
  template <class F>
  void split_rows(int rows, int per_row, const F& f) {
    if (threads_ == 1 || static_cast<std::size_t>(rows) * per_row < kSplitMin || rows < threads_) {
      f(0, rows);
      return;
    }
    const int parts = threads_;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int part = 0; part < parts; ++part) f(rows * part / parts, rows * (part + 1) / parts);
  }

  int threads_ = 1;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  if (options.tf32) raise("--tf32 selects the GPU's TF32 tensor cores; the cpu backend computes in fp32 only");
  if (options.cudnn_lstm) raise("--lstm cudnn needs a cuda backend; the cpu backend has its native LSTM only");
  if (options.device >= 0) raise("--device {} selects a GPU; the cpu backend has none", options.device);
  return std::make_unique<CpuBackend>();
}

}  // namespace parbench::kernels
