// What of the cuDNN LSTM path (kernels/cuda/cudnn_lstm.h) can be checked without a GPU: cuDNN's
// version and error strings, the descriptors of the violence model's LSTM shapes (cuDNN sets them
// up on the host), the refusal of a shape with H = 0, and the merging of weight runs. Everything
// that needs a cuDNN handle (sizes, weight offsets, the calls) is gpu_lstm_check.cpp's. Exits
// non-zero on any failure.
#include <array>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cudnn_lstm.h"

namespace {

using namespace parbench::kernels;
using namespace parbench::kernels::cuda;

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) ++failures;
}

std::string describe(const LstmShape& s) {
  return "B " + std::to_string(s.batch) + " T " + std::to_string(s.steps) + " I " + std::to_string(s.input) + " H " +
         std::to_string(s.hidden);
}

// Reads back what the descriptors hold: the RNN's sizes and modes, and x's and y's layout and widths.
void check_descriptors(const LstmShape& shape, bool tf32) {
  const CudnnLstmDescriptors d(shape, tf32);
  cudnnRNNAlgo_t algo{};
  cudnnRNNMode_t cell{};
  cudnnRNNBiasMode_t bias{};
  cudnnDirectionMode_t direction{};
  cudnnRNNInputMode_t input_mode{};
  cudnnDataType_t data{}, math_precision{};
  cudnnMathType_t math{};
  int input = 0, hidden = 0, projection = 0, layers = 0;
  cudnnDropoutDescriptor_t dropout = nullptr;
  unsigned flags = 0;
  const cudnnStatus_t status =
      cudnnGetRNNDescriptor_v8(d.rnn, &algo, &cell, &bias, &direction, &input_mode, &data, &math_precision, &math,
                               &input, &hidden, &projection, &layers, &dropout, &flags);
  const std::string name = describe(shape) + (tf32 ? " tf32" : " fp32");
  expect(status == CUDNN_STATUS_SUCCESS && algo == CUDNN_RNN_ALGO_STANDARD && cell == CUDNN_LSTM &&
             bias == CUDNN_RNN_DOUBLE_BIAS && direction == CUDNN_BIDIRECTIONAL && input_mode == CUDNN_LINEAR_INPUT &&
             data == CUDNN_DATA_FLOAT && math_precision == CUDNN_DATA_FLOAT &&
             math == (tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH) && input == shape.input && hidden == shape.hidden &&
             projection == shape.hidden && layers == 1 && flags == CUDNN_RNN_PADDED_IO_ENABLED,
         name + ": RNN descriptor (" + cudnnGetErrorString(status) + ")");
  for (const auto& [desc, width, what] : {std::tuple{d.x, shape.input, "x"}, std::tuple{d.y, 2 * shape.hidden, "y"}}) {
    cudnnDataType_t type{};
    cudnnRNNDataLayout_t layout{};
    int steps = 0, batch = 0, vector = 0;
    std::vector<int> lengths(static_cast<std::size_t>(shape.batch), -1);
    float fill = 0;  // cuDNN writes the padding symbol here (none was set); null is refused
    const cudnnStatus_t read =
        cudnnGetRNNDataDescriptor(desc, &type, &layout, &steps, &batch, &vector, shape.batch, lengths.data(), &fill);
    bool full = true;
    for (const int length : lengths) full = full && length == shape.steps;
    expect(read == CUDNN_STATUS_SUCCESS && type == CUDNN_DATA_FLOAT &&
               layout == CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED && steps == shape.steps && batch == shape.batch &&
               vector == width && full,
           name + ": " + what + " data descriptor (" + cudnnGetErrorString(read) + ")");
  }
  for (const auto& [desc, what] : {std::pair{d.h, "h"}, std::pair{d.c, "c"}}) {
    cudnnDataType_t type{};
    int count = 0;
    int dims[3] = {}, strides[3] = {};
    const cudnnStatus_t read = cudnnGetTensorNdDescriptor(desc, 3, &type, &count, dims, strides);
    expect(read == CUDNN_STATUS_SUCCESS && count == 3 && dims[0] == 2 && dims[1] == shape.batch &&
               dims[2] == shape.hidden && strides[0] == shape.batch * shape.hidden && strides[1] == shape.hidden &&
               strides[2] == 1,
           name + ": " + what + " state descriptor (2, B, H)");
  }
}

