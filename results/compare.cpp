// Reading Google Benchmark JSON, the Mann-Whitney U test, and the verdict per benchmark for
// `parbench compare`.
#include "results/compare.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "results/gbench_json.h"

namespace parbench::results {

namespace {

// ---------------------------------------------------------------------------------------------
// Reading

std::optional<std::string> string_field(const nlohmann::json& entry, const char* key) {
  const auto it = entry.find(key);
  if (it == entry.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<double> nanoseconds_per(const std::string& unit) {
  if (unit == "ns") return 1.0;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return std::nullopt;
}

// Everything one file says about one run_name, gathered before deciding what to use.
struct RunGroup {
  std::vector<double> iterations_ns;
  std::optional<double> median_ns;
  std::optional<std::string> problem;  // first error or unusable entry; the benchmark is skipped
};

// Real time of one entry in ns, or the reason it cannot be used.
std::optional<double> real_time_ns(const nlohmann::json& entry, std::string& problem) {
  const auto time = entry.find("real_time");
  if (time == entry.end() || !time->is_number()) {
    problem = "real_time is missing or not a finite number";
    return std::nullopt;
  }
  const std::string unit = string_field(entry, "time_unit").value_or("ns");
  const auto scale = nanoseconds_per(unit);
  if (!scale) {
    problem = fmt::format("unknown time_unit \"{}\"", unit);
    return std::nullopt;
  }
  const double value = time->get<double>() * *scale;
  if (!std::isfinite(value) || value < 0) {
    problem = fmt::format("real_time {} is not a usable time", time->get<double>());
    return std::nullopt;
  }
  return value;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// ---------------------------------------------------------------------------------------------
// Mann-Whitney U

// Number of arrangements of n1 + n2 distinct values giving each U = 0 .. n1*n2: the coefficients
// of the Gaussian binomial [n1+n2 choose n1]_q = prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i),
// computed as power series truncated at degree n1*n2. Every intermediate is bounded by
// C(n1+n2, n1) in absolute value, which fits an int64 for n1 + n2 <= 60.
std::vector<std::int64_t> u_counts(std::size_t n1, std::size_t n2) {
  const std::size_t degree = n1 * n2;
  std::vector<std::int64_t> c(degree + 1, 0);
  c[0] = 1;
  for (std::size_t i = 1; i <= n1; ++i) {
    const std::size_t shift = n2 + i;
    for (std::size_t k = degree + 1; k-- > shift;) c[k] -= c[k - shift];
    for (std::size_t k = i; k <= degree; ++k) c[k] += c[k - i];
  }
  return c;
}

constexpr std::size_t exact_limit = 60;

// Either side below this many repetitions is too few for the U test whatever alpha is.
constexpr std::size_t min_repetitions = 3;

// The smallest two-sided p the test can give for these sizes (fully separated samples): when it is
// not below alpha, no change can be significant, so the threshold alone has to decide. With
// alpha 0.05 this is the case for 3 vs 3 (p >= 0.1) and 3 vs 4 (p >= 0.057).
double smallest_p(std::size_t n1, std::size_t n2) {
  std::vector<double> a(n1), b(n2);
  for (std::size_t i = 0; i < n1; ++i) a[i] = static_cast<double>(i);
  for (std::size_t i = 0; i < n2; ++i) b[i] = static_cast<double>(n1 + i);
  return mann_whitney(a, b).p;
}

// ---------------------------------------------------------------------------------------------
// Markdown

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string format_time(double ns) {
  if (ns >= 1e9) return fmt::format("{:.3f} s", ns / 1e9);
  if (ns >= 1e6) return fmt::format("{:.3f} ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.3f} us", ns / 1e3);
  return fmt::format("{:.1f} ns", ns);
}

// CompareOptions::filter as a predicate on benchmark names.
std::function<bool(const std::string&)> name_filter(const CompareOptions& options) {
  try {
    return [filter = std::regex(options.filter)](const std::string& name) { return std::regex_search(name, filter); };
  } catch (const std::regex_error& error) {
    raise("--filter \"{}\" is not a regular expression: {}", options.filter, error.what());
  }
}

bool holds_benchmark_json(const std::filesystem::path& folder) {
  try {
    return !gbench_files({folder}).empty();
  } catch (const Error&) {
    return false;
  }
}

std::string format_p(double p) { return p < 0.001 ? "<0.001" : fmt::format("{:.3f}", p); }

}  // namespace

namespace {

// The benchmarks of one parsed file, grouped by run_name.
BenchmarkFile benchmarks_of(const nlohmann::json& json, const std::string& path) {
  const nlohmann::json& list = json.at("benchmarks");
  std::vector<std::string> order;
  std::map<std::string, RunGroup> groups;
  BenchmarkFile file{path, {}, {}};
  for (const auto& entry : list) {
    const auto name = entry.is_object() ? string_field(entry, "name") : std::nullopt;
    if (!name) {
      file.skipped.push_back({"(unnamed entry)", "entry without a \"name\""});
      continue;
    }
    const std::string run_name = string_field(entry, "run_name").value_or(*name);
    if (!groups.count(run_name)) order.push_back(run_name);
    RunGroup& group = groups[run_name];
    if (group.problem) continue;
    if (entry.value("error_occurred", false)) {
      group.problem = "error: " + string_field(entry, "error_message").value_or("(no error_message)");
      continue;
    }
    const std::string run_type = string_field(entry, "run_type").value_or("iteration");
    // mean, stddev, cv and the like are derived from the repetitions we read anyway.
    if (run_type == "aggregate" && string_field(entry, "aggregate_name") != "median") continue;
    std::string problem;
    const auto time = real_time_ns(entry, problem);
    if (!time) {
      group.problem = problem;
      continue;
    }
    if (run_type == "aggregate") {
      group.median_ns = *time;
    } else {
      group.iterations_ns.push_back(*time);
    }
  }
  for (const auto& run_name : order) {
    const RunGroup& group = groups[run_name];
    if (group.problem) {
      file.skipped.push_back({run_name, *group.problem});
    } else if (!group.iterations_ns.empty()) {
      file.benchmarks.push_back({run_name, group.iterations_ns, false});
    } else if (group.median_ns) {
      file.benchmarks.push_back({run_name, {*group.median_ns}, true});
    } else {
      file.skipped.push_back({run_name, "no iteration runs and no median aggregate"});
    }
  }
  return file;
}

}  // namespace

BenchmarkFile parse_benchmark_json(std::string_view text, const std::string& path) {
  return benchmarks_of(parse_gbench_json(text, path), path);
}

BenchmarkFile read_benchmark_inputs(const std::filesystem::path& path) {
  BenchmarkFile merged{path.string(), {}, {}};
  std::map<std::string, std::size_t> index;  // name -> position in merged.benchmarks
  for (const auto& file : gbench_files({path})) {
    const BenchmarkFile one = benchmarks_of(read_gbench_json(file), file.string());
    for (const auto& benchmark : one.benchmarks) {
      const auto [it, added] = index.emplace(benchmark.name, merged.benchmarks.size());
      if (added) {
        merged.benchmarks.push_back(benchmark);
        continue;
      }
      // The same benchmark in several files of one folder (runs repeated): all repetitions count.
      auto& times = merged.benchmarks[it->second].times_ns;
      times.insert(times.end(), benchmark.times_ns.begin(), benchmark.times_ns.end());
      merged.benchmarks[it->second].from_aggregate |= benchmark.from_aggregate;
    }
    merged.skipped.insert(merged.skipped.end(), one.skipped.begin(), one.skipped.end());
  }
  return merged;
}

UTestResult mann_whitney(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) raise("Mann-Whitney U test needs two non-empty samples");
  const std::size_t n1 = a.size(), n2 = b.size(), n = n1 + n2;
  std::vector<std::pair<double, bool>> pooled;  // (value, from a)
  pooled.reserve(n);
  for (double x : a) pooled.emplace_back(x, true);
  for (double x : b) pooled.emplace_back(x, false);
  std::sort(pooled.begin(), pooled.end());
  // Average ranks over ties; sum of t^3 - t over tie groups for the variance correction.
  double rank_sum_a = 0, tie_term = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double average_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].second) rank_sum_a += average_rank;
    }
    tie_term += t * t * t - t;
    i = j;
  }
  UTestResult result;
  result.u = rank_sum_a - 0.5 * static_cast<double>(n1 * (n1 + 1));
  const double n1d = static_cast<double>(n1), n2d = static_cast<double>(n2), nd = static_cast<double>(n);

  if (tie_term == 0 && n <= exact_limit) {
    const auto counts = u_counts(n1, n2);
    const auto u = static_cast<std::size_t>(std::llround(result.u));
    double total = 0, lower = 0, upper = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      const auto count = static_cast<double>(counts[k]);
      total += count;
      if (k <= u) lower += count;
      if (k >= u) upper += count;
    }
    result.p = std::min(1.0, 2 * std::min(lower, upper) / total);
    result.exact = true;
    return result;
  }
  const double mean = 0.5 * n1d * n2d;
  const double variance = n1d * n2d / 12 * ((nd + 1) - tie_term / (nd * (nd - 1)));
  if (variance <= 0) return result;  // every value equal: no evidence of a difference, p = 1
  const double z = std::max(0.0, std::abs(result.u - mean) - 0.5) / std::sqrt(variance);
  result.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return result;
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::same: return "same";
    case Verdict::faster: return "faster";
    case Verdict::slower: return "slower";
    case Verdict::noisy: return "noisy";
  }
  return "?";
}

