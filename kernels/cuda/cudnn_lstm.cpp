// The cuDNN LSTM path (cudnn_lstm.h): descriptors, sizes and layouts per shape, the weight
// conversion between PyTorch's layout and cuDNN's packed weight space, and the forward and backward
// calls. Host code, compiled only into parbench_cuda_device (the real runtime and cuDNN).
#include "kernels/cuda/cudnn_lstm.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/check.h"
#include "core/error.h"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// Every part of reserve and workspace starts on a multiple of 256 bytes, the alignment of a
// cudaMalloc, which is what cuDNN's buffers have when they are allocated on their own.
constexpr std::size_t kAlignFloats = 256 / sizeof(float);

std::size_t aligned_floats(std::size_t floats) { return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }
std::size_t floats_for_bytes(std::size_t bytes) { return aligned_floats((bytes + sizeof(float) - 1) / sizeof(float)); }

std::size_t index(LstmWeight tensor) { return static_cast<std::size_t>(tensor); }

// A scratch tensor descriptor for cudnnGetRNNWeightParams to describe one matrix or bias in.
class TensorDescriptor {
 public:
  TensorDescriptor() { CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// Dimensions and strides of a descriptor that cudnnGetRNNWeightParams filled (at most 3 dims).
struct Dims {
  int count = 0;
  std::array<int, 3> size{}, stride{};
  std::size_t elements() const {
    std::size_t n = 1;
    for (int d = 0; d < count; ++d) n *= static_cast<std::size_t>(size[static_cast<std::size_t>(d)]);
    return n;
  }
};
Dims dims_of(cudnnTensorDescriptor_t desc) {
  Dims dims;
  cudnnDataType_t type{};
  CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc, 3, &type, &dims.count, dims.size.data(), dims.stride.data()));
  PB_CHECK(type == CUDNN_DATA_FLOAT && dims.count >= 1 && dims.count <= 3, "type {}, {} dims", static_cast<int>(type),
           dims.count);
  return dims;
}

}  // namespace

void cudnn_failed(const char* file, int line, const char* expression, int status) {
  // cudnnGetErrorString gives only the status's name; cuDNN 9 keeps the reason (which parameter,
  // which limit) for cudnnGetLastErrorString.
  std::array<char, 1024> reason{};
  cudnnGetLastErrorString(reason.data(), reason.size());
  std::string detail =
      fmt::format("cuDNN error {} {}", status, cudnnGetErrorString(static_cast<cudnnStatus_t>(status)));
  if (reason[0] != '\0') detail += fmt::format(": {}", reason.data());
  ::parbench::check_failed(file, line, expression, detail);
}

std::string cudnn_version() {
  // cuDNN 9 numbers itself major * 10000 + minor * 100 + patch (9.19.0 is 91900).
  const std::size_t version = cudnnGetVersion();
  return fmt::format("{}.{}.{}", version / 10000, version % 10000 / 100, version % 100);
}

// ---- descriptors -------------------------------------------------------------------------------

CudnnLstmDescriptors::CudnnLstmDescriptors(const LstmShape& shape, bool tf32) {
  const int B = shape.batch, T = shape.steps, I = shape.input, H = shape.hidden;
  if (B <= 0 || T <= 0 || I <= 0 || H <= 0) {
    raise("cuDNN LSTM: shape B={} T={} I={} H={} (batch, steps, input, hidden) has a size that is not positive", B, T,
          I, H);
  }
  CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn));
  // FMA math keeps fp32 exactly fp32 on GPUs with tensor cores, where cuDNN's default math would
  // allow TF32; with --tf32 the default is what PyTorch uses for fp32 with TF32 allowed. No dropout
  // descriptor: cuDNN applies dropout only between layers, and there is one. Padded I/O enabled:
  // cuDNN accepts the unpacked (batch-major) layouts only with it, although no sequence is padded.
  CUDNN_CHECK(cudnnSetRNNDescriptor_v8(rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                       CUDNN_BIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                       tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, I, H, H, 1, nullptr,
                                       CUDNN_RNN_PADDED_IO_ENABLED));
  const std::vector<int> lengths(static_cast<std::size_t>(B), T);  // every sequence has all T steps
  CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&x));
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(x, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B, I,
                                        lengths.data(), nullptr));
  CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&y));
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(y, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B, 2 * H,
                                        lengths.data(), nullptr));
  const std::array<int, 3> state{2, B, H}, strides{B * H, H, 1};  // (directions, B, H), packed
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&h));
  CUDNN_CHECK(cudnnSetTensorNdDescriptor(h, CUDNN_DATA_FLOAT, 3, state.data(), strides.data()));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&c));
  CUDNN_CHECK(cudnnSetTensorNdDescriptor(c, CUDNN_DATA_FLOAT, 3, state.data(), strides.data()));
}

