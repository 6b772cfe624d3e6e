// The fiber scheduler behind the launch emulation (device.h): runs the blocks of a grid on the
// launching host thread, one fiber per CUDA thread, and enforces barrier and warp semantics.
#include "kernels/cuda/emu/device.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_EMU_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define PB_EMU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PB_EMU_ASAN)
#define PB_EMU_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(PB_EMU_TSAN)
#define PB_EMU_TSAN 1
#endif

#if PB_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if PB_EMU_TSAN
#include <sanitizer/tsan_interface.h>
// TSan's dynamic annotations (tsan_interface_ann.cpp): the scheduler's writes of the built-in
// variables are its own bookkeeping, not accesses of the emulated threads.
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

namespace parbench::cuda_emu {

thread_local uint3 threadIdx{0, 0, 0};
thread_local uint3 blockIdx{0, 0, 0};
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace detail {
namespace {

// CUDA's limits (compute capability 8.0 and 9.0), checked so that a launch that works here also
// launches on a GPU. Dynamic shared memory above 48 KiB needs cudaFuncSetAttribute there, which
// the emulation does not have, so 48 KiB is the limit.
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockZ = 64;
constexpr unsigned kMaxGridX = 0x7fffffffu;
constexpr unsigned kMaxGridYZ = 65535;
constexpr std::size_t kMaxDynamicShared = std::size_t{48} * 1024;

// Per-fiber stack: kernels are shallow (a few hundred bytes of frames), 64 KiB leaves room for
// helper calls; the sanitizers' instrumented frames are several times larger. A PROT_NONE guard
// page below each stack turns an overflow into a crash instead of silent corruption. Pages are
// committed only when touched, so 1024 fibers reserve address space, not memory.
#if PB_EMU_ASAN || PB_EMU_TSAN
constexpr std::size_t kStackBytes = std::size_t{512} * 1024;
#else
constexpr std::size_t kStackBytes = std::size_t{64} * 1024;
#endif

enum class State : int { ready, at_barrier, at_warp, done };

[[noreturn]] void misuse(const char* what) {
  std::fprintf(stderr, "parbench CUDA emulation: %s\n", what);
  std::abort();
}

// ---- execution contexts ------------------------------------------------------------------------
// swapcontext saves and restores the signal mask with a system call at every switch: measured here
// at ~1 us of CPU per emulated thread and barrier, most of a launch's cost. On x86-64 the switch is
// instead the few instructions below (callee-saved registers, stack pointer, SSE and x87 control
// words: what the SysV ABI says survives a call), ~10x cheaper; other hosts keep ucontext.
// PB_EMU_UCONTEXT forces ucontext (to test that path).
void fiber_main();

#if defined(__x86_64__) && !defined(PB_EMU_UCONTEXT)
// Saves the running context's stack pointer in *save_stack_pointer and continues the one whose
// stack pointer is *load_stack_pointer (read here, not in C++: no access for TSan to see).
extern "C" void pb_emu_switch_context(void** save_stack_pointer, void* const* load_stack_pointer);
asm(R"(
  .text
  .globl pb_emu_switch_context
  .hidden pb_emu_switch_context
  .type pb_emu_switch_context, @function
pb_emu_switch_context:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq (%rsi), %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size pb_emu_switch_context, .-pb_emu_switch_context
)");

struct Context {
  void* stack_pointer = nullptr;
};
void swap_context(Context& save, const Context& load) {
  pb_emu_switch_context(&save.stack_pointer, &load.stack_pointer);
}
// A context that starts fiber_main on `stack` the first time it is switched to: the frame
// pb_emu_switch_context pops, with fiber_main as the return address.
void make_context(Context& context, unsigned char* stack, std::size_t bytes) {
  const auto top = reinterpret_cast<std::uintptr_t>(stack + bytes) & ~std::uintptr_t{15};
  auto* slots = reinterpret_cast<std::uint64_t*>(top);  // NOLINT(performance-no-int-to-ptr): an aligned stack top
  slots[-1] = 0;  // fiber_main's return address: none (ends backtraces); rsp = 8 mod 16 at entry
  slots[-2] = reinterpret_cast<std::uint64_t>(&fiber_main);
  for (int slot = -8; slot <= -3; ++slot) slots[slot] = 0;  // r15 r14 r13 r12 rbx rbp
  std::uint32_t mxcsr = 0;
  std::uint16_t x87_control = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(x87_control));
  slots[-9] = mxcsr | static_cast<std::uint64_t>(x87_control) << 32;
  context.stack_pointer = &slots[-9];
}
#else
struct Context {
  ucontext_t context{};
};
void swap_context(Context& save, const Context& load) {
  if (swapcontext(&save.context, &load.context) != 0) misuse("swapcontext failed");
}
void make_context(Context& context, unsigned char* stack, std::size_t bytes) {
  if (getcontext(&context.context) != 0) misuse("getcontext failed");
  context.context.uc_stack.ss_sp = stack;
  context.context.uc_stack.ss_size = bytes;
  context.context.uc_link = nullptr;  // fiber_main never returns
  makecontext(&context.context, fiber_main, 0);
}
#endif

struct Fiber {
  Context context;
  unsigned char* mapping = nullptr;  // guard page + stack
  unsigned char* stack = nullptr;    // kStackBytes above the guard page
  std::size_t mapping_bytes = 0;
  unsigned linear = 0;  // thread index within the block, x fastest
  uint3 index{};
  bool fresh = true;  // needs make_context before it runs (new, or abandoned by a failed launch)
  // Written by the fiber, read by the scheduler: relaxed atomics, so that TSan sees no race in the
  // scheduler's own bookkeeping and no happens-before between the emulated threads either.
  std::atomic<State> state{State::ready};
  std::atomic<const char*> wait_file{nullptr};
  std::atomic<unsigned> wait_line{0};
  std::atomic<unsigned> warp_mask{0};
  std::atomic<const char*> warp_what{nullptr};
  std::uint64_t lanes[warpSize] = {};  // this lane's copy of the warp's published values
  void* fake_stack = nullptr;          // ASan's fake stack of this fiber while switched out
  void* tsan_fiber = nullptr;

  ~Fiber() {
#if PB_EMU_TSAN
    if (tsan_fiber) __tsan_destroy_fiber(tsan_fiber);
#endif
    if (mapping) munmap(mapping, mapping_bytes);
  }
};

struct Scheduler {
  std::vector<std::unique_ptr<Fiber>> fibers;  // kept across launches: stacks are reused
  std::atomic<Fiber*> current{nullptr};
  Context host_context;
  const Launch* launch = nullptr;  // the launch running on this host thread
  void* dynamic_shared = nullptr;
  unsigned threads = 0;
  // Warp exchange slots: every lane writes `pending`; the scheduler copies a warp's slots to
  // `published` once all its lanes have arrived, so a lane that runs ahead to the next shuffle
  // cannot overwrite a value another lane has still to read.
  std::unique_ptr<std::atomic<std::uint64_t>[]> pending =
      std::make_unique<std::atomic<std::uint64_t>[]>(kMaxThreadsPerBlock);
  std::unique_ptr<std::atomic<std::uint64_t>[]> published =
      std::make_unique<std::atomic<std::uint64_t>[]>(kMaxThreadsPerBlock);
  std::string failure;  // set by a fiber whose kernel threw
  // Addresses TSan synchronises on: the block barrier, each warp's __syncwarp, and the start of a
  // block (host -> the block's threads: the host released it before the block's first thread ran,
  // so it carries the previous blocks and the host's writes, never a thread of the same block).
  // Threads -> host goes through each fiber's own address at every switch (yield_to_host).
  char barrier_token = 0;
  char warp_token[kMaxThreadsPerBlock / warpSize] = {};
  char block_token = 0;
  // ASan: the host stack's extent, learnt at the first switch into a fiber.
  const void* host_stack_bottom = nullptr;
  std::size_t host_stack_size = 0;
  void* host_fake_stack = nullptr;
  void* host_tsan_fiber = nullptr;
};

thread_local Scheduler scheduler;

// ---- sanitizer annotations (no-ops in plain builds) -----------------------------------------------
void tsan_release([[maybe_unused]] void* address) {
#if PB_EMU_TSAN
  __tsan_release(address);
#endif
}
void tsan_acquire([[maybe_unused]] void* address) {
#if PB_EMU_TSAN
  __tsan_acquire(address);
#endif
}
void tsan_switch([[maybe_unused]] void* fiber) {
#if PB_EMU_TSAN
  __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync);
#endif
}
void set_builtins(const uint3& thread, const uint3* block) {
#if PB_EMU_TSAN
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
  threadIdx = thread;
  if (block) blockIdx = *block;
#if PB_EMU_TSAN
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
}

// ---- switching -------------------------------------------------------------------------------------
// Fiber -> host. Returns when the scheduler resumes this fiber.
void yield_to_host(Fiber& fiber) {
  Scheduler& s = scheduler;
  void* const host_tsan_fiber = s.host_tsan_fiber;
  // The host may see everything this thread did so far (it frees, reuses and reads what the
  // threads touched, last of all the line above); the threads are never ordered through the host,
  // only through barriers.
  tsan_release(&fiber);
#if PB_EMU_ASAN
  __sanitizer_start_switch_fiber(&fiber.fake_stack, s.host_stack_bottom, s.host_stack_size);
#endif
  tsan_switch(host_tsan_fiber);
  swap_context(fiber.context, s.host_context);
#if PB_EMU_ASAN
  __sanitizer_finish_switch_fiber(fiber.fake_stack, &s.host_stack_bottom, &s.host_stack_size);
#endif
}

// Host -> fiber. Returns when the fiber waits at a synchronisation point or has finished its block.
void resume(Fiber& fiber) {
  Scheduler& s = scheduler;
  set_builtins(fiber.index, nullptr);
  s.current.store(&fiber, std::memory_order_relaxed);
#if PB_EMU_ASAN
  __sanitizer_start_switch_fiber(&s.host_fake_stack, fiber.stack, kStackBytes);
#endif
  tsan_switch(fiber.tsan_fiber);
  swap_context(s.host_context, fiber.context);
#if PB_EMU_ASAN
  __sanitizer_finish_switch_fiber(s.host_fake_stack, nullptr, nullptr);
#endif
  tsan_acquire(&fiber);
  s.current.store(nullptr, std::memory_order_relaxed);
}

// Every fiber runs this forever: one block's worth of the kernel per pass, then back to the host,
// which resumes it for the next block (or a later launch) without a new make_context.
void fiber_main() {
  Scheduler& s = scheduler;
  Fiber& fiber = *s.current.load(std::memory_order_relaxed);
#if PB_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.host_stack_bottom, &s.host_stack_size);
#endif
  for (;;) {
    tsan_acquire(&s.block_token);
    try {
      s.launch->body(s.launch->context);
    } catch (const std::exception& error) {
      s.failure = std::string("a thread threw: ") + error.what();
    } catch (...) {
      s.failure = "a thread threw a non-standard exception";
    }
    fiber.state.store(State::done, std::memory_order_relaxed);
    yield_to_host(fiber);
  }
}

Fiber& fiber_for(unsigned linear) {
  Scheduler& s = scheduler;
  while (s.fibers.size() <= linear) {
    auto fiber = std::make_unique<Fiber>();
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    fiber->mapping_bytes = kStackBytes + page;
    void* mapping = mmap(nullptr, fiber->mapping_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) throw std::bad_alloc();
    fiber->mapping = static_cast<unsigned char*>(mapping);
    if (mprotect(fiber->mapping, page, PROT_NONE) != 0) throw std::bad_alloc();
    fiber->stack = fiber->mapping + page;
    fiber->linear = static_cast<unsigned>(s.fibers.size());
#if PB_EMU_TSAN
    fiber->tsan_fiber = __tsan_create_fiber(0);
#endif
    s.fibers.push_back(std::move(fiber));
  }
  Fiber& fiber = *s.fibers[linear];
  if (fiber.fresh) {
#if PB_EMU_ASAN
    // Frames abandoned by a failed launch leave poisoned redzones on the stack.
    __asan_unpoison_memory_region(fiber.stack, kStackBytes);
#endif
    make_context(fiber.context, fiber.stack, kStackBytes);
    fiber.fresh = false;
  }
  return fiber;
}

// Reproducible shuffle of the order in which ready fibers run (splitmix64 of block and round).
void shuffle_order(std::vector<unsigned>& order, std::uint64_t seed) {
  for (std::size_t i = order.size(); i > 1; --i) {
    seed += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::swap(order[i - 1], order[z % i]);
  }
}

std::string where(const Launch& launch, const uint3& block) {
  return "kernel '" + std::string(launch.kernel) + "' block (" + std::to_string(block.x) + "," +
         std::to_string(block.y) + "," + std::to_string(block.z) + ")";
}
std::string thread_name(const Fiber& fiber) {
  return "thread (" + std::to_string(fiber.index.x) + "," + std::to_string(fiber.index.y) + "," +
         std::to_string(fiber.index.z) + ")";
}
std::string barrier_name(const Fiber& fiber) {
  return std::string(fiber.wait_file.load(std::memory_order_relaxed)) + ":" +
         std::to_string(fiber.wait_line.load(std::memory_order_relaxed));
}

// Releases every warp whose lanes have all arrived at a shuffle, vote or __syncwarp. Returns an
// error message when a lane the mask names has returned or waits at __syncthreads instead.
std::string release_warps(std::vector<unsigned>& ready) {
  Scheduler& s = scheduler;
  const unsigned warps = (s.threads + warpSize - 1) / warpSize;
  for (unsigned warp = 0; warp < warps; ++warp) {
    const unsigned first = warp * warpSize;
    const unsigned count = std::min<unsigned>(warpSize, s.threads - first);
    const unsigned existing = count == warpSize ? 0xffffffffu : (1u << count) - 1u;
    unsigned waiting = 0, required = 0;
    for (unsigned lane = 0; lane < count; ++lane) {
      const Fiber& fiber = *s.fibers[first + lane];
      if (fiber.state.load(std::memory_order_relaxed) != State::at_warp) continue;
      waiting |= 1u << lane;
      required |= fiber.warp_mask.load(std::memory_order_relaxed);
    }
    if (!waiting) continue;
    required &= existing;
    if ((required & waiting) != required) {
      const unsigned missing = required & ~waiting;
      const int lane = __builtin_ctz(missing);
      const Fiber& absent = *s.fibers[first + static_cast<unsigned>(lane)];
      const Fiber& waiter = *s.fibers[first + static_cast<unsigned>(__builtin_ctz(waiting))];
      const bool returned = absent.state.load(std::memory_order_relaxed) == State::done;
      return std::string("divergent ") + waiter.warp_what.load(std::memory_order_relaxed) + ": " + thread_name(waiter) +
             " waits for lane " + std::to_string(lane) + " of warp " + std::to_string(warp) + " (in its mask), which " +
             (returned ? "returned" : "waits at __syncthreads " + barrier_name(absent));
    }
    for (unsigned lane = 0; lane < warpSize; ++lane) {
      const bool in = lane < count && (waiting >> lane & 1u);
      s.published[first + lane].store(in ? s.pending[first + lane].load(std::memory_order_relaxed) : 0,
                                      std::memory_order_relaxed);
    }
    for (unsigned lane = 0; lane < count; ++lane)
      if (waiting >> lane & 1u) {
        s.fibers[first + lane]->state.store(State::ready, std::memory_order_relaxed);
        ready.push_back(first + lane);
      }
  }
  return {};
}

// Runs one block to completion; returns an error message, empty on success.
std::string run_block(const Launch& launch, const uint3& block, std::uint64_t seed) {
  Scheduler& s = scheduler;
  set_builtins(threadIdx, &block);
  std::vector<unsigned> ready(s.threads);
  for (unsigned t = 0; t < s.threads; ++t) {
    s.fibers[t]->state.store(State::ready, std::memory_order_relaxed);
    ready[t] = t;
  }
  for (std::uint64_t round = 0;; ++round) {
    shuffle_order(ready, seed * 0x100000001b3ULL + round);
    for (const unsigned t : ready) resume(*s.fibers[t]);
    ready.clear();
    if (!s.failure.empty()) return where(launch, block) + ": " + s.failure;
    if (std::string error = release_warps(ready); !error.empty()) return where(launch, block) + ": " + error;
    if (!ready.empty()) continue;

    const Fiber* waiting = nullptr;
    const Fiber* returned = nullptr;
    unsigned at_barrier = 0;
    for (unsigned t = 0; t < s.threads; ++t) {
      const Fiber& fiber = *s.fibers[t];
      const State state = fiber.state.load(std::memory_order_relaxed);
      if (state == State::done) {
        if (!returned) returned = &fiber;
      } else if (state == State::at_barrier) {
        ++at_barrier;
        if (!waiting) waiting = &fiber;
        if (fiber.wait_line.load(std::memory_order_relaxed) != waiting->wait_line.load(std::memory_order_relaxed) ||
            std::string_view(fiber.wait_file.load(std::memory_order_relaxed)) !=
                waiting->wait_file.load(std::memory_order_relaxed))
          return where(launch, block) + ": divergent __syncthreads: " + thread_name(*waiting) + " waits at " +
                 barrier_name(*waiting) + ", " + thread_name(fiber) + " at " + barrier_name(fiber);
      } else {
        // A lane waits at a warp operation that release_warps could not complete.
        return where(launch, block) + ": " + thread_name(fiber) + " waits at " +
               fiber.warp_what.load(std::memory_order_relaxed) + " while its warp cannot arrive";
      }
    }
    if (!waiting) return {};  // every thread returned: the block is done
    if (returned)
      return where(launch, block) + ": divergent __syncthreads: " + thread_name(*waiting) + " (and " +
             std::to_string(at_barrier - 1) + " more) waits at " + barrier_name(*waiting) + " but " +
             thread_name(*returned) + " (and " + std::to_string(s.threads - at_barrier - 1) +
             " more) returned without reaching it";
    for (unsigned t = 0; t < s.threads; ++t) {
      s.fibers[t]->state.store(State::ready, std::memory_order_relaxed);
      ready.push_back(t);
    }
  }
}

std::string check_configuration(const Launch& launch) {
  const dim3 &g = launch.grid, &b = launch.block;
  const std::string name = "kernel '" + std::string(launch.kernel) + "': ";
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    return name + "a grid or block dimension is 0";
  if (b.x > kMaxThreadsPerBlock || b.y > kMaxThreadsPerBlock || b.z > kMaxBlockZ ||
      static_cast<std::uint64_t>(b.x) * b.y * b.z > kMaxThreadsPerBlock)
    return name + "block (" + std::to_string(b.x) + "," + std::to_string(b.y) + "," + std::to_string(b.z) +
           ") exceeds 1024 threads or a per-dimension limit";
  if (g.x > kMaxGridX || g.y > kMaxGridYZ || g.z > kMaxGridYZ) return name + "grid dimension over the limit";
  return {};
}

}  // namespace

