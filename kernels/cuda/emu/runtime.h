// The CUDA runtime API as the emulated backend's host code uses it (design.md §3): device memory
// is host memory, every stream is in order and synchronous (work runs when it is enqueued), events
// record host time. Only what a backend needs is here; names, signatures and error codes are the
// real runtime's, so the same host code compiles against <cuda_runtime.h> under the CUDA build.
// Declared in namespace parbench::cuda_emu so that a binary can link libcudart beside it.
#pragma once

#include <cstddef>
#include <string>

namespace parbench::cuda_emu {

// Values as in CUDA 13's driver_types.h, so that logs read the same on both builds.
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
};

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;  // nullptr is the default stream, as in CUDA
using cudaEvent_t = CUevent_st*;
inline constexpr unsigned cudaStreamNonBlocking = 0x1;

cudaError_t cudaGetLastError();     // returns and clears the last error of this host thread
cudaError_t cudaPeekAtLastError();  // returns it without clearing
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);

cudaError_t cudaGetDeviceCount(int* count);  // 1: the emulated device
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total);

cudaError_t cudaMalloc(void** pointer, std::size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, std::size_t bytes) {  // as cuda_runtime.h's overload
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);  // nullptr is a no-op; a pointer cudaMalloc did not return is an error
cudaError_t cudaMemcpy(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2DAsync(void* destination, std::size_t destination_pitch, const void* source,
                              std::size_t source_pitch, std::size_t width_bytes, std::size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* pointer, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* pointer, int value, std::size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end);

// ---- emulation only ---------------------------------------------------------------------------
// The detail of this thread's last error (which kernel, which block, what went wrong): the real
// runtime has only the code, the emulation can say more.
const std::string& last_error_detail();
// Records an error as the runtime would (the launch emulation reports through this).
cudaError_t set_error(cudaError_t error, std::string detail);
// Bytes allocated by cudaMalloc and not yet freed, and their peak, on every thread together.
std::size_t bytes_in_use();
std::size_t peak_bytes_in_use();

}  // namespace parbench::cuda_emu
