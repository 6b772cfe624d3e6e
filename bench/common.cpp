// Shared benchmark plumbing (bench/common.h).
#include "bench/common.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "core/context.h"
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

long long take_int_flag(int& argc, char** argv, std::string_view name, long long fallback) {
  const std::string text = take_string_flag(argc, argv, name, "");
  return text.empty() ? fallback : std::atoll(text.c_str());
}

int run_with_gemm_peak(int argc, char** argv, double& peak_gflops, void (*register_benchmarks)()) {
  const int peak_reps = static_cast<int>(std::max(1LL, take_int_flag(argc, argv, "peak_reps", 10)));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_run_context();
  peak_gflops = measure_gemm_peak_1core(peak_reps);
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