bool CompareReport::regression() const {
  return std::any_of(rows.begin(), rows.end(), [](const auto& row) { return row.verdict == Verdict::slower; });
}

CompareReport compare(const BenchmarkFile& base, const BenchmarkFile& fresh, const CompareOptions& options) {
  if (!(options.threshold_pct >= 0)) raise("--threshold must be a percentage >= 0, not {}", options.threshold_pct);
  if (!(options.alpha > 0 && options.alpha < 1)) raise("--alpha must be between 0 and 1, not {}", options.alpha);
  CompareReport report;
  report.base_path = base.path;
  report.new_path = fresh.path;
  report.options = options;
  const auto selected = name_filter(options);
  for (const auto& item : base.skipped) {
    if (selected(item.name)) report.skipped_base.push_back(item);
  }
  for (const auto& item : fresh.skipped) {
    if (selected(item.name)) report.skipped_new.push_back(item);
  }

  std::map<std::string, const BenchmarkSamples*> new_by_name;
  for (const auto& benchmark : fresh.benchmarks) new_by_name[benchmark.name] = &benchmark;
  std::set<std::string> base_names, skipped_base, skipped_new;
  for (const auto& benchmark : base.benchmarks) base_names.insert(benchmark.name);
  for (const auto& skipped : base.skipped) skipped_base.insert(skipped.name);
  for (const auto& skipped : fresh.skipped) skipped_new.insert(skipped.name);

  const double threshold = options.threshold_pct;
  for (const auto& old : base.benchmarks) {
    if (!selected(old.name)) continue;
    const auto it = new_by_name.find(old.name);
    if (it == new_by_name.end()) {
      // A benchmark that errored in NEW is listed with its error, not as missing.
      if (!skipped_new.count(old.name)) report.only_in_base.push_back(old.name);
      continue;
    }
    const BenchmarkSamples& now = *it->second;
    BenchmarkComparison row;
    row.name = old.name;
    row.base_median_ns = median(old.times_ns);
    row.new_median_ns = median(now.times_ns);
    row.base_count = old.times_ns.size();
    row.new_count = now.times_ns.size();
    // A base of 0 ns (an empty benchmark) has no relative change; any growth counts as infinite.
    row.change_pct = row.base_median_ns > 0  ? 100 * (row.new_median_ns - row.base_median_ns) / row.base_median_ns
                     : row.new_median_ns > 0 ? HUGE_VAL
                                             : 0.0;
    const bool testable = row.base_count >= min_repetitions && row.new_count >= min_repetitions &&
                          smallest_p(row.base_count, row.new_count) < options.alpha;
    if (testable) row.p = mann_whitney(now.times_ns, old.times_ns).p;
    const bool significant = !row.p || *row.p < options.alpha;
    if (row.change_pct > threshold) {
      row.verdict = significant ? Verdict::slower : Verdict::noisy;
    } else if (row.change_pct < -threshold) {
      row.verdict = significant ? Verdict::faster : Verdict::noisy;
    }
    report.rows.push_back(row);
  }
  for (const auto& now : fresh.benchmarks) {
    if (selected(now.name) && !base_names.count(now.name) && !skipped_base.count(now.name)) {
      report.only_in_new.push_back(now.name);
    }
  }
  return report;
}