void* dynamic_shared_memory() { return scheduler.dynamic_shared; }

int lane_id() {
  const Fiber* fiber = scheduler.current.load(std::memory_order_relaxed);
  if (!fiber) misuse("a warp intrinsic was called outside a kernel");
  return static_cast<int>(fiber->linear % warpSize);
}

void syncthreads(const char* file, unsigned line) {
  Scheduler& s = scheduler;
  Fiber* fiber = s.current.load(std::memory_order_relaxed);
  if (!fiber) misuse("__syncthreads was called outside a kernel");
  fiber->wait_file.store(file, std::memory_order_relaxed);
  fiber->wait_line.store(line, std::memory_order_relaxed);
  fiber->state.store(State::at_barrier, std::memory_order_relaxed);
  tsan_release(&s.barrier_token);
  yield_to_host(*fiber);
  tsan_acquire(&s.barrier_token);
}

const std::uint64_t* warp_exchange(unsigned mask, std::uint64_t value, const char* what) {
  Scheduler& s = scheduler;
  Fiber* fiber = s.current.load(std::memory_order_relaxed);
  if (!fiber) misuse("a warp intrinsic was called outside a kernel");
  s.pending[fiber->linear].store(value, std::memory_order_relaxed);
  fiber->warp_mask.store(mask, std::memory_order_relaxed);
  fiber->warp_what.store(what, std::memory_order_relaxed);
  fiber->state.store(State::at_warp, std::memory_order_relaxed);
  yield_to_host(*fiber);
  const unsigned first = fiber->linear / warpSize * warpSize;
  for (unsigned lane = 0; lane < warpSize; ++lane)
    fiber->lanes[lane] = s.published[first + lane].load(std::memory_order_relaxed);
  return fiber->lanes;
}

