// Backends by name: one line per backend. A known backend that was not built names the CMake
// option that enables it.
#include <functional>

#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/backend.h"

namespace parbench::kernels {

std::unique_ptr<Backend> make_cpu_backend();
#if PARBENCH_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend();
#endif

namespace {

struct Entry {
  std::string_view name;
  std::function<std::unique_ptr<Backend>()> make;  // empty: known but not built
  std::string_view enable;                         // how to build it
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
    {"cpu", make_cpu_backend, ""},
#if PARBENCH_HAVE_CUDA
    {"cuda", make_cuda_backend, ""},
#elif PARBENCH_CUDA_REQUESTED
    {"cuda", {}, "this version has no CUDA backend yet (PARBENCH_CUDA=ON only finds the toolkit)"},
#else
    {"cuda", {}, "configure with -DPARBENCH_CUDA=ON (cmake --preset cuda)"},
#endif
  };
  return all;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& entry : entries()) names.emplace_back(entry.name);
  return names;
}

std::unique_ptr<Backend> make_backend(std::string_view name) {
  for (const auto& entry : entries()) {
    if (entry.name != name) continue;
    if (!entry.make) raise("backend '{}' was not built; {}", name, entry.enable);
    return entry.make();
  }
  raise("unknown backend '{}'; valid backends: {}", name, fmt::join(backend_names(), ", "));
}

}  // namespace parbench::kernels
