// What every benchmark binary shares: the run context in Google Benchmark's JSON, the kernel
// backend it runs on (--backend), the measured GEMM peak that "% of peak" counters refer to, and
// parbench's own --name=N flags.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels/backend.h"

namespace parbench::bench {

// The run context (core/context.h) plus HDF5 and the BLAS in use, as custom context entries.
void add_run_context();

// The best of `reps` single-thread 2048^3 sgemm calls through the cpu backend after one warm-up,
// in GFLOP/s; recorded as context "gemm_peak_gflops_1core".
double measure_gemm_peak_1core(int reps);

// The kernel backend a harness runs on (--backend=NAME), made once in main(). A backend that cannot
// start here (not built, no usable GPU) is not a usage error: every benchmark then reports its
// one-line reason with SkipWithError, so the JSON still lists each configuration and why it did
// not run (design.md §6).
struct HarnessBackend {
  std::string name = "cpu";
  std::unique_ptr<kernels::Backend> backend;  // null when it could not start
  std::string error;                          // why it could not start

  // The backend, or nullptr after state.SkipWithError(error): what each benchmark calls first.
  kernels::Backend* or_skip(benchmark::State& state) const;
  // GEMMs on a GPU (cuda): "% of peak" then refers to the device's measured SGEMM peak. Not
  // cuda_emulated, whose cuBLAS is the CPU sgemm: one CPU core's peak is its peak.
  bool on_gpu() const { return name == "cuda"; }
};

// Removes --backend=NAME (default cpu) from argv and returns the name. A name that is no backend is
// a usage error listing the valid ones (exit status 2).
std::string take_backend_flag(int& argc, char** argv);
// That backend made with `options`, or the one line that says why it cannot start.
HarnessBackend start_backend(const std::string& name, const kernels::BackendOptions& options = {});
// Context "backend" (the name) and "backend_description" (its describe()) or "backend_error".
void add_backend_context(const HarnessBackend& backend);

// The best of `reps` 4096^3 sgemm calls through a GPU backend after one warm-up, each timed to its
// synchronize(), in GFLOP/s; recorded as context "gemm_peak_gflops_device".
double measure_gemm_peak_device(kernels::Backend& backend, int reps);

// The main() of a harness whose counters refer to a measured GEMM peak: takes --backend=NAME
// (default cpu) into `backend` and --peak_reps=N (default 10), parses Google Benchmark's flags, adds
// the run context, measures the peak into `peak_gflops` (one core's, or the GPU's: on_gpu(); none
// when the backend could not start, as nothing then runs), registers the benchmarks and runs
// them. Returns the exit status.
int run_with_gemm_peak(int argc, char** argv, HarnessBackend& backend, double& peak_gflops,
                       void (*register_benchmarks)());

// Removes --name=<text> from argv before Google Benchmark parses it; returns the value or
// `fallback`.
std::string take_string_flag(int& argc, char** argv, std::string_view name, std::string fallback);
// The same for --name=<integer> with low <= value <= high. A value that is not a whole integer in
// range is a usage error: it prints "<program>: --name=<value>: must be <range>" and exits with
// status 2 (what Google Benchmark's own flag errors do not: atoll read "0x" or "abc" as 0).
long long take_int_flag(int& argc, char** argv, std::string_view name, long long fallback, long long low,
                        long long high = std::numeric_limits<long long>::max());
// The value of --name=<n1,n2,...>: each an integer >= low; an empty list is an error too.
std::vector<int> int_list_flag(const char* program, std::string_view name, const std::string& text, int low);
// --name=<number>: finite and >= low (> low when `low_open`).
double take_number_flag(int& argc, char** argv, std::string_view name, double fallback, double low, bool low_open);
// Prints "<program>: --name=<value>: must be <range>" and exits with status 2.
[[noreturn]] void bad_flag(const char* program, std::string_view name, std::string_view value, std::string_view range);

// A reporter that prints nothing: what non-root MPI ranks pass to RunSpecifiedBenchmarks as the
// display reporter (they take part in every collective but must not report). Those ranks must
// also drop --benchmark_out(_format) before benchmark::Initialize, or each truncates the shared
// file, and pass no file reporter (1.7.1 exits when one is given without --benchmark_out).
class SilentReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

// gflops: a rate over real time (benchmarks use UseRealTime: BLAS and the LSTM directions run on
// more than the calling thread). pct_peak: that rate in % of `peak_gflops`, over the timed loop's
// wall time `seconds` (a plain number, so it does not print as "per second").
void set_flop_counters(benchmark::State& state, double flops_per_iteration, double seconds, double peak_gflops);

}  // namespace parbench::bench
