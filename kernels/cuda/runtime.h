// What kernels/cuda/ code includes for the CUDA runtime: the real one (<cuda_runtime.h>) in the
// nvcc build, the emulated one (emu/) in the build that runs on CPU threads
// (PARBENCH_CUDA_EMULATION=1). Also the project's CUDA_CHECK and the one launch helper.
//
// Symbols of kernels/cuda/ live in namespace parbench::kernels::cuda, inside an inline namespace
// named after the build (`device` or `emulated`), so that both libraries can be linked into one
// binary (the `cuda` and `cuda_emulated` backends side by side) without clashing.
#pragma once

#include <string>

#if PARBENCH_CUDA_EMULATION
#include "kernels/cuda/emu/device.h"
#include "kernels/cuda/emu/runtime.h"
#define PB_CUDA_VARIANT emulated
#else
#include <cuda_runtime.h>
#define PB_CUDA_VARIANT device
#endif

namespace parbench::kernels::cuda {
#if PARBENCH_CUDA_EMULATION
using namespace ::parbench::cuda_emu;  // cudaMalloc, dim3, threadIdx, __syncthreads, ...
#endif

inline namespace PB_CUDA_VARIANT {
// The failure path of CUDA_CHECK: parbench::check_failed (host, rank, file:line, expression), with
// the error's name and text; under the emulation also its detail (kernel, block, what happened).
[[noreturn]] void cuda_failed(const char* file, int line, const char* expression, int code, const char* name,
                              const char* text);
// PB_HOST_CHECK's failure path: parbench::check_failed with a detail formatted by the caller. Host
// code of .cu files cannot include core/check.h: nvcc 13's host pass rejects fmt's consteval
// format-string checks.
[[noreturn]] void host_check_failed(const char* file, int line, const char* expression, const std::string& detail);
}  // namespace PB_CUDA_VARIANT

}  // namespace parbench::kernels::cuda

// PB_CHECK for the host code of .cu files: `detail` (a std::string expression) only on failure.
#define PB_HOST_CHECK(cond, detail)                                                      \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::parbench::kernels::cuda::host_check_failed(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

#define CUDA_CHECK(expression)                                                                                        \
  do {                                                                                                                \
    const cudaError_t pb_cuda_status_ = (expression);                                                                 \
    if (pb_cuda_status_ != cudaSuccess) [[unlikely]]                                                                  \
      ::parbench::kernels::cuda::cuda_failed(__FILE__, __LINE__, #expression, static_cast<int>(pb_cuda_status_),      \
                                             cudaGetErrorName(pb_cuda_status_), cudaGetErrorString(pb_cuda_status_)); \
  } while (0)

// The one way kernels are launched: kernel<<<grid, block, shared_bytes, stream>>>(args...) and
// the error check every launch is followed by; under the emulation the same through cuda_emu::launch
// (which also knows the kernel's name for its messages).
#if PARBENCH_CUDA_EMULATION
#define PB_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                          \
  do {                                                                                                     \
    ::parbench::cuda_emu::launch(#kernel, kernel, (grid), (block), (shared_bytes), (stream), __VA_ARGS__); \
    CUDA_CHECK(cudaGetLastError());                                                                        \
  } while (0)
#else
#define PB_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define PB_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)       \
  do {                                                                  \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__); \
    CUDA_CHECK(cudaGetLastError());                                     \
  } while (0)
#endif