void check_bad_shape() {
  std::string error;
  try {
    const CudnnLstmDescriptors d({64, 20, 4096, 0}, false);
  } catch (const parbench::Error& e) {
    error = e.what();
  }
  std::printf("H = 0 raises: %s\n", error.c_str());
  expect(error.find("B=64 T=20 I=4096 H=0") != std::string::npos && error.find("not positive") != std::string::npos,
         "a shape with H = 0 raises an error naming the shape");
  // cuDNN refuses it as well, so CUDNN_CHECK would stop it where a caller skipped our check.
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnStatus_t status = cudnnCreateRNNDescriptor(&rnn);
  if (status == CUDNN_STATUS_SUCCESS) {
    status = cudnnSetRNNDescriptor_v8(rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                      CUDNN_BIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                      CUDNN_FMA_MATH, 4096, 0, 0, 1, nullptr, CUDNN_RNN_PADDED_IO_ENABLED);
    cudnnDestroyRNNDescriptor(rnn);
  }
  std::array<char, 1024> reason{};
  cudnnGetLastErrorString(reason.data(), reason.size());  // what CUDNN_CHECK's message adds
  std::printf("cudnnSetRNNDescriptor_v8 with H = 0: %d %s: %s\n", static_cast<int>(status), cudnnGetErrorString(status),
              reason.data());
  expect(status != CUDNN_STATUS_SUCCESS, "cuDNN refuses H = 0 itself");
}

// Four gates of (H, I) = (2, 3) packed back to back in gate order, a bias elsewhere, and one gate
// out of order: the first three merge, the fourth and the bias stay runs of their own.
void check_merge_runs() {
  const std::vector<WeightRun> gates{{LstmWeight::w_ih, 12, 40, 6},
                                     {LstmWeight::b_ih, 0, 100, 2},
                                     {LstmWeight::w_ih, 0, 28, 6},
                                     {LstmWeight::w_ih, 6, 34, 6},
                                     {LstmWeight::w_ih, 18, 0, 6}};
  const std::vector<WeightRun> expected{
      {LstmWeight::w_ih, 0, 28, 18}, {LstmWeight::w_ih, 18, 0, 6}, {LstmWeight::b_ih, 0, 100, 2}};
  expect(merge_runs(gates) == expected, "merge_runs joins runs contiguous on both sides, only those");
  expect(merge_runs({}).empty(), "merge_runs of nothing");
}

}  // namespace

int main() {
  std::printf("cuDNN %s (cudnnGetVersion, no GPU needed); CUDNN_STATUS_NOT_INITIALIZED reads \"%s\"\n",
              cudnn_version().c_str(), cudnnGetErrorString(CUDNN_STATUS_NOT_INITIALIZED));
  expect(cudnn_version() ==
             std::to_string(CUDNN_MAJOR) + "." + std::to_string(CUDNN_MINOR) + "." + std::to_string(CUDNN_PATCHLEVEL),
         "the loaded cuDNN is the one compiled against");
  // The violence model's three layers: I = 4096 (VGG19 fc2), then 2H = 256 twice; H = 128. B = 64
  // is its batch, 37 a last shard's.
  for (const LstmShape& shape :
       {LstmShape{64, 20, 4096, 128}, LstmShape{64, 20, 256, 128}, LstmShape{37, 20, 256, 128}})
    for (const bool tf32 : {false, true}) check_descriptors(shape, tf32);
  check_bad_shape();
  check_merge_runs();
  std::printf("%s\n", failures == 0 ? "all passed" : (std::to_string(failures) + " FAILED").c_str());
  return failures == 0 ? 0 : 1;
}
