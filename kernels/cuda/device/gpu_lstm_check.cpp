// The cuDNN LSTM path (--lstm cudnn, kernels/cuda/cudnn_lstm.h) against the native kernels
// (lstm.cu) on a real GPU: two `cuda` backends, one made with BackendOptions::cudnn_lstm, run
// forward and backward on the same inputs at the violence model's shapes, and every output and
// gradient must agree. Without a usable GPU it says why and exits 77 (skipped); exits 1 on any
// mismatch.
//
// What it shows beyond agreement of the arithmetic: that PyTorch's gate order and two biases land
// where cuDNN reads them (a wrong gate or bias gives differences of order 1, not of rounding), that
// gradients accumulate (+=) onto what the buffers held, that dx = nullptr is accepted, that a batch
// smaller than the one the buffers were sized for fits (a last shard), and that cuDNN's sizes grow
// with the batch, which that relies on.
//
// Tolerance: both paths are fp32 (cuDNN with FMA math, no TF32), in different summation orders, so
// they differ by rounding only. A pre-activation is a dot product of I + H <= 4224 terms, whose
// rounding error behaves as sqrt(I + H) u ~ 65 * 6e-8 ~ 4e-6 of the terms' magnitudes (errors of
// independent sign; Higham and Mary 2019), and the recurrence carries it over T = 20 steps through
// gates whose derivatives are at most 1. Weight gradients add a sum over B * T = 1280 rows
// (sqrt(1280) u ~ 2e-6). So forward outputs are compared at 1e-4 of the tensor's largest magnitude
// and gradients at 1e-3: 10 to 100 times the expected rounding, far below the order-1 differences of
// a misplaced weight.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cuda/runtime.h"

namespace {

using namespace parbench::kernels;

constexpr double kForwardTolerance = 1e-4;
constexpr double kBackwardTolerance = 1e-3;
constexpr float kPrefill = 0.5f;  // what gradient buffers hold before backward: += must keep it

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) ++failures;
}

std::vector<float> random_vector(std::size_t n, double bound, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(static_cast<float>(-bound), static_cast<float>(bound));
  std::vector<float> x(n);
  for (auto& value : x) value = uniform(generator);
  return x;
}

// max |a - b| over max |b|; reported with the tensor's name.
void compare(const std::string& what, const std::vector<float>& cudnn, const std::vector<float>& native,
             double tolerance) {
  double difference = 0, magnitude = 0;
  for (std::size_t i = 0; i < native.size(); ++i) {
    difference = std::max(difference, std::abs(static_cast<double>(cudnn[i]) - native[i]));
    magnitude = std::max(magnitude, std::abs(static_cast<double>(native[i])));
  }
  const bool ok = std::isfinite(difference) && difference <= tolerance * magnitude;
  char line[256];
  std::snprintf(line, sizeof line, "%s: max |cudnn - native| %.3g, max |native| %.3g, ratio %.3g (tolerance %.0e)",
                what.c_str(), difference, magnitude, magnitude > 0 ? difference / magnitude : difference, tolerance);
  expect(ok, line);
}