CudnnLstmDescriptors::~CudnnLstmDescriptors() {
  cudnnDestroyTensorDescriptor(c);
  cudnnDestroyTensorDescriptor(h);
  cudnnDestroyRNNDataDescriptor(y);
  cudnnDestroyRNNDataDescriptor(x);
  cudnnDestroyRNNDescriptor(rnn);
}

// ---- weight runs -------------------------------------------------------------------------------

std::vector<WeightRun> merge_runs(std::vector<WeightRun> runs) {
  std::sort(runs.begin(), runs.end(), [](const WeightRun& a, const WeightRun& b) {
    return std::tie(a.tensor, a.ours) < std::tie(b.tensor, b.ours);
  });
  std::vector<WeightRun> merged;
  for (const WeightRun& run : runs) {
    if (!merged.empty()) {
      WeightRun& last = merged.back();
      if (last.tensor == run.tensor && last.ours + last.count == run.ours && last.packed + last.count == run.packed) {
        last.count += run.count;
        continue;
      }
    }
    merged.push_back(run);
  }
  return merged;
}

// ---- the layer ---------------------------------------------------------------------------------

struct CudnnLstm::Plan {
  Plan(cudnnHandle_t handle, const LstmShape& of, bool tf32) : shape(of), descriptors(of, tf32) {
    CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, descriptors.rnn, &weight_bytes));
    CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle, descriptors.rnn, CUDNN_FWD_MODE_TRAINING, descriptors.x, &work_bytes,
                                          &reserve_bytes));
    const std::size_t B = static_cast<std::size_t>(shape.batch), T = static_cast<std::size_t>(shape.steps),
                      I = static_cast<std::size_t>(shape.input);
    cudnn_reserve = floats_for_bytes(weight_bytes);
    reserve_floats = cudnn_reserve + floats_for_bytes(reserve_bytes);
    dx = floats_for_bytes(weight_bytes);
    cudnn_work = dx + aligned_floats(B * T * I);
    workspace_floats = cudnn_work + floats_for_bytes(work_bytes);
    // cuDNN reads the lengths from device memory, possibly after the call has returned: kept here.
    const std::vector<std::int32_t> lengths(B, shape.steps);
    CUDA_CHECK(cudaMalloc(&seq_lengths, B * sizeof(std::int32_t)));
    CUDA_CHECK(cudaMemcpy(seq_lengths, lengths.data(), B * sizeof(std::int32_t), cudaMemcpyHostToDevice));
  }
  ~Plan() { cudaFree(seq_lengths); }  // waits for the device: no queued call still reads it
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  LstmShape shape;
  CudnnLstmDescriptors descriptors;
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;  // cuDNN's sizes
  // Float offsets of the parts (cudnn_lstm.h); the weights and dweights parts are at 0.
  std::size_t cudnn_reserve = 0, reserve_floats = 0;
  std::size_t dx = 0, cudnn_work = 0, workspace_floats = 0;
  std::int32_t* seq_lengths = nullptr;  // (B), each T, device memory
  std::vector<WeightRun> runs;          // empty until the first forward or backward
  bool runs_cover_weights = false;      // whether the runs fill the weight space (no padding in it)
};

CudnnLstm::CudnnLstm(cudaStream_t stream, bool tf32) : stream_(stream), tf32_(tf32) {
  CUDNN_CHECK(cudnnCreate(&handle_));
  CUDNN_CHECK(cudnnSetStream(handle_, stream_));
}

