// The CUDA backend (design.md §3): device memory from cudaMalloc with the bytes in use and their
// peak counted, one non-blocking stream that every op and copy is queued on, GEMMs through cuBLAS
// on that stream (fp32, or TF32 tensor cores with --tf32), everything else the hand-written
// kernels of ops.h. Compiled once per build of the kernels (runtime.h): against the real runtime
// it is the backend `cuda`, against the launch emulation `cuda_emulated`, whose memory is host
// memory, whose stream runs each op as it is queued and whose cuBLAS is the CPU's sgemm.
//
// Allocation is cudaMalloc, neither stream-ordered nor cached: models, optimizers and strategies
// allocate their buffers once, before the first step, and a step allocates nothing (the batch
// staging of models::Model reuses its buffers), so a caching allocator would have nothing to cache.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>

#include <fmt/format.h>

#include "core/devices.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cuda/ops.h"
#if PARBENCH_CUDA_EMULATION
#include "kernels/cpu/blas.h"
#else
#include "kernels/cuda/cudnn_lstm.h"
#endif

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

#if PARBENCH_CUDA_EMULATION
constexpr std::string_view kName = "cuda_emulated";
#else
constexpr std::string_view kName = "cuda";
#endif

constexpr double kMiB = 1024.0 * 1024.0;

