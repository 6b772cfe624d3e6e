// The CUDA launch emulation itself (kernels/cuda/emu/): kernels written here as they would be for
// a GPU run on CPU fibers with CUDA's semantics: block-wide barriers, shared memory per block, warp
// shuffles and votes, atomics, and the errors a GPU would give (or that only a sanitizer would see).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_emu_util.h"
#include "kernels/cuda/runtime.h"

namespace parbench::kernels::cuda {
namespace {

using test::DeviceArray;

// ---- kernels ------------------------------------------------------------------------------------
constexpr int kReduceBlock = 128;

// Classic shared-memory tree reduction: partials (gridDim.x) = sums of x (n) per block.
__global__ void block_sum_kernel(long long* partials, const int* x, int n) {
  __shared__ long long tile[kReduceBlock];
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  tile[threadIdx.x] = i < n ? x[i] : 0;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) tile[threadIdx.x] += tile[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = tile[0];
}

// Grid-stride loop: every element visited exactly once, whatever the grid.
__global__ void visit_kernel(int* visits, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    atomicAdd(&visits[i], 1);
}

// Each thread writes its coordinates: checks threadIdx/blockIdx/blockDim/gridDim in 3-D.
__global__ void coordinates_kernel(unsigned* out) {
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = block * 1000 + thread;
}

// Dynamic shared memory: reverses each block's chunk of x into y.
__global__ void reverse_kernel(float* y, const float* x) {
  PB_DYNAMIC_SHARED(float, chunk);
  const unsigned base = blockIdx.x * blockDim.x;
  chunk[threadIdx.x] = x[base + threadIdx.x];
  __syncthreads();
  y[base + threadIdx.x] = chunk[blockDim.x - 1 - threadIdx.x];
}

// Warp intrinsics, one result per thread and operation: out (threads, 6).
__global__ void warp_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x % warpSize);
  const int value = static_cast<int>(threadIdx.x) + 1;
  int down = value;  // sum over the warp by shfl_down: lane 0 holds it
  for (int offset = 16; offset > 0; offset /= 2) down += __shfl_down_sync(0xffffffffu, down, offset);
  int butterfly = value;  // sum over the warp by shfl_xor: every lane holds it
  for (int mask = 16; mask > 0; mask /= 2) butterfly += __shfl_xor_sync(0xffffffffu, butterfly, mask);
  const int broadcast = __shfl_sync(0xffffffffu, value, 5);  // lane 5's value
  int scan = value;                                          // inclusive prefix sum within segments of 8
  for (int offset = 1; offset < 8; offset *= 2) {
    const int other = __shfl_up_sync(0xffffffffu, scan, offset, 8);
    if (lane % 8 >= offset) scan += other;
  }
  const unsigned ballot = __ballot_sync(0xffffffffu, value % 3 == 0);
  const int all = __all_sync(0xffffffffu, value > 0) + 2 * __any_sync(0xffffffffu, value == 7);
  int* row = out + threadIdx.x * 6;
  row[0] = down;
  row[1] = butterfly;
  row[2] = broadcast;
  row[3] = scan;
  row[4] = static_cast<int>(ballot);
  row[5] = all;
}

// Atomics from every thread of the grid on one address each.
__global__ void atomics_kernel(float* f, double* d, int* i, unsigned long long* u, int* max, int* cas_winner) {
  atomicAdd(f, 1.0f);
  atomicAdd(d, 0.5);
  atomicAdd(i, 2);
  atomicAdd(u, 3ull);
  const int id = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicMax(max, id);
  atomicCAS(cas_winner, -1, id);  // exactly one thread replaces -1
}