CudnnLstm::~CudnnLstm() {
  // Errors here cannot be reported (a destructor may run while an exception unwinds).
  plans_.clear();
  cudnnDestroy(handle_);
}

CudnnLstm::Plan& CudnnLstm::plan(const LstmShape& shape) const {
  auto& entry = plans_[{shape.batch, shape.steps, shape.input, shape.hidden}];
  if (!entry) entry = std::make_unique<Plan>(handle_, shape, tf32_);
  return *entry;
}

// For each direction (cuDNN's pseudo-layer 0 forward, 1 reverse) and linear layer (0-3 the input
// matrices of gates i, f, g, o, cuDNN's order i, f, c', o; 4-7 the recurrent ones), where the matrix
// and its bias sit in the weight space, as runs from our tensors: gate k of direction d in w_ih
// (2, 4H, I) is the (H, I) block at (d * 4H + k * H) * I, row-major as cuDNN's (checked).
const std::vector<WeightRun>& CudnnLstm::runs(Plan& plan, const float* weights) const {
  if (!plan.runs.empty()) return plan.runs;
  const std::size_t H = static_cast<std::size_t>(plan.shape.hidden), I = static_cast<std::size_t>(plan.shape.input);
  const auto offset_of = [&](const void* address, std::size_t count) {
    const std::ptrdiff_t bytes = static_cast<const char*>(address) - reinterpret_cast<const char*>(weights);
    PB_CHECK(bytes >= 0 && bytes % static_cast<std::ptrdiff_t>(sizeof(float)) == 0 &&
                 static_cast<std::size_t>(bytes) + count * sizeof(float) <= plan.weight_bytes,
             "cuDNN placed a weight at byte {} of a {}-byte weight space", bytes, plan.weight_bytes);
    return static_cast<std::size_t>(bytes) / sizeof(float);
  };
  const TensorDescriptor matrix_desc, bias_desc;
  std::vector<WeightRun> runs;
  std::size_t covered = 0;
  for (int direction = 0; direction < 2; ++direction) {
    for (int layer = 0; layer < 8; ++layer) {
      void* matrix = nullptr;
      void* bias = nullptr;
      CUDNN_CHECK(cudnnGetRNNWeightParams(handle_, plan.descriptors.rnn, direction, plan.weight_bytes, weights, layer,
                                          matrix_desc.get(), &matrix, bias_desc.get(), &bias));
      const bool input = layer < 4;
      const std::size_t columns = input ? I : H, gate = static_cast<std::size_t>(layer % 4),
                        d = static_cast<std::size_t>(direction);
      const Dims m = dims_of(matrix_desc.get()), b = dims_of(bias_desc.get());
      const auto last = static_cast<std::size_t>(m.count - 1);
      PB_CHECK(m.elements() == H * columns && m.stride[last] == 1 &&
                   (m.count == 1 || static_cast<std::size_t>(m.stride[last - 1]) == columns) && b.elements() == H,
               "cuDNN's linear layer {} of direction {}: matrix of {} floats (last stride {}), bias of {}; expected a "
               "row-major ({}, {}) matrix and {} biases",
               layer, direction, m.elements(), m.stride[last], b.elements(), H, columns, H);
      runs.push_back({input ? LstmWeight::w_ih : LstmWeight::w_hh, (d * 4 + gate) * H * columns,
                      offset_of(matrix, H * columns), H * columns});
      runs.push_back({input ? LstmWeight::b_ih : LstmWeight::b_hh, (d * 4 + gate) * H, offset_of(bias, H), H});
      covered += (H * columns + H) * sizeof(float);
    }
  }
  plan.runs_cover_weights = covered == plan.weight_bytes;
  plan.runs = merge_runs(std::move(runs));
  return plan.runs;
}

std::size_t CudnnLstm::reserve_size(const LstmShape& shape) const { return plan(shape).reserve_floats; }
std::size_t CudnnLstm::workspace_size(const LstmShape& shape) const { return plan(shape).workspace_floats; }

