// The CUDA launch model on CPU threads (design.md §3): the kernels under kernels/cuda/ compile
// with g++ against this header and run here, where no GPU exists, so every kernel is tested in CI.
//
// Design: each CUDA thread of a block is a fiber with its own stack (reused across blocks and
// launches); the host thread that launches runs the blocks of the grid one after another, switching
// between the fibers of the block. A fiber runs until it reaches a synchronisation point
// (__syncthreads, a warp shuffle or vote, __syncwarp) or returns; when every fiber of the block
// has stopped, the scheduler checks that the block is consistent and releases the barrier:
// - __syncthreads: every thread of the block must wait at the same one (same source line); a
//   thread that returned while others wait, or threads waiting at different barriers, make the
//   launch fail with cudaErrorLaunchFailure and a message naming the kernel and the block;
// - shuffles and votes exchange values through per-warp slots: every lane of the mask writes its
//   value, and only when all of them have arrived are the slots published and read (the
//   warp-synchronous semantics of __shfl_*_sync since Volta);
// - between synchronisation points the fibers run in a shuffled (but reproducible) order that
//   changes at every barrier, so a missing __syncthreads reads stale shared memory and gives a
//   wrong result instead of working by the accident of thread order.
// Why fibers: one OS thread per CUDA thread was measured at ~50 us per thread, and a pool of
// persistent threads pays a kernel-level context switch (microseconds on this 2-core VM) at every
// barrier for every thread; a fiber switch stays in user space. The switch itself is a few
// instructions on x86-64 (device.cpp), because swapcontext makes a sigprocmask system call at each
// switch: 1024 blocks x 256 threads with one barrier took 0.36-0.53 s with swapcontext and
// 0.035-0.050 s with the plain switch (130-190 ns per emulated thread, on a loaded 2-core VM;
// EmulationCost in tests/test_cuda_emu.cpp prints it), and the CUDA tests 1.9 s of CPU against 0.2.
// Other hosts use ucontext. Why blocks in sequence on the launching thread: ctest already runs
// tests in parallel on CI's 2 cores, and sequential blocks make float atomics reproducible.
//
// Sanitizers: fiber switches are annotated for AddressSanitizer (start/finish_switch_fiber) and
// ThreadSanitizer (one TSan fiber per CUDA thread, switched with no_sync, and release/acquire
// only at __syncthreads/__syncwarp), so TSan reports a shared-memory race when a __syncthreads is
// missing, as on a GPU where nothing else orders the threads of a block.
//
// Shared memory: `__shared__` is `static thread_local`. One block runs at a time on a host thread,
// so a `__shared__ float tile[256];` in a kernel body is one array for all the threads of the
// running block, and separate launching threads get separate copies. Dynamic shared memory is
// declared with PB_DYNAMIC_SHARED(type, name) (under nvcc: `extern __shared__ type name[]`),
// allocated per launch with exactly the requested bytes so ASan sees an overflow.
//
// Not emulated: inline PTX, tensor cores, cp.async/TMA, cooperative groups and grid-wide sync,
// dynamic parallelism, the GPU memory model (blocks never run concurrently here).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cuda/emu/runtime.h"

// Qualifiers: host code and device code are the same code here.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define PB_DYNAMIC_SHARED(type, name) type* name = ::parbench::cuda_emu::dynamic_shared<type>()