// Threads below `returning` return before the barrier the others wait at: divergent.
__global__ void divergent_barrier_kernel(int* out, unsigned returning) {
  if (threadIdx.x < returning) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

// Odd and even threads wait at two different barriers.
__global__ void two_barriers_kernel(int* out) {
  if (threadIdx.x % 2) {  // NOLINT(bugprone-branch-clone): two barriers, at two lines, is the point
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

// Half a warp shuffles while the other half has returned.
__global__ void divergent_shuffle_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

// out[t] = what thread (t + 1) % n wrote; `synchronised` false leaves out the __syncthreads, which
// is the bug this kernel exists to show.
constexpr int kNeighbourBlock = 256;
// `salt` changes the values from launch to launch: shared memory keeps what the last block wrote.
__global__ void neighbour_kernel(int* out, int salt, bool synchronised) {
  __shared__ int tile[kNeighbourBlock];
  tile[threadIdx.x] = static_cast<int>(threadIdx.x) * 7 + salt + static_cast<int>(blockIdx.x);
  if (synchronised) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = tile[(threadIdx.x + 1) % blockDim.x];
}

// Reads one element past the end of x (n): the out-of-bounds access AddressSanitizer must catch.
[[maybe_unused]] __global__ void off_by_one_kernel(float* y, const float* x, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i <= n) y[0] += x[i];  // the bug: <= instead of <
}

// One barrier per block: the emulation's cost per block and thread.
__global__ void one_barrier_kernel(float* out) {
  __shared__ float tile[256];
  tile[threadIdx.x] = static_cast<float>(threadIdx.x);
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = tile[blockDim.x - 1];
}

std::string launch_error() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? "(no error)" : std::string(cudaGetErrorName(error)) + ": " + last_error_detail();
}

// ---- tests --------------------------------------------------------------------------------------

TEST(CudaEmulation, SharedMemoryBlockReductionAtOddSizes) {
  for (const int n : {1, 3, 17, 33, 1000, 4099}) {
    std::vector<int> x(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = (i * 37) % 101 - 50;
    const int blocks = (n + kReduceBlock - 1) / kReduceBlock;
    DeviceArray<int> dx(x);
    DeviceArray<long long> partials(static_cast<std::size_t>(blocks));
    PB_LAUNCH(block_sum_kernel, blocks, kReduceBlock, 0, nullptr, partials.get(), dx.get(), n);
    const auto p = partials.download();
    EXPECT_EQ(std::accumulate(p.begin(), p.end(), 0LL), std::accumulate(x.begin(), x.end(), 0LL)) << "n = " << n;
  }
}

TEST(CudaEmulation, GridStrideLoopVisitsEveryElementOnceWhateverTheGrid) {
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{33}, std::size_t{1001}})
    for (const unsigned blocks : {1u, 3u, 7u}) {
      DeviceArray<int> visits(std::vector<int>(n, 0));
      PB_LAUNCH(visit_kernel, blocks, 64, 0, nullptr, visits.get(), n);
      const auto v = visits.download();
      EXPECT_EQ(std::count(v.begin(), v.end(), 1), static_cast<long>(n)) << "n = " << n << ", blocks = " << blocks;
    }
}

TEST(CudaEmulation, BuiltinVariablesIn3D) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  const unsigned total = 3 * 2 * 2 * 5 * 3 * 2;
  DeviceArray<unsigned> out(total);
  PB_LAUNCH(coordinates_kernel, grid, block, 0, nullptr, out.get());
  const auto o = out.download();
  for (unsigned i = 0; i < total; ++i) ASSERT_EQ(o[i], i / 30 * 1000 + i % 30) << "element " << i;
}

TEST(CudaEmulation, DynamicSharedMemoryIsPerBlock) {
  constexpr unsigned kBlock = 96, kBlocks = 5;
  std::vector<float> x(kBlock * kBlocks);
  std::iota(x.begin(), x.end(), 0.0f);
  DeviceArray<float> dx(x), dy(x.size());
  PB_LAUNCH(reverse_kernel, kBlocks, kBlock, kBlock * sizeof(float), nullptr, dy.get(), dx.get());
  const auto y = dy.download();
  for (unsigned b = 0; b < kBlocks; ++b)
    for (unsigned t = 0; t < kBlock; ++t) ASSERT_EQ(y[b * kBlock + t], x[b * kBlock + kBlock - 1 - t]);
}