void CudnnLstm::forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih,
                        const float* w_hh, const float* b_ih, const float* b_hh, const LstmShape& shape) {
  Plan& p = plan(shape);
  float* weights = reserve;  // (weight_bytes), cuDNN's layout
  const std::vector<WeightRun>& copies = runs(p, weights);
  // Padding between cuDNN's matrices, if it has any, is not ours to fill: zero it so that no
  // uninitialised float (a NaN pattern) reaches a GEMM that spans it.
  if (!p.runs_cover_weights) CUDA_CHECK(cudaMemsetAsync(weights, 0, p.weight_bytes, stream_));
  const std::array<const float*, 4> sources{w_ih, w_hh, b_ih, b_hh};
  for (const WeightRun& run : copies) {
    CUDA_CHECK(cudaMemcpyAsync(weights + run.packed, sources[index(run.tensor)] + run.ours, run.count * sizeof(float),
                               cudaMemcpyDeviceToDevice, stream_));
  }
  const CudnnLstmDescriptors& d = p.descriptors;
  // hx, cx null: zero initial state; hy, cy null: the final state is not kept.
  CUDNN_CHECK(cudnnRNNForward(handle_, d.rnn, CUDNN_FWD_MODE_TRAINING, p.seq_lengths, d.x, x, d.y, y, d.h, nullptr,
                              nullptr, d.c, nullptr, nullptr, p.weight_bytes, weights, p.work_bytes,
                              workspace + p.cudnn_work, p.reserve_bytes, reserve + p.cudnn_reserve));
}

void CudnnLstm::backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace,
                         const float* dy, const float* x, const float* y, const float* reserve,
                         const LstmShape& shape) {
  Plan& p = plan(shape);
  const CudnnLstmDescriptors& d = p.descriptors;
  const float* weights = reserve;  // forward's copy, so that backward uses the weights forward did
  // cuDNN takes its reserve space writable in backward (cudnnRNNBackwardData_v8 leaves there what
  // cudnnRNNBackwardWeights_v8 reads); the Backend passes reserve const since the native path only
  // reads it. The memory is the layer's own buffer, so writing it is defined.
  float* cudnn_reserve = const_cast<float*>(reserve) + p.cudnn_reserve;  // NOLINT(*-const-cast): see above
  float* dweights = workspace;
  float* dx_cudnn = workspace + p.dx;
  float* work = workspace + p.cudnn_work;
  // dhy, dcy null: no gradient reaches the final state; dhx, dcx null: the zero initial state
  // has no parameters. cuDNN overwrites dx, so it goes to scratch and is added to ours.
  CUDNN_CHECK(cudnnRNNBackwardData_v8(handle_, d.rnn, p.seq_lengths, d.y, y, dy, d.x, dx_cudnn, d.h, nullptr, nullptr,
                                      nullptr, d.c, nullptr, nullptr, nullptr, p.weight_bytes, weights, p.work_bytes,
                                      work, p.reserve_bytes, cudnn_reserve));
  if (dx != nullptr) {
    const std::size_t count = static_cast<std::size_t>(shape.batch) * static_cast<std::size_t>(shape.steps) *
                              static_cast<std::size_t>(shape.input);
    axpy(dx, 1.0f, dx_cudnn, count, stream_);
  }
  // cuDNN's weight gradients can only be added (CUDNN_WGRAD_MODE_ADD is the mode it implements),
  // so into a zeroed space; then added to ours, one axpy per run.
  CUDA_CHECK(cudaMemsetAsync(dweights, 0, p.weight_bytes, stream_));
  CUDNN_CHECK(cudnnRNNBackwardWeights_v8(handle_, d.rnn, CUDNN_WGRAD_MODE_ADD, p.seq_lengths, d.x, x, d.h, nullptr, d.y,
                                         y, p.weight_bytes, dweights, p.work_bytes, work, p.reserve_bytes,
                                         cudnn_reserve));
  const std::array<float*, 4> gradients{dw_ih, dw_hh, db_ih, db_hh};
  for (const WeightRun& run : runs(p, weights)) {
    axpy(gradients[index(run.tensor)] + run.ours, 1.0f, dweights + run.packed, run.count, stream_);
  }
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda
