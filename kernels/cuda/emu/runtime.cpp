// The emulated CUDA runtime (runtime.h): host memory behind cudaMalloc, synchronous in-order
// streams, events that record host time, and per-thread last-error state as in CUDA.
#include "kernels/cuda/emu/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>

namespace parbench::cuda_emu {

struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point time{};
  bool recorded = false;
};

namespace {

thread_local cudaError_t last_error = cudaSuccess;
thread_local std::string last_detail;

// Live allocations and their sizes: cudaFree of anything else is an error, as on a GPU, and the
// totals give the backend's memory report.
struct Allocations {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> sizes;
  std::size_t in_use = 0;
  std::size_t peak = 0;
};
Allocations& allocations() {
  static Allocations all;
  return all;
}

// Every device memory range must lie inside one live allocation; host pointers are unchecked
// (AddressSanitizer sees those).
bool valid_kind(cudaMemcpyKind kind) { return kind >= cudaMemcpyHostToHost && kind <= cudaMemcpyDefault; }

cudaError_t fail(cudaError_t error, const char* what) { return set_error(error, what); }

}  // namespace

cudaError_t set_error(cudaError_t error, std::string detail) {
  if (error != cudaSuccess) {
    last_error = error;
    last_detail = std::move(detail);
  }
  return error;
}

const std::string& last_error_detail() { return last_detail; }

cudaError_t cudaGetLastError() { return std::exchange(last_error, cudaSuccess); }
cudaError_t cudaPeekAtLastError() { return last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unrecognized error code";
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return fail(cudaErrorInvalidValue, "cudaGetDeviceCount: count is nullptr");
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice, "the emulation has one device, 0");
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue, "cudaGetDevice: device is nullptr");
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }  // every stream is synchronous

cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total) {
  if (!free || !total) return fail(cudaErrorInvalidValue, "cudaMemGetInfo: nullptr argument");
  // The emulated device is as large as the address space allows; report what is in use as taken.
  constexpr std::size_t kTotal = std::size_t{1} << 40;
  *total = kTotal;
  *free = kTotal - bytes_in_use();
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** pointer, std::size_t bytes) {
  if (!pointer) return fail(cudaErrorInvalidValue, "cudaMalloc: pointer is nullptr");
  // 256-byte alignment as cudaMalloc guarantees; a zero-byte request gets nullptr and succeeds.
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* memory = ::operator new (bytes, std::align_val_t{256}, std::nothrow);
  if (!memory) return fail(cudaErrorMemoryAllocation, "cudaMalloc: out of host memory");
  auto& all = allocations();
  const std::lock_guard lock(all.mutex);
  all.sizes.emplace(memory, bytes);
  all.in_use += bytes;
  all.peak = std::max(all.peak, all.in_use);
  *pointer = memory;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  if (!pointer) return cudaSuccess;
  auto& all = allocations();
  {
    const std::lock_guard lock(all.mutex);
    const auto found = all.sizes.find(pointer);
    if (found == all.sizes.end())
      return fail(cudaErrorInvalidDevicePointer, "cudaFree: not a pointer that cudaMalloc returned");
    all.in_use -= found->second;
    all.sizes.erase(found);
  }
  ::operator delete (pointer, std::align_val_t{256});
  return cudaSuccess;
}

std::size_t bytes_in_use() {
  auto& all = allocations();
  const std::lock_guard lock(all.mutex);
  return all.in_use;
}
std::size_t peak_bytes_in_use() {
  auto& all = allocations();
  const std::lock_guard lock(all.mutex);
  return all.peak;
}

cudaError_t cudaMemcpy(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return fail(cudaErrorInvalidMemcpyDirection, "cudaMemcpy: invalid cudaMemcpyKind");
  if (bytes == 0) return cudaSuccess;
  if (!destination || !source) return fail(cudaErrorInvalidValue, "cudaMemcpy: nullptr with a non-zero size");
  std::memmove(destination, source, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t /*stream: synchronous*/) {
  return cudaMemcpy(destination, source, bytes, kind);
}

cudaError_t cudaMemcpy2DAsync(void* destination, std::size_t destination_pitch, const void* source,
                              std::size_t source_pitch, std::size_t width_bytes, std::size_t height,
                              cudaMemcpyKind kind, cudaStream_t /*stream: synchronous*/) {
  if (!valid_kind(kind)) return fail(cudaErrorInvalidMemcpyDirection, "cudaMemcpy2DAsync: invalid cudaMemcpyKind");
  if (width_bytes > destination_pitch || width_bytes > source_pitch)
    return fail(cudaErrorInvalidValue, "cudaMemcpy2DAsync: width exceeds a pitch");
  if (width_bytes == 0 || height == 0) return cudaSuccess;
  if (!destination || !source) return fail(cudaErrorInvalidValue, "cudaMemcpy2DAsync: nullptr with a non-zero size");
  auto* to = static_cast<unsigned char*>(destination);
  const auto* from = static_cast<const unsigned char*>(source);
  for (std::size_t row = 0; row < height; ++row)
    std::memmove(to + row * destination_pitch, from + row * source_pitch, width_bytes);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* pointer, int value, std::size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!pointer) return fail(cudaErrorInvalidValue, "cudaMemset: nullptr with a non-zero size");
  std::memset(pointer, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* pointer, int value, std::size_t bytes, cudaStream_t /*stream: synchronous*/) {
  return cudaMemset(pointer, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream) return fail(cudaErrorInvalidValue, "cudaStreamCreate: stream is nullptr");
  *stream = new CUstream_st{flags};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: the default stream");
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t /*stream: work already ran*/) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return fail(cudaErrorInvalidValue, "cudaEventCreate: event is nullptr");
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: event is nullptr");
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t /*stream: synchronous*/) {
  if (!event) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: event is nullptr");
  event->time = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: event is nullptr");
}
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  if (!milliseconds) return fail(cudaErrorInvalidValue, "cudaEventElapsedTime: milliseconds is nullptr");
  if (!start || !end) return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: event is nullptr");
  // As CUDA: an event that was never recorded is "not ready".
  // (cudaErrorNotReady is a status, not an error: the runtime does not record it for cudaGetLastError.)
  if (!start->recorded || !end->recorded) return cudaErrorNotReady;
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

}  // namespace parbench::cuda_emu