TEST(CudaEmulation, WarpShufflesAndVotesHaveWarpSemantics) {
  constexpr int kThreads = 64;  // two warps: nothing may cross between them
  DeviceArray<int> out(kThreads * 6);
  PB_LAUNCH(warp_kernel, 1, kThreads, 0, nullptr, out.get());
  const auto o = out.download();
  for (int t = 0; t < kThreads; ++t) {
    const int warp = t / 32, lane = t % 32;
    const int first = warp * 32 + 1;                // value of lane 0
    const int warp_sum = 32 * first + 31 * 32 / 2;  // values first .. first + 31
    const int* row = &o[static_cast<std::size_t>(t) * 6];
    if (lane == 0) {
      EXPECT_EQ(row[0], warp_sum) << "shfl_down, thread " << t;
    }
    EXPECT_EQ(row[1], warp_sum) << "shfl_xor, thread " << t;
    EXPECT_EQ(row[2], first + 5) << "shfl, thread " << t;
    const int segment_first = t - lane % 8 + 1;
    int scan = 0;
    for (int v = segment_first; v <= t + 1; ++v) scan += v;
    EXPECT_EQ(row[3], scan) << "shfl_up with width 8, thread " << t;
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
      if ((warp * 32 + l + 1) % 3 == 0) ballot |= 1u << l;
    EXPECT_EQ(static_cast<unsigned>(row[4]), ballot) << "ballot, thread " << t;
    EXPECT_EQ(row[5], 1 + (warp == 0 ? 2 : 0)) << "all/any, thread " << t;
  }
}

TEST(CudaEmulation, AtomicsCountEveryThread) {
  constexpr unsigned kBlocks = 9, kThreads = 96, kTotal = kBlocks * kThreads;
  DeviceArray<float> f(std::vector<float>{0.0f});
  DeviceArray<double> d(std::vector<double>{0.0});
  DeviceArray<int> i(std::vector<int>{0}), max(std::vector<int>{-5}), winner(std::vector<int>{-1});
  DeviceArray<unsigned long long> u(std::vector<unsigned long long>{0});
  PB_LAUNCH(atomics_kernel, kBlocks, kThreads, 0, nullptr, f.get(), d.get(), i.get(), u.get(), max.get(), winner.get());
  EXPECT_EQ(f.download()[0], static_cast<float>(kTotal));  // integers below 2^24: exact in float
  EXPECT_EQ(d.download()[0], 0.5 * kTotal);
  EXPECT_EQ(i.download()[0], static_cast<int>(2 * kTotal));
  EXPECT_EQ(u.download()[0], 3ull * kTotal);
  EXPECT_EQ(max.download()[0], static_cast<int>(kTotal - 1));
  const int w = winner.download()[0];
  EXPECT_TRUE(w >= 0 && w < static_cast<int>(kTotal)) << w;
}

TEST(CudaEmulation, DivergentBarrierIsAnErrorNamingTheKernel) {
  DeviceArray<int> out(64);
  cuda_emu::launch("divergent_barrier_kernel", divergent_barrier_kernel, 1, 64, 0, nullptr, out.get(), 16u);
  const std::string error = launch_error();
  EXPECT_NE(error.find("cudaErrorLaunchFailure"), std::string::npos) << error;
  EXPECT_NE(error.find("kernel 'divergent_barrier_kernel' block (0,0,0)"), std::string::npos) << error;
  EXPECT_NE(error.find("divergent __syncthreads"), std::string::npos) << error;
  EXPECT_NE(error.find("returned without reaching it"), std::string::npos) << error;

  // The fibers left behind are started afresh: the next launch works.
  cuda_emu::launch("divergent_barrier_kernel", divergent_barrier_kernel, 1, 64, 0, nullptr, out.get(), 0u);
  EXPECT_EQ(launch_error(), "(no error)");
}

