// `parbench report`: Google Benchmark JSON from the strategy and collective harnesses -> scaling
// and efficiency per (workload, strategy, precision, mode, batch, backend), the best strategy per
// worker count, collective bandwidth series, and the outputs (parbench.scaling/1 JSON, Markdown,
// CSV; plots come from plot_report.py reading the JSON). Definitions: design.md §6.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace parbench::results {

// ---------------------------------------------------------------------------------------------
// Metrics (pure, unit-tested)

struct ScalingMetrics {
  std::optional<double> speedup, efficiency, karp_flatt;
};

// From the 1-worker and N-worker median step times. Strong: S = T1/TN, E = T1/(N TN). Weak (fixed
// per-worker batch): E = T1/TN, S = N T1/TN (scaled speedup). Karp-Flatt e = (1/S - 1/N)/(1 - 1/N),
// absent at N = 1. Everything absent without a 1-worker time.
ScalingMetrics scaling_metrics(bool weak, int workers, std::optional<double> t1_ms, double tn_ms);

// nccl-tests definitions: algbw = bytes / time; busbw = algbw * bus_factor(op, ranks)
// (all_reduce 2(n-1)/n, reduce_scatter and all_gather (n-1)/n, broadcast 1). GB/s = 1e9 B/s.
double algbw_GBps(double bytes, double seconds);
double busbw_GBps(std::string_view op, int ranks, double bytes, double seconds);

// ---------------------------------------------------------------------------------------------
// The report

struct Spread {
  double median = 0, min = 0, max = 0;
};

struct StrategyPoint {
  int workers = 0;
  std::size_t repetitions = 0;
  std::optional<Spread> step_ms;  // absent when the configuration did not run (error)
  std::optional<double> samples_per_s, speedup, efficiency, karp_flatt, speedup_vs_serial;
  std::optional<double> comm_pct, exposed_comm_pct;
  // breakdown of the step, ms
  std::optional<double> compute_ms, comm_ms, exposed_comm_ms, optimizer_ms, data_wait_ms;
  // memory per worker, MB
  std::optional<double> memory_MB, model_state_MB, predicted_model_state_MB, activations_MB, comm_buffers_MB,
      rss_peak_MB;
  std::optional<double> bytes_per_step, busbw_GBps;
  // Training GFLOP/s of the whole job, and that in % of the peak of the cores it computes on.
  std::optional<double> gflops, pct_peak;
  bool oversubscribed = false;
  std::optional<std::string> error;  // why the configuration did not run
};

struct StrategySeries {
  std::string workload, strategy, precision, mode, backend;  // mode: "strong" | "weak"
  int batch = 0;                      // the name's batch: global batch (strong) or batch per worker (weak)
  std::vector<StrategyPoint> points;  // by workers
  bool weak() const { return mode == "weak"; }
};

// The strategy with the highest samples/s at one worker count of one (workload, mode, batch) setting.
struct BestChoice {
  std::string workload, precision, mode, backend;
  int batch = 0, workers = 0;
  std::string strategy;
  double samples_per_s = 0;
  std::optional<std::string> runner_up;
  std::optional<double> runner_up_samples_per_s;
  // The two step-time ranges (min-max over repetitions) overlap: the ranking is within the noise.
  bool within_spread = false;
};

struct CollectivePoint {
  double bytes = 0, time_us = 0;
  std::optional<double> algbw_GBps, busbw_GBps;
};

struct CollectiveSeries {
  std::string op, comm;  // comm: local, mpi, mpi_raw
  int ranks = 0;
  std::vector<CollectivePoint> points;  // by bytes
};

struct SkippedEntry {
  std::string name, file, reason;
};

struct ScalingReport {
  std::vector<std::string> inputs;
  nlohmann::json context = nlohmann::json::object();   // values the same in every file
  nlohmann::json contexts = nlohmann::json::object();  // file -> {key: value} for keys that differ
  std::optional<int> physical_cores;
  std::vector<StrategySeries> series;
  std::vector<BestChoice> best;
  std::vector<CollectiveSeries> collectives;
  std::vector<SkippedEntry> skipped;

  std::size_t point_count() const;
};

struct InputFile {
  std::string path;
  nlohmann::json json;  // as read by read_gbench_json
};

// Groups, pools repetitions of the same benchmark across files and computes every metric. Entries
// that cannot be used (errored, non-finite time, not a strategy or collective benchmark) end up in
// `skipped` with a reason; nothing in the input is fatal once it is Google Benchmark JSON.
ScalingReport build_report(const std::vector<InputFile>& files);
// Files and folders as on the command line (folders: every benchmark JSON under them).
ScalingReport read_report_inputs(const std::vector<std::filesystem::path>& inputs);

// ---------------------------------------------------------------------------------------------
// Outputs

nlohmann::ordered_json to_json(const ScalingReport& report, const std::string& generated_utc);
// `plots` lists the plot images (relative to the report) to show; `plots_note` replaces them when
// they were not rendered.
std::string format_markdown(const ScalingReport& report, const std::vector<std::string>& plots,
                            const std::string& plots_note);
std::string format_scaling_csv(const ScalingReport& report);
std::string format_collectives_csv(const ScalingReport& report);
// The plot files plot_report.py writes for this report, relative to the output folder (PNG).
std::vector<std::string> plot_files(const ScalingReport& report);

struct ReportOptions {
  std::filesystem::path out;
  bool force = false;
  bool plots = true;
};

// Writes scaling.json, report.md, scaling.csv, collectives.csv (each to a temporary name, then
// renamed) and, unless --no-plots, plots/ through plot_report.py. Existing outputs are an error
// naming them unless `force`. A missing python3 / matplotlib is an error naming the Debian
// package, raised after the tables are written. Returns the files written.
std::vector<std::filesystem::path> write_report(const ScalingReport& report, const ReportOptions& options);

// The one-paragraph console summary: files, series, points, skipped (first reasons).
std::string summary(const ScalingReport& report);

}  // namespace parbench::results