std::string summary_line(const CompareReport& report) {
  std::map<Verdict, int> counts;
  int threshold_only = 0;
  for (const auto& row : report.rows) {
    ++counts[row.verdict];
    if (!row.p) ++threshold_only;
  }
  std::string line =
      fmt::format("{} benchmark(s) compared: {} slower, {} faster, {} noisy, {} same (threshold {}%, alpha {})",
                  report.rows.size(), counts[Verdict::slower], counts[Verdict::faster], counts[Verdict::noisy],
                  counts[Verdict::same], report.options.threshold_pct, report.options.alpha);
  if (!report.options.filter.empty()) line += fmt::format("; only names matching \"{}\"", report.options.filter);
  if (threshold_only > 0) {
    line += fmt::format("; {} decided by the threshold alone (too few repetitions for the U test)", threshold_only);
  }
  const std::size_t only = report.only_in_base.size() + report.only_in_new.size();
  if (only > 0) line += fmt::format("; {} only in one file", only);
  const std::size_t skipped = report.skipped_base.size() + report.skipped_new.size();
  if (skipped > 0) line += fmt::format("; {} skipped", skipped);
  line += report.regression() ? ". REGRESSION" : ". No regression";
  return line;
}

std::string format_markdown(const CompareReport& report) {
  std::string out = fmt::format("## parbench compare\n\nBASE `{}` vs NEW `{}`\n\n", report.base_path, report.new_path);
  if (!report.rows.empty()) {
    out += "| benchmark | base | new | change | p | verdict |\n|---|---:|---:|---:|---:|---|\n";
    for (const auto& row : report.rows) {
      std::string verdict(verdict_name(row.verdict));
      if (!row.p) verdict += " (too few repetitions for the U test)";
      out += fmt::format("| {} | {} (n={}) | {} (n={}) | {:+.1f}% | {} | {} |\n", escape_cell(row.name),
                         format_time(row.base_median_ns), row.base_count, format_time(row.new_median_ns), row.new_count,
                         row.change_pct, row.p ? format_p(*row.p) : "n/a", verdict);
    }
    out +=
        "\nbase and new are medians of real time over n repetitions; p is a two-sided Mann-Whitney U "
        "test (exact without ties, otherwise the normal approximation).\n";
  }
  const auto list = [&](const char* title, const std::string& path, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += fmt::format("\nOnly in {} `{}`:\n", title, path);
    for (const auto& name : names) out += fmt::format("- {}\n", name);
  };
  list("BASE", report.base_path, report.only_in_base);
  list("NEW", report.new_path, report.only_in_new);
  const auto skipped = [&](const char* title, const std::string& path, const std::vector<SkippedBenchmark>& items) {
    if (items.empty()) return;
    out += fmt::format("\nSkipped in {} `{}`:\n", title, path);
    for (const auto& item : items) out += fmt::format("- {}: {}\n", item.name, item.reason);
  };
  skipped("BASE", report.base_path, report.skipped_base);
  skipped("NEW", report.new_path, report.skipped_new);
  out += "\n" + summary_line(report) + "\n";
  return out;
}