TEST(CudaEmulation, ThreadsAtDifferentBarriersAreAnError) {
  DeviceArray<int> out(32);
  cuda_emu::launch("two_barriers_kernel", two_barriers_kernel, 1, 32, 0, nullptr, out.get());
  const std::string error = launch_error();
  EXPECT_NE(error.find("kernel 'two_barriers_kernel'"), std::string::npos) << error;
  EXPECT_NE(error.find("divergent __syncthreads"), std::string::npos) << error;
  EXPECT_NE(error.find("test_cuda_emu.cpp"), std::string::npos) << error;
}

TEST(CudaEmulation, ShuffleWithAnAbsentLaneIsAnError) {
  DeviceArray<int> out(32);
  cuda_emu::launch("divergent_shuffle_kernel", divergent_shuffle_kernel, 1, 32, 0, nullptr, out.get());
  const std::string error = launch_error();
  EXPECT_NE(error.find("kernel 'divergent_shuffle_kernel'"), std::string::npos) << error;
  EXPECT_NE(error.find("divergent __shfl_down_sync"), std::string::npos) << error;
  EXPECT_NE(error.find("returned"), std::string::npos) << error;
}

TEST(CudaEmulationDeathTest, LaunchErrorEndsTheProgramThroughCudaCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceArray<int> out(64);
        PB_LAUNCH(divergent_barrier_kernel, 1, 64, 0, nullptr, out.get(), 16u);
      },
      "cudaErrorLaunchFailure.*kernel 'divergent_barrier_kernel'");
}

TEST(CudaEmulation, BadConfigurationsAreRejectedAsOnAGpu) {
  DeviceArray<int> out(32);
  cuda_emu::launch("two_barriers_kernel", two_barriers_kernel, 1, 2048, 0, nullptr, out.get());
  EXPECT_NE(launch_error().find("cudaErrorInvalidConfiguration"), std::string::npos);
  cuda_emu::launch("two_barriers_kernel", two_barriers_kernel, 0, 32, 0, nullptr, out.get());
  EXPECT_NE(launch_error().find("cudaErrorInvalidConfiguration"), std::string::npos);
  cuda_emu::launch("reverse_kernel", reverse_kernel, 1, 32, 64 * 1024, nullptr, reinterpret_cast<float*>(out.get()),
                   reinterpret_cast<const float*>(out.get()));
  EXPECT_NE(launch_error().find("cudaErrorInvalidValue"), std::string::npos);
}

// A missing __syncthreads is caught in two ways. Every build: between barriers the emulation runs
// the threads in a shuffled order, so a thread reads its neighbour's shared-memory slot before the
// neighbour wrote it for about half the threads, and the result is wrong (deterministically: the
// order is a fixed function of block and round). ThreadSanitizer build: the threads are TSan
// fibers that synchronise only at __syncthreads, so TSan reports the data race itself.
TEST(CudaEmulation, MissingSyncthreadsIsCaught) {
  constexpr unsigned kBlocks = 3;
  static int salt = 0;
  const auto run = [](bool synchronised) {
    DeviceArray<int> out(kBlocks * kNeighbourBlock);
    ++salt;
    PB_LAUNCH(neighbour_kernel, kBlocks, kNeighbourBlock, 0, nullptr, out.get(), salt, synchronised);
    const auto o = out.download();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < o.size(); ++i)
      wrong += o[i] != static_cast<int>((i % kNeighbourBlock + 1) % kNeighbourBlock) * 7 + salt +
                           static_cast<int>(i / kNeighbourBlock);
    return wrong;
  };
  EXPECT_EQ(run(true), 0u);
#if PB_TEST_TSAN
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // TSan exits with status 66 at the end of a process that raced.
  EXPECT_EXIT(
      {
        run(false);
        std::exit(0);
      },
      testing::ExitedWithCode(66), "ThreadSanitizer: data race.*neighbour_kernel");
#else
  const std::size_t wrong = run(false);
  EXPECT_GT(wrong, kBlocks * kNeighbourBlock / 4) << "the shuffled order should expose the missing barrier";
#endif
}