namespace parbench::cuda_emu {

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

inline constexpr int warpSize = 32;

// The built-in variables of the running CUDA thread; the scheduler sets them at every switch.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

namespace detail {

// One kernel launch as the scheduler sees it: `body` runs the kernel once for the current thread.
struct Launch {
  const char* kernel;
  void (*body)(const void* context);
  const void* context;
  dim3 grid, block;
  std::size_t shared_bytes;
};
// Runs every block of the launch; returns cudaSuccess or the error it recorded with set_error.
cudaError_t run_grid(const Launch& launch);

void* dynamic_shared_memory();
// file and line of the __syncthreads call, for the deadlock report.
void syncthreads(const char* file, unsigned line);
void syncwarp(unsigned mask);
// Warp exchange: publishes `value` for this lane, waits for every lane of `mask`, then returns the
// values of the 32 lanes (lanes outside the mask or the block hold their own 0).
const std::uint64_t* warp_exchange(unsigned mask, std::uint64_t value, const char* what);
int lane_id();

template <typename T>
std::uint64_t to_bits(T value) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  return bits;
}
template <typename T>
T from_bits(std::uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Shuffle core: `source(lane)` gives the lane to read, or -1 to keep the own value.
template <typename T, typename Source>
T shuffle(unsigned mask, T value, Source source, const char* what) {
  const std::uint64_t* lanes = warp_exchange(mask, to_bits(value), what);
  const int from = source(lane_id());
  return from < 0 ? value : from_bits<T>(lanes[from]);
}

}  // namespace detail

template <typename T>
T* dynamic_shared() {
  return static_cast<T*>(detail::dynamic_shared_memory());
}

// ---- synchronisation ----------------------------------------------------------------------------
// __builtin_FILE/__builtin_LINE rather than std::source_location, which libstdc++ 12 offers only to
// compilers with __builtin_source_location (not clang before 16, i.e. clang-tidy-14). Same values.
inline void __syncthreads(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
  detail::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { detail::syncwarp(mask); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- warp shuffles and votes (width: power of two <= 32, segments of the warp as on the GPU) -----
template <typename T>
T __shfl_sync(unsigned mask, T value, int source_lane, int width = warpSize) {
  return detail::shuffle(
      mask, value, [&](int lane) { return (lane & ~(width - 1)) + (source_lane & (width - 1)); }, "__shfl_sync");
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return detail::shuffle(
      mask, value,
      [&](int lane) {
        const int within = (lane & (width - 1)) + static_cast<int>(delta);
        return within < width ? lane + static_cast<int>(delta) : -1;
      },
      "__shfl_down_sync");
}
template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return detail::shuffle(
      mask, value,
      [&](int lane) {
        const int within = (lane & (width - 1)) - static_cast<int>(delta);
        return within >= 0 ? lane - static_cast<int>(delta) : -1;
      },
      "__shfl_up_sync");
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  return detail::shuffle(
      mask, value,
      [&](int lane) {
        const int other = lane ^ lane_mask;
        return (other & ~(width - 1)) == (lane & ~(width - 1)) ? other : -1;  // outside the segment: own
      },
      "__shfl_xor_sync");
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  const std::uint64_t* lanes = detail::warp_exchange(mask, predicate != 0, "__ballot_sync");
  unsigned ballot = 0;
  for (int lane = 0; lane < warpSize; ++lane)
    if ((mask >> lane & 1u) && lanes[lane]) ballot |= 1u << lane;
  return ballot;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return !__any_sync(mask, !predicate); }

// ---- atomics: relaxed, as GPU atomics are (they order nothing else; use __threadfence) ----------
template <typename T>
T atomicAdd(T* address, T value) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int> ||
                    std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long>,
                "atomicAdd: CUDA has it for float, double, int, unsigned and unsigned long long");
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}
template <typename T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value, std::memory_order_relaxed);
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // the old value, whether or not it was replaced
}
template <typename T>
T atomicMax(T* address, T value) {
  static_assert(std::is_integral_v<T>, "atomicMax: CUDA has it for integers");
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (old < value && !ref.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  static_assert(std::is_integral_v<T>, "atomicMin: CUDA has it for integers");
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (old > value && !ref.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}

// ---- intrinsics the kernels use ------------------------------------------------------------------
template <typename T>
T __ldg(const T* pointer) {
  return *pointer;
}

// ---- launch -------------------------------------------------------------------------------------
// Runs kernel<<<grid, block, shared_bytes, stream>>>(args...) to completion. Arguments are copied
// once and each CUDA thread calls the kernel with them (parameters by value: a copy per thread,
// as on the GPU). Errors are recorded for cudaGetLastError, as a launch does.
template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
            cudaStream_t /*stream: synchronous*/, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
  struct Context {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Args>...> args;
  };
  const Context context{kernel, {std::forward<Args>(args)...}};
  const detail::Launch launch{name,
                              [](const void* raw) {
                                const auto& c = *static_cast<const Context*>(raw);
                                std::apply(c.kernel, c.args);
                              },
                              &context,
                              grid,
                              block,
                              shared_bytes};
  detail::run_grid(launch);
}

}  // namespace parbench::cuda_emu