// A device buffer of the backend's.
struct Device {
  Device(Backend& owner, std::size_t n) : backend(owner), count(n), data(owner.alloc(n)) {}
  ~Device() { backend.free(data); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  std::vector<float> download() const {
    std::vector<float> host(count);
    backend.download(host.data(), data, count);
    return host;
  }
  Backend& backend;
  std::size_t count;
  float* data;
};

// The layer's inputs at PyTorch's nn.LSTM init (weights uniform in +-1/sqrt(H)), x and dy in (-1, 1).
struct Inputs {
  explicit Inputs(const LstmShape& s) {
    const auto B = static_cast<std::size_t>(s.batch), T = static_cast<std::size_t>(s.steps),
               I = static_cast<std::size_t>(s.input), H = static_cast<std::size_t>(s.hidden);
    const double bound = 1.0 / std::sqrt(static_cast<double>(H));
    x = random_vector(B * T * I, 1.0, 1);
    w_ih = random_vector(8 * H * I, bound, 2);
    w_hh = random_vector(8 * H * H, bound, 3);
    b_ih = random_vector(8 * H, bound, 4);
    b_hh = random_vector(8 * H, bound, 5);
    dy = random_vector(B * T * 2 * H, 1.0, 6);
  }
  std::vector<float> x, w_ih, w_hh, b_ih, b_hh, dy;
};

// What one backend's layer gives: y, then dx and the weight gradients accumulated onto kPrefill.
struct Outputs {
  std::vector<float> y, dx, dw_ih, dw_hh, db_ih, db_hh;
};

// Forward and backward of `run` on buffers sized for `sized` (same T, I, H; batch >= run's).
Outputs run_layer(Backend& backend, const Inputs& in, const LstmShape& sized, const LstmShape& run, bool with_dx) {
  const auto upload = [&](const std::vector<float>& host) {
    auto device = std::make_unique<Device>(backend, host.size());
    backend.upload(device->data, host.data(), host.size());
    return device;
  };
  const auto filled = [&](std::size_t count) {
    auto device = std::make_unique<Device>(backend, count);
    backend.fill(device->data, kPrefill, count);
    return device;
  };
  const auto x = upload(in.x), w_ih = upload(in.w_ih), w_hh = upload(in.w_hh), b_ih = upload(in.b_ih),
             b_hh = upload(in.b_hh), dy = upload(in.dy);
  const std::size_t y_count = in.dy.size();
  const Device y(backend, y_count), reserve(backend, backend.lstm_reserve_size(sized)),
      workspace(backend, backend.lstm_workspace_size(sized));
  const auto dx = filled(in.x.size()), dw_ih = filled(in.w_ih.size()), dw_hh = filled(in.w_hh.size()),
             db_ih = filled(in.b_ih.size()), db_hh = filled(in.b_hh.size());
  backend.lstm_forward(y.data, reserve.data, workspace.data, x->data, w_ih->data, w_hh->data, b_ih->data, b_hh->data,
                       run);
  backend.lstm_backward(with_dx ? dx->data : nullptr, dw_ih->data, dw_hh->data, db_ih->data, db_hh->data,
                        workspace.data, dy->data, x->data, y.data, reserve.data, w_ih->data, w_hh->data, run);
  backend.synchronize();
  return {y.download(), dx->download(), dw_ih->download(), dw_hh->download(), db_ih->download(), db_hh->download()};
}

std::string describe(const LstmShape& s) {
  return "B " + std::to_string(s.batch) + " T " + std::to_string(s.steps) + " I " + std::to_string(s.input) + " H " +
         std::to_string(s.hidden);
}

void check_shape(Backend& native, Backend& cudnn, const LstmShape& sized, const LstmShape& run) {
  const Inputs in(run);
  const std::string name =
      describe(run) + (run.batch != sized.batch ? " in buffers for B " + std::to_string(sized.batch) : "");
  const Outputs a = run_layer(cudnn, in, sized, run, true), b = run_layer(native, in, sized, run, true);
  compare(name + " y", a.y, b.y, kForwardTolerance);
  compare(name + " dx", a.dx, b.dx, kBackwardTolerance);
  compare(name + " dw_ih", a.dw_ih, b.dw_ih, kBackwardTolerance);
  compare(name + " dw_hh", a.dw_hh, b.dw_hh, kBackwardTolerance);
  compare(name + " db_ih", a.db_ih, b.db_ih, kBackwardTolerance);
  compare(name + " db_hh", a.db_hh, b.db_hh, kBackwardTolerance);
  // dx = nullptr: the weight gradients are those of the run with dx, and nothing else is written.
  const Outputs c = run_layer(cudnn, in, sized, run, false);
  compare(name + " dw_ih without dx", c.dw_ih, a.dw_ih, kBackwardTolerance);
  expect(std::all_of(c.dx.begin(), c.dx.end(), [](float v) { return v == kPrefill; }),
         name + ": dx = nullptr leaves the dx buffer alone");
}

// The model sizes its buffers for its largest batch and runs smaller ones in them (cudnn_lstm.h).
void check_sizes_grow_with_batch(const Backend& cudnn) {
  bool grows = true;
  for (const int input : {4096, 256}) {
    std::size_t reserve = 0, workspace = 0;
    for (int batch = 1; batch <= 64; ++batch) {
      const LstmShape shape{batch, 20, input, 128};
      const std::size_t r = cudnn.lstm_reserve_size(shape), w = cudnn.lstm_workspace_size(shape);
      grows = grows && r >= reserve && w >= workspace;
      reserve = r;
      workspace = w;
    }
    std::printf("I %d, B 64: reserve %zu floats, workspace %zu floats\n", input, reserve, workspace);
  }
  expect(grows, "cuDNN's reserve and workspace sizes never shrink as B grows from 1 to 64");
}

}  // namespace

int main() {
  int devices = 0;  // cudaGetDeviceCount leaves it untouched on failure
  if (const cudaError_t status = cudaGetDeviceCount(&devices); status != cudaSuccess || devices == 0) {
    std::printf("no usable GPU (%s; CUDA 13 needs driver >= 580): skipped\n",
                status != cudaSuccess ? cudaGetErrorString(status) : "no device");
    return 77;
  }
  try {
    BackendOptions options;
    const std::unique_ptr<Backend> native = make_backend("cuda", options);
    options.cudnn_lstm = true;
    const std::unique_ptr<Backend> cudnn = make_backend("cuda", options);
    std::printf("%s\n", cudnn->describe().c_str());
    expect(cudnn->describe().find("cuDNN") != std::string::npos, "describe() names cuDNN with --lstm cudnn");
    check_sizes_grow_with_batch(*cudnn);
    // The violence model's first layer (I = 4096, VGG19 fc2), its later ones (I = 2H = 256), and a
    // last shard of 37 in buffers sized for 64.
    check_shape(*native, *cudnn, {64, 20, 4096, 128}, {64, 20, 4096, 128});
    check_shape(*native, *cudnn, {64, 20, 256, 128}, {64, 20, 256, 128});
    check_shape(*native, *cudnn, {64, 20, 256, 128}, {37, 20, 256, 128});
  } catch (const parbench::Error& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures == 0 ? "all passed" : (std::to_string(failures) + " FAILED").c_str());
  return failures == 0 ? 0 : 1;
}