void syncwarp(unsigned mask) {
  Scheduler& s = scheduler;
  Fiber* fiber = s.current.load(std::memory_order_relaxed);
  if (!fiber) misuse("__syncwarp was called outside a kernel");
  // Unlike a shuffle, __syncwarp orders memory among the lanes: tell TSan so.
  char* token = &s.warp_token[fiber->linear / warpSize];
  tsan_release(token);
  warp_exchange(mask, 0, "__syncwarp");
  tsan_acquire(token);
}

cudaError_t run_grid(const Launch& launch) {
  if (std::string error = check_configuration(launch); !error.empty())
    return set_error(cudaErrorInvalidConfiguration, std::move(error));
  if (launch.shared_bytes > kMaxDynamicShared)
    return set_error(cudaErrorInvalidValue, "kernel '" + std::string(launch.kernel) +
                                                "': " + std::to_string(launch.shared_bytes) +
                                                " bytes of dynamic shared memory exceed 48 KiB");
  Scheduler& s = scheduler;
  if (s.launch)
    return set_error(cudaErrorLaunchFailure, "kernel '" + std::string(launch.kernel) + "' launched from kernel '" +
                                                 s.launch->kernel + "': dynamic parallelism is not emulated");

  s.threads = launch.block.x * launch.block.y * launch.block.z;
  for (unsigned t = 0; t < s.threads; ++t) {
    Fiber& fiber = fiber_for(t);
    fiber.index = {t % launch.block.x, t / launch.block.x % launch.block.y, t / (launch.block.x * launch.block.y)};
  }
  blockDim = launch.block;
  gridDim = launch.grid;
  // Exactly the requested bytes, so that AddressSanitizer sees an overflow of dynamic shared memory.
  std::unique_ptr<unsigned char[]> shared(launch.shared_bytes ? new unsigned char[launch.shared_bytes] : nullptr);
  s.dynamic_shared = shared.get();
  s.launch = &launch;
  s.failure.clear();
#if PB_EMU_TSAN
  if (!s.host_tsan_fiber) s.host_tsan_fiber = __tsan_get_current_fiber();  // this host thread's own
#endif

  std::string error;
  std::uint64_t block_number = 0;
  for (unsigned z = 0; z < launch.grid.z && error.empty(); ++z)
    for (unsigned y = 0; y < launch.grid.y && error.empty(); ++y)
      for (unsigned x = 0; x < launch.grid.x && error.empty(); ++x) {
        tsan_release(&s.block_token);
        error = run_block(launch, {x, y, z}, ++block_number);
      }
  s.launch = nullptr;
  s.dynamic_shared = nullptr;
  if (!error.empty()) {
    // The block's fibers are stopped mid-kernel: start them afresh at the next launch.
    for (unsigned t = 0; t < s.threads; ++t) s.fibers[t]->fresh = true;
    return set_error(cudaErrorLaunchFailure, std::move(error));
  }
  return cudaSuccess;
}

}  // namespace detail
}  // namespace parbench::cuda_emu
