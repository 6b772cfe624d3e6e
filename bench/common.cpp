// Shared benchmark plumbing (bench/common.h).
#include "bench/common.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/context.h"
#include "core/error.h"
#include "data/h5.h"
#include "kernels/buffer.h"
#include "kernels/cpu/blas.h"

namespace parbench::bench {

void add_run_context() {
  const nlohmann::json context = run_context();
  for (const auto& [key, value] : context.items()) {
    benchmark::AddCustomContext(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  benchmark::AddCustomContext("hdf5", h5::library_version());
  benchmark::AddCustomContext("blas", kernels::cpu::blas_description());
}

double measure_gemm_peak_1core(int reps) {
  const auto backend = kernels::make_backend("cpu");
  backend->set_threads(1);
  const int n = 2048;
  const auto count = static_cast<std::size_t>(n) * n;
  kernels::Buffer a(*backend, count), b(*backend, count), c(*backend, count);
  backend->fill(a.data(), 0.5f, count);
  backend->fill(b.data(), 0.25f, count);
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep <= reps; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    backend->gemm(c.data(), n, a.data(), n, b.data(), n, n, n, n, kernels::Trans::no, kernels::Trans::no, 1.0f, 0.0f);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rep > 0) best = std::min(best, seconds);
  }
  const double gflops = 2.0 * n * n * n / best / 1e9;
  benchmark::AddCustomContext("gemm_peak_gflops_1core", fmt::format("{:.1f}", gflops));
  return gflops;
}

kernels::Backend* HarnessBackend::or_skip(benchmark::State& state) const {
  if (!backend) state.SkipWithError(error.c_str());
  return backend.get();
}

std::string take_backend_flag(int& argc, char** argv) {
  std::string name = take_string_flag(argc, argv, "backend", "cpu");
  const std::vector<std::string> names = kernels::backend_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    bad_flag(argv[0], "backend", name, fmt::format("one of {}", fmt::join(names, ", ")));
  }
  return name;
}

HarnessBackend start_backend(const std::string& name, const kernels::BackendOptions& options) {
  HarnessBackend harness;
  harness.name = name;
  try {
    harness.backend = kernels::make_backend(name, options);
  } catch (const Error& error) {
    harness.error = error.what();
  }
  return harness;
}

void add_backend_context(const HarnessBackend& backend) {
  benchmark::AddCustomContext("backend", backend.name);
  if (backend.backend) {
    benchmark::AddCustomContext("backend_description", backend.backend->describe());
  } else {
    benchmark::AddCustomContext("backend_error", backend.error);
  }
}

double measure_gemm_peak_device(kernels::Backend& backend, int reps) {
  // Large enough that cuBLAS runs at its best tiles on every current GPU (an H100 needs ~2 ms).
  const int n = 4096;
  const auto count = static_cast<std::size_t>(n) * n;
  kernels::Buffer a(backend, count), b(backend, count), c(backend, count);
  backend.fill(a.data(), 0.5f, count);
  backend.fill(b.data(), 0.25f, count);
  backend.synchronize();
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep <= reps; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    backend.gemm(c.data(), n, a.data(), n, b.data(), n, n, n, n, kernels::Trans::no, kernels::Trans::no, 1.0f, 0.0f);
    backend.synchronize();  // the launch returns at once: the time is the device's
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rep > 0) best = std::min(best, seconds);
  }
  const double gflops = 2.0 * n * n * n / best / 1e9;
  benchmark::AddCustomContext("gemm_peak_gflops_device", fmt::format("{:.1f}", gflops));
  return gflops;
}

std::string take_string_flag(int& argc, char** argv, std::string_view name, std::string fallback) {
  const std::string prefix = fmt::format("--{}=", name);
  std::string value = std::move(fallback);
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      value = argv[i] + prefix.size();
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return value;
}

void bad_flag(const char* program, std::string_view name, std::string_view value, std::string_view range) {
  const std::string_view base = std::string_view(program).substr(std::string_view(program).rfind('/') + 1);
  fmt::print(stderr, "{}: --{}={}: must be {}\n", base, name, value, range);
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): flags are read before any thread starts
}

namespace {

// The whole of `text` as an integer, or nullopt.
std::optional<long long> parse_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

std::string integer_range(long long low, long long high) {
  return high == std::numeric_limits<long long>::max() ? fmt::format("an integer, at least {}", low)
                                                       : fmt::format("an integer in [{}, {}]", low, high);
}

}  // namespace

long long take_int_flag(int& argc, char** argv, std::string_view name, long long fallback, long long low,
                        long long high) {
  const std::string missing = "\x01";  // no command line holds this
  const std::string text = take_string_flag(argc, argv, name, missing);
  if (text == missing) return fallback;
  const std::optional<long long> value = parse_integer(text);
  if (!value || *value < low || *value > high) bad_flag(argv[0], name, text, integer_range(low, high));
  return *value;
}

std::vector<int> int_list_flag(const char* program, std::string_view name, const std::string& text, int low) {
  std::vector<int> values;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::optional<long long> value = parse_integer(text.substr(begin, end - begin));
    if (!value || *value < low || *value > std::numeric_limits<int>::max()) {
      bad_flag(program, name, text, fmt::format("a comma-separated list of integers, each at least {}", low));
    }
    values.push_back(static_cast<int>(*value));
    begin = end + 1;
  }
  return values;
}

double take_number_flag(int& argc, char** argv, std::string_view name, double fallback, double low, bool low_open) {
  const std::string missing = "\x01";
  const std::string text = take_string_flag(argc, argv, name, missing);
  if (text == missing) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  const bool ok = !text.empty() && *end == '\0' && std::isfinite(value) && (low_open ? value > low : value >= low);
  if (!ok) bad_flag(argv[0], name, text, fmt::format("a finite number {} {}", low_open ? ">" : ">=", low));
  return value;
}

int run_with_gemm_peak(int argc, char** argv, HarnessBackend& backend, double& peak_gflops,
                       void (*register_benchmarks)()) {
  const int peak_reps = static_cast<int>(take_int_flag(argc, argv, "peak_reps", 10, 1));
  backend = start_backend(take_backend_flag(argc, argv));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_run_context();
  add_backend_context(backend);
  if (backend.on_gpu() && backend.backend) {
    peak_gflops = measure_gemm_peak_device(*backend.backend, peak_reps);
  } else if (backend.backend) {
    peak_gflops = measure_gemm_peak_1core(peak_reps);
  }
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

void set_flop_counters(benchmark::State& state, double flops_per_iteration, double seconds, double peak_gflops) {
  const double flops = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["gflops"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["pct_peak"] = 100.0 * flops / seconds / (peak_gflops * 1e9);
}

}  // namespace parbench::bench
