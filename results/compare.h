// `parbench compare`: reads two Google Benchmark JSON files, compares each benchmark's real time
// (median change and a Mann-Whitney U test over the repetitions) and renders a Markdown summary
// for CI logs. The CLI only parses flags and picks the exit status (design.md §6).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::results {

// One benchmark's real times in one file, in nanoseconds: one value per repetition, or the single
// median aggregate when the file holds only aggregates.
struct BenchmarkSamples {
  std::string name;  // run_name: the repetitions of one benchmark share it
  std::vector<double> times_ns;
  bool from_aggregate = false;
};

struct SkippedBenchmark {
  std::string name;
  std::string reason;  // the run's error_message, or why its entries could not be used
};

struct BenchmarkFile {
  std::string path;
  std::vector<BenchmarkSamples> benchmarks;  // in the order of the file
  std::vector<SkippedBenchmark> skipped;
};

// Reads Google Benchmark JSON (1.7 format, results/gbench_json.h): one file, or a folder standing
// for every benchmark file under it (a sweep's run folder), merged; a benchmark in several of its
// files keeps the repetitions of all. Throws parbench::Error naming the input when it is missing,
// is not JSON or has no benchmarks.
BenchmarkFile read_benchmark_inputs(const std::filesystem::path& path);
// One file's text already in memory; `path` only names the source in messages.
BenchmarkFile parse_benchmark_json(std::string_view text, const std::string& path);

struct UTestResult {
  double u = 0;        // U of the first sample: pairs (a, b) with a > b, ties counting 1/2
  double p = 1;        // two-sided
  bool exact = false;  // exact distribution (no ties, n1 + n2 <= 60) or normal approximation
};

// Two-sided Mann-Whitney U test. Exact null distribution when there are no ties and n1 + n2 <= 60;
// otherwise the normal approximation with tie correction and continuity correction (as R's
// wilcox.test(correct = TRUE)). Both samples must be non-empty.
UTestResult mann_whitney(const std::vector<double>& a, const std::vector<double>& b);

enum class Verdict { same, faster, slower, noisy };
std::string_view verdict_name(Verdict verdict);

struct CompareOptions {
  double threshold_pct = 10;  // a median change beyond +-threshold counts
  double alpha = 0.05;        // significance level of the U test
  std::string filter;         // ECMAScript regex: only benchmarks whose name it finds are compared
};

struct BenchmarkComparison {
  std::string name;
  double base_median_ns = 0, new_median_ns = 0;
  std::size_t base_count = 0, new_count = 0;
  double change_pct = 0;    // (new - base) / base of the medians
  std::optional<double> p;  // absent when there are too few repetitions for the U test
  Verdict verdict = Verdict::same;
};

struct CompareReport {
  std::string base_path, new_path;
  CompareOptions options;
  std::vector<BenchmarkComparison> rows;  // benchmarks in both files, in BASE's order
  std::vector<std::string> only_in_base, only_in_new;
  std::vector<SkippedBenchmark> skipped_base, skipped_new;

  bool regression() const;  // any benchmark "slower"
};

CompareReport compare(const BenchmarkFile& base, const BenchmarkFile& fresh, const CompareOptions& options);

// The table (benchmark | base | new | change | p | verdict), the benchmarks only in one file, the
// skipped ones with their reasons, and a closing summary line.
std::string format_markdown(const CompareReport& report);
// The summary line alone, e.g. "12 benchmarks compared: 1 slower, 0 faster, 2 noisy, 9 same ...".
std::string summary_line(const CompareReport& report);

// History: the runs of a folder (each child folder or JSON file one run, in name order: run
// folders are named by timestamp or SLURM job id) and each benchmark's median real time in each.
struct HistoryRow {
  std::string name;
  std::vector<std::optional<double>> medians_ns;  // one per run; absent where the run lacks it
  std::optional<double> change_pct;               // last run with it vs first run with it
};

struct HistoryReport {
  std::string folder;
  std::vector<std::string> runs;        // names of the runs, oldest first
  std::vector<HistoryRow> rows;         // every benchmark seen, in order of first appearance
  std::optional<CompareReport> latest;  // the last run against the one before it (the gate)
};

// Reads every run under `folder`; at least one is needed, two for `latest`.
HistoryReport read_history(const std::filesystem::path& folder, const CompareOptions& options);
// A table of the medians of the last `max_runs` runs with the change first -> last, then the
// comparison of the last two runs.
std::string format_history_markdown(const HistoryReport& report, std::size_t max_runs = 8);

}  // namespace parbench::results