HistoryReport read_history(const std::filesystem::path& folder, const CompareOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    raise("{}: no such folder (--history takes a folder of runs)", folder.string());
  }
  std::vector<std::filesystem::path> children;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.is_directory() || entry.path().extension() == ".json") children.push_back(entry.path());
  }
  std::sort(children.begin(), children.end());
  HistoryReport report;
  report.folder = folder.string();
  std::vector<BenchmarkFile> runs;
  for (const auto& child : children) {
    // A folder without benchmark JSON (an empty or failed run) is not a point of the history.
    if (child.extension() != ".json" && !holds_benchmark_json(child)) continue;
    runs.push_back(read_benchmark_inputs(child));
    report.runs.push_back(child.filename().string());
  }
  if (runs.empty()) raise("{}: no runs with Google Benchmark JSON in this folder", folder.string());
  const auto selected = name_filter(options);
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (const auto& benchmark : runs[r].benchmarks) {
      if (!selected(benchmark.name)) continue;
      const auto [it, added] = index.emplace(benchmark.name, report.rows.size());
      if (added) report.rows.push_back({benchmark.name, std::vector<std::optional<double>>(runs.size()), std::nullopt});
      report.rows[it->second].medians_ns[r] = median(benchmark.times_ns);
    }
  }
  for (auto& row : report.rows) {
    std::optional<double> first, last;
    for (const auto& m : row.medians_ns) {
      if (!m) continue;
      if (!first) first = m;
      last = m;
    }
    if (first && *first > 0) row.change_pct = 100 * (*last - *first) / *first;
  }
  if (runs.size() >= 2) report.latest = compare(runs[runs.size() - 2], runs.back(), options);
  return report;
}

std::string format_history_markdown(const HistoryReport& report, std::size_t max_runs) {
  const std::size_t shown = std::min(max_runs, report.runs.size());
  const std::size_t from = report.runs.size() - shown;
  const std::string limited = shown < report.runs.size() ? fmt::format(", the last {} shown", shown) : "";
  std::string out = fmt::format("## parbench compare --history\n\n`{}`: {} run(s){}\n\n| benchmark |", report.folder,
                                report.runs.size(), limited);
  for (std::size_t r = from; r < report.runs.size(); ++r) out += fmt::format(" {} |", escape_cell(report.runs[r]));
  out += " first -> last |\n|---|";
  for (std::size_t r = from; r < report.runs.size(); ++r) out += "---:|";
  out += "---:|\n";
  for (const auto& row : report.rows) {
    out += fmt::format("| {} |", escape_cell(row.name));
    for (std::size_t r = from; r < report.runs.size(); ++r) {
      out += row.medians_ns[r] ? fmt::format(" {} |", format_time(*row.medians_ns[r])) : std::string(" - |");
    }
    out += row.change_pct ? fmt::format(" {:+.1f}% |\n", *row.change_pct) : std::string(" n/a |\n");
  }
  out += "\nMedians of real time per run; \"-\": the run does not have the benchmark.\n";
  if (report.latest) {
    out += "\n### Last run against the one before\n\n" + format_markdown(*report.latest);
  } else {
    out += "\nOnly one run: nothing to compare it with.\n";
  }
  return out;
}

}  // namespace parbench::results
