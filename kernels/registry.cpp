// Backends by name: one line per backend. A known backend that was not built names the CMake
// option that enables it. Options a backend cannot honour are its own errors (make_* below).
#include <functional>

#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/backend.h"

namespace parbench::kernels {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);
// kernels/cuda/cuda_backend.cpp, compiled once per build of the kernels (kernels/cuda/runtime.h).
namespace cuda {
inline namespace emulated {
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
}
#if PARBENCH_HAVE_CUDA
inline namespace device {
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
}
#endif
}  // namespace cuda

namespace {

struct Entry {
  std::string_view name;
  std::function<std::unique_ptr<Backend>(const BackendOptions&)> make;  // empty: known but not built
  std::string_view enable;                                              // how to build it
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
    {"cpu", make_cpu_backend, ""},
#if PARBENCH_HAVE_CUDA
    {"cuda", cuda::device::make_backend, ""},
#else
    {"cuda", {}, "configure with -DPARBENCH_CUDA=ON (cmake --preset cuda)"},
#endif
    // The CUDA kernels on CPU threads (kernels/cuda/emu): a test instrument, built everywhere.
    {"cuda_emulated", cuda::emulated::make_backend, ""},
  };
  return all;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& entry : entries()) names.emplace_back(entry.name);
  return names;
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options) {
  for (const auto& entry : entries()) {
    if (entry.name != name) continue;
    if (!entry.make) raise("backend '{}' was not built; {}", name, entry.enable);
    return entry.make(options);
  }
  raise("unknown backend '{}'; valid backends: {}", name, fmt::join(backend_names(), ", "));
}

}  // namespace parbench::kernels