TEST(CudaEmulation, OutOfBoundsLaunchIsCaughtByAddressSanitizer) {
#if PB_TEST_ASAN
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto read_past_the_end = [] {
    DeviceArray<float> x(std::vector<float>(100, 1.0f));
    DeviceArray<float> y(std::vector<float>{0.0f});
    PB_LAUNCH(off_by_one_kernel, 1, 128, 0, nullptr, y.get(), x.get(), 100);
  };
  EXPECT_DEATH(read_past_the_end(), "heap-buffer-overflow");
  // Dynamic shared memory is allocated with exactly the bytes the launch asked for: a block of 96
  // threads given room for 95 floats overflows it. (Static __shared__ arrays are thread_local
  // storage, which has no redzones: the emulation cannot show their overflows.)
  const auto shared_too_small = [] {
    DeviceArray<float> x(std::vector<float>(96, 1.0f));
    DeviceArray<float> y(96);
    PB_LAUNCH(reverse_kernel, 1, 96, 95 * sizeof(float), nullptr, y.get(), x.get());
  };
  EXPECT_DEATH(shared_too_small(), "heap-buffer-overflow");
#else
  GTEST_SKIP() << "needs AddressSanitizer: the debug preset's build (-fsanitize=address) runs this test";
#endif
}

TEST(CudaEmulation, RuntimeMemoryEventsAndErrors) {
  void* pointer = nullptr;
  ASSERT_EQ(cudaMalloc(&pointer, 1000), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % 256, 0u);
  EXPECT_EQ(cudaMemset(pointer, 0, 1000), cudaSuccess);
  int local = 5;
  EXPECT_EQ(cudaFree(&local), cudaErrorInvalidDevicePointer);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevicePointer);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // cleared by the read
  EXPECT_EQ(cudaFree(pointer), cudaSuccess);

  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, end = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&end), cudaSuccess);
  float milliseconds = -1.0f;
  EXPECT_EQ(cudaEventElapsedTime(&milliseconds, start, end), cudaErrorNotReady);
  EXPECT_EQ(cudaEventRecord(start, stream), cudaSuccess);
  std::vector<float> host(64, 2.0f), back(64);
  DeviceArray<float> device(64);
  EXPECT_EQ(cudaMemcpyAsync(device.get(), host.data(), 64 * sizeof(float), cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpy2DAsync(back.data(), 8 * sizeof(float), device.get(), 8 * sizeof(float), 4 * sizeof(float), 8,
                              cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  EXPECT_EQ(cudaEventRecord(end, stream), cudaSuccess);
  EXPECT_EQ(cudaEventSynchronize(end), cudaSuccess);
  EXPECT_EQ(cudaEventElapsedTime(&milliseconds, start, end), cudaSuccess);
  EXPECT_GE(milliseconds, 0.0f);
  for (int row = 0; row < 8; ++row)
    for (int col = 0; col < 8; ++col) EXPECT_EQ(back[row * 8 + col], col < 4 ? 2.0f : 0.0f);
  EXPECT_EQ(cudaEventDestroy(start), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(end), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

// What the emulation costs: 1024 blocks of 256 threads with one barrier each (262144 emulated
// threads, 2 fiber switches each way per thread). Printed for the CI log; the bound is loose, for a
// regression of the kind "a context switch became a syscall per thread".
TEST(CudaEmulation, EmulationCost) {
  constexpr unsigned kBlocks = 1024, kThreads = 256;
  DeviceArray<float> out(kBlocks);
  PB_LAUNCH(one_barrier_kernel, 1, kThreads, 0, nullptr, out.get());  // warm: fibers and stacks exist
  const auto start = std::chrono::steady_clock::now();
  PB_LAUNCH(one_barrier_kernel, kBlocks, kThreads, 0, nullptr, out.get());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const float v : out.download()) ASSERT_EQ(v, 255.0f);
  std::printf("emulation: %u blocks x %u threads, one __syncthreads: %.3f s, %.0f ns per thread\n", kBlocks, kThreads,
              seconds, seconds * 1e9 / (kBlocks * kThreads));
  RecordProperty("seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 30.0);
}

}  // namespace
}  // namespace parbench::kernels::cuda
