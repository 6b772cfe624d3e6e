// The CUDA backend as a Backend (kernels/cuda/cuda_backend.cpp) under the launch emulation,
// `cuda_emulated`: the registry's errors for GPU options, and both workloads trained for a few
// steps through the strategies on it, against the same steps on `cpu`.
//
// What this shows: every op of the backend, its memory (device buffers, staged batches, labels as
// int32 on the device) and its stream order give the cpu backend's training to rounding, and the
// strategies reach model memory only through the backend's ops. What it cannot show: the emulated
// device memory is host memory, so a strategy that read it directly would still work here (the
// label-`gpu` tests on a real device are where that fails), and no timing of it means anything.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "kernels/backend.h"
#include "strategy_test_util.h"
#include "test_util.h"

namespace {

using namespace parbench;
using test::error_of;

constexpr int kBatch = 7;  // uneven over 2 workers
constexpr int kSteps = 3;

TEST(CudaBackend, EmulatedBackendIsRegisteredAndSaysWhatItIs) {
  const auto backend = kernels::make_backend("cuda_emulated");
  EXPECT_EQ(backend->name(), "cuda_emulated");
  EXPECT_FALSE(backend->host_memory());
  EXPECT_NE(backend->describe().find("launch emulation"), std::string::npos) << backend->describe();
  kernels::BackendOptions tf32;
  tf32.tf32 = true;
  EXPECT_NE(kernels::make_backend("cuda_emulated", tf32)->describe().find("TF32"), std::string::npos);
}

TEST(CudaBackend, GpuOptionsAreClearErrorsWhereTheyCannotApply) {
  kernels::BackendOptions options;
  options.tf32 = true;
  EXPECT_NE(error_of([&] { kernels::make_backend("cpu", options); }).find("--tf32"), std::string::npos);
  options = {};
  options.cudnn_lstm = true;
  EXPECT_NE(error_of([&] { kernels::make_backend("cpu", options); }).find("--lstm cudnn needs a cuda backend"),
            std::string::npos);
  EXPECT_NE(error_of([&] { kernels::make_backend("cuda_emulated", options); }).find("cuDNN runs only on a GPU"),
            std::string::npos);
  options = {};
  options.device = 1;  // the emulation has one device
  EXPECT_NE(error_of([&] {
              kernels::make_backend("cuda_emulated", options);
            }).find("--device 1 is out of range: this process sees 1 GPU(s), 0 to 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { kernels::make_backend("cpu", options); }).find("the cpu backend has none"),
            std::string::npos);
}

// Without a GPU, `cuda` is either not built (the default configuration) or cannot start; both say
// so in one line. On a machine with a usable GPU it starts, which the label-gpu tests cover.
TEST(CudaBackend, CudaWithoutAGpuSaysWhy) {
  const std::string error = error_of([] { kernels::make_backend("cuda"); });
  if (error == "(no error)") GTEST_SKIP() << "a GPU is usable here";
  const bool not_built = error.find("was not built; configure with -DPARBENCH_CUDA=ON") != std::string::npos;
  const bool no_gpu =
      error.find("no usable GPU") != std::string::npos && error.find("driver 580 or later") != std::string::npos;
  EXPECT_TRUE(not_built || no_gpu) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// The emulated GPU and the CPU differ in rounding only: float reductions in other orders, the
// device's tanh/sigmoid approximations (within 1e-6, CudaOps), cuBLAS's summation order. That is
// the kind of difference summation order makes between strategies, so the strategies' bound
// applies (strategy_test_util.h: 3e-3 of each state's scale after three Adam steps with eps 1e-3,
// where an error in an op moves the state by O(0.3) of it). A real GPU (backend `cuda`, fp32
// GEMMs) differs from the CPU in the same ways; those cases skip where it cannot start, and
// ctest's label-gpu test gpu.cuda_backend_matches_cpu runs them.
class GpuMatchesCpu : public testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    const std::string error = error_of([&] { kernels::make_backend(backend()); });
    if (error != "(no error)") GTEST_SKIP() << error;
  }
  std::string backend() const { return std::get<0>(GetParam()); }
  std::string workload() const { return std::get<1>(GetParam()); }
};

TEST_P(GpuMatchesCpu, SerialAfterThreeAdamSteps) {
  const test::RunResult& cpu = test::serial_run(workload(), kBatch, kSteps);
  auto options = test::compare_options(workload(), 1, kBatch);
  options.backend = backend();
  const test::RunResult gpu = test::run_steps("serial", options, kBatch, kSteps);
  test::expect_close_to_serial("serial on " + backend() + " " + workload(), gpu.state, cpu.state,
                               test::serial_run(workload(), kBatch, 0).state);
  test::expect_steps_close_to_serial(gpu.steps, cpu.steps, kBatch);
}

// thread_pool (2 replicas, each its own device) and ddp (2 ranks as threads over `local`
// communicators) on the GPU backend against serial on cpu, with SGD: the update is linear in the
// gradient, so the states differ by the gradients' rounding alone.
TEST_P(GpuMatchesCpu, ThreadPoolAndDdpWithSgd) {
  auto serial_options = test::compare_options(workload(), 1, kBatch);
  serial_options.optimizer.kind = "sgd";
  const test::RunResult cpu = test::run_steps("serial", serial_options, kBatch, kSteps);
  const test::RunResult origin = test::run_steps("serial", serial_options, kBatch, 0);
  for (const std::string strategy : {"thread_pool", "ddp"}) {
    auto options = serial_options;
    options.workers = 2;
    options.backend = backend();
    const test::RunResult gpu = test::run_steps(strategy, options, kBatch, kSteps);
    test::expect_close_to_serial(strategy + " x2 on " + backend() + " " + workload(), gpu.state, cpu.state,
                                 origin.state);
    test::expect_steps_close_to_serial(gpu.steps, cpu.steps, kBatch);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuMatchesCpu,
                         testing::Combine(testing::Values("cuda_emulated", "cuda"),
                                          testing::Values("violence", "shoplifting")),
                         [](const auto& info) {
                           const std::string device = std::get<0>(info.param) == "cuda" ? "gpu" : "emulated";
                           return device + "_" + std::get<1>(info.param);
                         });

}  // namespace
