// What every benchmark binary shares: the run context in Google Benchmark's JSON, the measured
// single-core GEMM peak that "% of peak" counters refer to, and parbench's own --name=N flags.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

namespace parbench::bench {

// The run context (core/context.h) plus HDF5 and the BLAS in use, as custom context entries.
void add_run_context();

// The best of `reps` single-thread 2048^3 sgemm calls through the cpu backend after one warm-up,
// in GFLOP/s; recorded as context "gemm_peak_gflops_1core".
double measure_gemm_peak_1core(int reps);

// The main() of a harness whose counters refer to the single-core GEMM peak: takes --peak_reps=N
// (default 10), parses Google Benchmark's flags, adds the run context, measures the peak into
// `peak_gflops`, registers the benchmarks and runs them. Returns the exit status.
int run_with_gemm_peak(int argc, char** argv, double& peak_gflops, void (*register_benchmarks)());

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