// The device this process uses: --device, else its node-local rank modulo the visible devices.
// Raises, in one line, when there is none or the choice is out of range.
int choose_device(const BackendOptions& options) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();  // not sticky, but leave no error behind for the next CUDA_CHECK
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    raise(
        "backend '{}': no usable GPU: {}{} (CUDA 13 needs an NVIDIA GPU, driver 580 or later, and a device that "
        "CUDA_VISIBLE_DEVICES{} does not hide)",
        kName, status == cudaSuccess ? "the driver reports no device" : cudaGetErrorName(status),
        status == cudaSuccess ? "" : fmt::format(": {}", cudaGetErrorString(status)),
        visible ? fmt::format("='{}'", visible) : std::string(" (unset)"));
  }
  if (options.device >= count) {
    raise("--device {} is out of range: this process sees {} GPU(s), 0 to {}", options.device, count, count - 1);
  }
  return options.device >= 0 ? options.device : device_for(options.local_rank, count);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options) : options_(options), device_(choose_device(options)) {
#if PARBENCH_CUDA_EMULATION
    if (options.cudnn_lstm)
      raise("--lstm cudnn: cuDNN runs only on a GPU; the {} backend has the native LSTM only", kName);
#endif
    CUDA_CHECK(cudaSetDevice(device_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
#if !PARBENCH_CUDA_EMULATION
    if (options.cudnn_lstm) cudnn_lstm_ = std::make_unique<CudnnLstm>(stream_, options.tf32);
#endif
    CUBLAS_CHECK(cublasCreate(&blas_));
    CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    CUBLAS_CHECK(cublasSetMathMode(blas_, options.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    CUDA_CHECK(cudaMalloc(&sum_squares_workspace_, sum_squares_workspace_size() * sizeof(double)));
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  ~CudaBackend() override {
    // Errors here cannot be reported (a destructor may run while an exception unwinds).
    cudaStreamSynchronize(stream_);
    cudaFree(sum_squares_workspace_);
    if (batchnorm_workspace_) free(batchnorm_workspace_);
#if !PARBENCH_CUDA_EMULATION
    cudnn_lstm_.reset();  // its cuDNN handle is on stream_: destroyed before the stream
#endif
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  std::string_view name() const override { return kName; }
  bool supports(Precision precision) const override { return precision == Precision::fp32; }
  std::string describe() const override {
    int cublas = 0;
    CUBLAS_CHECK(cublasGetVersion(blas_, &cublas));
    const std::string math = options_.tf32 ? "TF32 tensor-core GEMMs" : "fp32 GEMMs";
#if PARBENCH_CUDA_EMULATION
    return fmt::format("{}: the CUDA kernels on CPU threads (launch emulation); cuBLAS served by {}; {}", kName,
                       cpu::blas_description(), math);
#else
    cudaDeviceProp properties{};
    CUDA_CHECK(cudaGetDeviceProperties(&properties, device_));
    int runtime = 0, driver = 0;
    CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    CUDA_CHECK(cudaDriverGetVersion(&driver));
    const std::string lstm = cudnn_lstm_ ? fmt::format("cuDNN {} LSTM", cudnn_version()) : "native LSTM";
    return fmt::format("cuda: device {} {} (sm_{}{}, {:.1f} GiB), driver CUDA {}.{}, runtime {}.{}, cuBLAS {}; {}; {}",
                       device_, properties.name, properties.major, properties.minor,
                       static_cast<double>(properties.totalGlobalMem) / (kMiB * 1024.0), driver / 1000,
                       driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, cublas, math, lstm);
#endif
  }

  // ---- memory and execution ----------------------------------------------------------------
  bool host_memory() const override { return false; }
  float* alloc(std::size_t count) override {
    const std::size_t bytes = (count == 0 ? 1 : count) * sizeof(float);
    void* pointer = nullptr;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
      raise(
          "backend '{}': out of device memory allocating {:.1f} MiB on device {} ({:.1f} MiB allocated by this "
          "backend, peak {:.1f} MiB; the device has {:.1f} of {:.1f} MiB free)",
          kName, static_cast<double>(bytes) / kMiB, device_, static_cast<double>(bytes_in_use_) / kMiB,
          static_cast<double>(peak_bytes_) / kMiB, static_cast<double>(free_bytes) / kMiB,
          static_cast<double>(total_bytes) / kMiB);
    }
    CUDA_CHECK(status);
    sizes_[pointer] = bytes;
    bytes_in_use_ += bytes;
    if (bytes_in_use_ > peak_bytes_) peak_bytes_ = bytes_in_use_;
    return static_cast<float*>(pointer);
  }
  void free(float* pointer) noexcept override {
    const auto entry = sizes_.find(pointer);
    if (entry == sizes_.end()) return;  // not ours: a Buffer frees only what alloc returned
    bytes_in_use_ -= entry->second;
    sizes_.erase(entry);
    cudaFree(pointer);  // waits for the device, so no queued kernel still reads it
  }
  // Host memory is pageable: the copy is complete when these return, so callers may reuse it.
  void upload(float* device, const float* host, std::size_t count) override {
    copy_and_wait(device, host, count * sizeof(float), cudaMemcpyHostToDevice);
  }
  void upload_targets(std::int32_t* device, const std::int32_t* host, std::size_t count) override {
    copy_and_wait(device, host, count * sizeof(std::int32_t), cudaMemcpyHostToDevice);
  }
  void download(float* host, const float* device, std::size_t count) override {
    copy_and_wait(host, device, count * sizeof(float), cudaMemcpyDeviceToHost);
  }
  void copy(float* destination, const float* source, std::size_t count) override {
    if (count == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(destination, source, count * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  void copy_2d(float* destination, int ld_destination, const float* source, int ld_source, int rows,
               int cols) override {
    if (rows == 0 || cols == 0) return;
    CUDA_CHECK(cudaMemcpy2DAsync(destination, static_cast<std::size_t>(ld_destination) * sizeof(float), source,
                                 static_cast<std::size_t>(ld_source) * sizeof(float),
                                 static_cast<std::size_t>(cols) * sizeof(float), static_cast<std::size_t>(rows),
                                 cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  std::size_t device_peak_bytes() const override { return peak_bytes_; }
  // A GPU's parallelism is its own: host threads do not change what a kernel does.
  void set_threads(int threads) override { threads_ = threads < 1 ? 1 : threads; }
  int threads() const override { return threads_; }

  // ---- BLAS-like ---------------------------------------------------------------------------
  void gemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta,
            Trans tb, float alpha, float beta) override {
    cuda::gemm(blas_, c, ldc, a, lda, b, ldb, m, n, k, ta, tb, alpha, beta);
  }
  void add_bias(float* y, const float* bias, int m, int n) override { cuda::add_bias(y, bias, m, n, stream_); }
  void bias_backward(float* dbias, const float* dy, int m, int n) override {
    cuda::bias_backward(dbias, dy, m, n, stream_);
  }
  void fill(float* x, float value, std::size_t n) override { cuda::fill(x, value, n, stream_); }
  void scale(float* x, float alpha, std::size_t n) override { cuda::scale(x, alpha, n, stream_); }
  void axpy(float* y, float alpha, const float* x, std::size_t n) override { cuda::axpy(y, alpha, x, n, stream_); }
  double sum_squares(const float* x, std::size_t n) override {
    return cuda::sum_squares(x, n, sum_squares_workspace_, stream_);
  }

  // ---- activations -------------------------------------------------------------------------
  void relu_forward(float* y, const float* x, std::size_t n) override { cuda::relu_forward(y, x, n, stream_); }
  void relu_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    cuda::relu_backward(dx, dy, y, n, stream_);
  }
  void tanh_forward(float* y, const float* x, std::size_t n) override { cuda::tanh_forward(y, x, n, stream_); }
  void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    cuda::tanh_backward(dx, dy, y, n, stream_);
  }
  void sigmoid_forward(float* y, const float* x, std::size_t n) override { cuda::sigmoid_forward(y, x, n, stream_); }
  void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    cuda::sigmoid_backward(dx, dy, y, n, stream_);
  }

  // ---- LSTM and attention ------------------------------------------------------------------
  // The native kernels (lstm.cu), or cuDNN's RNN (cudnn_lstm.h) with --lstm cudnn on a GPU.
  std::size_t lstm_reserve_size(const LstmShape& shape) const override {
#if !PARBENCH_CUDA_EMULATION
    if (cudnn_lstm_) return cudnn_lstm_->reserve_size(shape);
#endif
    return cuda::lstm_reserve_size(shape);
  }
  std::size_t lstm_workspace_size(const LstmShape& shape) const override {
#if !PARBENCH_CUDA_EMULATION
    if (cudnn_lstm_) return cudnn_lstm_->workspace_size(shape);
#endif
    return cuda::lstm_workspace_size(shape);
  }
  void lstm_forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih, const float* w_hh,
                    const float* b_ih, const float* b_hh, const LstmShape& shape) override {
#if !PARBENCH_CUDA_EMULATION
    if (cudnn_lstm_) return cudnn_lstm_->forward(y, reserve, workspace, x, w_ih, w_hh, b_ih, b_hh, shape);
#endif
    cuda::lstm_forward(blas_, y, reserve, workspace, x, w_ih, w_hh, b_ih, b_hh, shape, stream_);
  }
  // cuDNN's backward reads the weights from forward's copy in reserve, not w_ih and w_hh.
  void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace,
                     const float* dy, const float* x, const float* y, const float* reserve, const float* w_ih,
                     const float* w_hh, const LstmShape& shape) override {
#if !PARBENCH_CUDA_EMULATION
    if (cudnn_lstm_) return cudnn_lstm_->backward(dx, dw_ih, dw_hh, db_ih, db_hh, workspace, dy, x, y, reserve, shape);
#endif
    cuda::lstm_backward(blas_, dx, dw_ih, dw_hh, db_ih, db_hh, workspace, dy, x, y, reserve, w_ih, w_hh, shape,
                        stream_);
  }
  std::size_t attention_workspace_size(const AttentionShape& shape) const override {
    return cuda::attention_workspace_size(shape);
  }
  void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                         const float* v, const AttentionShape& shape) override {
    cuda::attention_forward(blas_, context, alpha, u, h, w, b, v, shape, stream_);
  }
  void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                          const float* h, const float* alpha, const float* u, const float* w, const float* v,
                          const AttentionShape& shape) override {
    cuda::attention_backward(blas_, dh, dw, db, dv, workspace, dcontext, h, alpha, u, w, v, shape, stream_);
  }

  // ---- BatchNorm ---------------------------------------------------------------------------
  void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                               const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                               float momentum, const ReplicaSum* across) override {
    cuda::batchnorm_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, m, c, eps, momentum,
                                  batchnorm_workspace(c), across, stream_);
  }
  void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, int m, int c, float eps) override {
    cuda::batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, m, c, eps, stream_);
  }
  void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                          const float* rstd, const float* gamma, int m, int c, const ReplicaSum* across) override {
    cuda::batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, m, c, batchnorm_workspace(c), across,
                             stream_);
  }

  // ---- dropout, softmax, losses, optimizers ------------------------------------------------
  void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                       std::uint64_t seed, std::uint64_t stream, float p) override {
    cuda::dropout_forward(y, x, samples, per_sample, first_sample, seed, stream, p, stream_);
  }
  void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                        std::uint64_t seed, std::uint64_t stream, float p) override {
    cuda::dropout_backward(dx, dy, samples, per_sample, first_sample, seed, stream, p, stream_);
  }
  void softmax_forward(float* probs, const float* logits, int batch, int classes) override {
    cuda::softmax_forward(probs, logits, batch, classes, stream_);
  }
  void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights,
                    int batch, int classes, const LossSpec& spec) override {
    cuda::loss_forward(losses, probs, targets, class_weights, batch, classes, params(spec), stream_);
  }
  void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                     int batch, int classes, const LossSpec& spec, float scale) override {
    cuda::loss_backward(dlogits, probs, targets, class_weights, batch, classes, params(spec), scale, stream_);
  }
  void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
                 float eps, std::int64_t step) override {
    cuda::adam_step(param, m, v, grad, n, lr, beta1, beta2, eps, step, stream_);
  }
  void sgd_step(float* param, const float* grad, std::size_t n, float lr) override {
    cuda::sgd_step(param, grad, n, lr, stream_);
  }

 private:
  static LossParams params(const LossSpec& spec) {
    return {spec.kind == LossSpec::Kind::focal, spec.label_smoothing, spec.focal_alpha, spec.focal_gamma};
  }
  void copy_and_wait(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, kind, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  // BatchNorm's scratch for c columns, grown to the widest layer seen (allocated once per model).
  float* batchnorm_workspace(int c) {
    const std::size_t size = batchnorm_workspace_size(c);
    if (size > batchnorm_workspace_floats_) {
      if (batchnorm_workspace_) free(batchnorm_workspace_);
      batchnorm_workspace_ = alloc(size);
      batchnorm_workspace_floats_ = size;
    }
    return batchnorm_workspace_;
  }

  BackendOptions options_;
  int device_ = 0;
  int threads_ = 1;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  double* sum_squares_workspace_ = nullptr;  // (sum_squares_workspace_size())
  float* batchnorm_workspace_ = nullptr;     // (batchnorm_workspace_floats_)
  std::size_t batchnorm_workspace_floats_ = 0;
  std::map<const void*, std::size_t> sizes_;  // bytes of every live allocation
  std::size_t bytes_in_use_ = 0, peak_bytes_ = 0;
#if !PARBENCH_CUDA_EMULATION
  std::unique_ptr<CudnnLstm> cudnn_lstm_;  // --lstm cudnn; null: the native LSTM
#endif
};

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendOptions& options) { return std::make_unique<CudaBackend>(options); }

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda
