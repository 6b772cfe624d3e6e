// The CUDA backend's cuDNN LSTM path (`--lstm cudnn`, design.md §3): Backend::lstm_* semantics
// (kernels/backend.h) through cuDNN's v8 RNN API, beside the native kernels of lstm.cu. cuDNN keeps
// its weights in one packed "weight space" of its own layout, so every forward copies the PyTorch-
// layout tensors in and every backward adds cuDNN's weight gradients back out. Device build only
// (parbench_cuda_device): the emulated build has no cuDNN.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/runtime.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

// CUDNN_CHECK's failure path: parbench::check_failed with the status's number and name, and cuDNN's
// reason for it (cudnnGetLastErrorString) where it gives one.
[[noreturn]] void cudnn_failed(const char* file, int line, const char* expression, int status);

// The cuDNN library this process loaded, "9.19.0" (cudnnGetVersion; needs no GPU).
std::string cudnn_version();

// ---- descriptors: no handle, so they are set up (and tested) without a GPU --------------------

// The descriptors of one bidirectional single-layer LSTM of `shape` (owned, destroyed with it):
//   rnn   CUDNN_LSTM, two bias vectors (b_ih and b_hh, as PyTorch), input size I, hidden size H,
//         fp32 data and math; FMA-only math unless `tf32` (then TF32 tensor cores are allowed);
//   x, y  x (B, T, I) and y (B, T, 2H) batch-major and unpadded (every sequence has T steps), so
//         the Backend's tensors are used in place;
//   h, c  (2, B, H): the initial and final states' shape. The Backend's LSTM starts from zero and
//         keeps no final state, so only the shape is ever passed, with null data.
// A shape with a size that is not positive raises parbench::Error naming it.
struct CudnnLstmDescriptors {
  CudnnLstmDescriptors(const LstmShape& shape, bool tf32);
  ~CudnnLstmDescriptors();
  CudnnLstmDescriptors(const CudnnLstmDescriptors&) = delete;
  CudnnLstmDescriptors& operator=(const CudnnLstmDescriptors&) = delete;

  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x = nullptr, y = nullptr;
  cudnnTensorDescriptor_t h = nullptr, c = nullptr;
};

// ---- weight conversion: a pure helper ----------------------------------------------------------

// Which of the Backend's weight tensors a run belongs to (the order of lstm_forward's arguments).
enum class LstmWeight : std::uint8_t { w_ih, w_hh, b_ih, b_hh };

// A run of floats that is contiguous both in one of our weight tensors (at `ours`) and in cuDNN's
// packed weight space (at `packed`): copied in by one cudaMemcpyAsync, added back by one axpy.
struct WeightRun {
  LstmWeight tensor;
  std::size_t ours;    // float offset in the tensor, e.g. direction * 4H * I + gate * H * I in w_ih
  std::size_t packed;  // float offset in the weight space
  std::size_t count;

  bool operator==(const WeightRun&) const = default;
};

// `runs` (one per gate matrix and bias vector, any order) sorted by tensor and offset, with each
// run that continues the previous one on both sides merged into it: where cuDNN packs a direction's
// four gate matrices back to back in our gate order (i, f, g, o), as PyTorch relies on, the copies
// of a forward are one per tensor and direction instead of one per gate.
std::vector<WeightRun> merge_runs(std::vector<WeightRun> runs);

// ---- the layer ---------------------------------------------------------------------------------

// The cuDNN LSTM of one CudaBackend: a cuDNN handle on the backend's stream, and per LstmShape
// (the violence model's layers differ in I, and a batch's last shard in B) its descriptors, cuDNN's
// sizes, the sequence lengths on the device and the weight runs.
//
// Layouts, in floats (each part starts on a 256-byte boundary, cudaMalloc's alignment, which cuDNN's
// buffers are given when allocated on their own). The parts whose size does not depend on B come
// first, so that a smaller batch's parts fit where the model allocated for its largest batch (as
// long as cuDNN's own sizes do not shrink as B grows, which gpu_lstm_check.cpp checks):
// reserve (kept from forward to backward)
//   weights  cuDNN's weight space: w_ih, w_hh, b_ih, b_hh packed, written by forward and read by
//            backward, so that backward needs no copy of its own
//   cudnn    cuDNN's reserve space (activations for backward; cudnnRNNBackwardData_v8 overwrites
//            it with what cudnnRNNBackwardWeights_v8 needs, so one backward per forward)
// workspace (scratch within one call)
//   dweights cuDNN's weight gradients, same layout as weights (backward)
//   dx       (B, T, I): cuDNN's dx, which it overwrites and the Backend adds (backward)
//   cudnn    cuDNN's workspace (forward and backward)
class CudnnLstm {
 public:
  // Fails through CUDNN_CHECK where cuDNN cannot start (no GPU: CUDNN_STATUS_NOT_INITIALIZED).
  CudnnLstm(cudaStream_t stream, bool tf32);
  ~CudnnLstm();
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  std::size_t reserve_size(const LstmShape& shape) const;
  std::size_t workspace_size(const LstmShape& shape) const;
  // Backend::lstm_forward: y (B, T, 2H) from x (B, T, I), w_ih (2, 4H, I), w_hh (2, 4H, H), b_ih,
  // b_hh (2, 4H); reserve and workspace as above.
  void forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih, const float* w_hh,
               const float* b_ih, const float* b_hh, const LstmShape& shape);
  // Backend::lstm_backward: dx (B, T, I) (may be nullptr), dw_ih, dw_hh, db_ih, db_hh accumulate;
  // dy, x, y (forward's), reserve (forward's; its weights part stands in for w_ih and w_hh).
  void backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace, const float* dy,
                const float* x, const float* y, const float* reserve, const LstmShape& shape);

 private:
  struct Plan;
  // The plan of `shape`, made on first use (cuDNN's size queries need the handle).
  Plan& plan(const LstmShape& shape) const;
  // The weight runs of `plan`, asked of cuDNN on first use with its weight space at `weights`.
  const std::vector<WeightRun>& runs(Plan& plan, const float* weights) const;

  cudaStream_t stream_;
  bool tf32_;
  cudnnHandle_t handle_ = nullptr;
  // Keyed by (B, T, I, H). Made in the const size queries: a cache, not state the Backend exposes.
  mutable std::map<std::tuple<int, int, int, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

#define CUDNN_CHECK(expression)                                                                                     \
  do {                                                                                                              \
    const cudnnStatus_t pb_cudnn_status_ = (expression);                                                            \
    if (pb_cudnn_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                                      \
      ::parbench::kernels::cuda::cudnn_failed(__FILE__, __LINE__, #expression, static_cast<int>(pb_cudnn_status_)); \
  } while (0)
