// `parbench report` (results/report.h): reading and grouping the harnesses' JSON, the scaling
// metrics, and the JSON / Markdown / CSV outputs; plots are delegated to plot_report.py.
#include "results/report.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/output_file.h"
#include "results/gbench_json.h"
#include "strategies/comm.h"

namespace parbench::results {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Metrics

ScalingMetrics scaling_metrics(bool weak, int workers, std::optional<double> t1_ms, double tn_ms) {
  ScalingMetrics m;
  if (!t1_ms || workers < 1 || tn_ms <= 0) return m;
  const double n = workers;
  m.speedup = weak ? n * *t1_ms / tn_ms : *t1_ms / tn_ms;
  m.efficiency = weak ? *t1_ms / tn_ms : *t1_ms / (n * tn_ms);
  if (workers > 1) m.karp_flatt = (1 / *m.speedup - 1 / n) / (1 - 1 / n);
  return m;
}

double algbw_GBps(double bytes, double seconds) { return bytes / seconds / 1e9; }

double busbw_GBps(std::string_view op, int ranks, double bytes, double seconds) {
  return algbw_GBps(bytes, seconds) * strategies::bus_factor(op, ranks);
}

std::size_t ScalingReport::point_count() const {
  std::size_t n = 0;
  for (const auto& s : series) n += s.points.size();
  return n;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Reading

constexpr std::string_view kNotOurs = "not a strategy or collective benchmark";

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  for (std::size_t end; (end = text.find(separator, begin)) != std::string_view::npos; begin = end + 1) {
    parts.emplace_back(text.substr(begin, end - begin));
  }
  parts.emplace_back(text.substr(begin));
  return parts;
}

// Google Benchmark appends the run's options to the registered name ("/manual_time",
// "/threads:2", ...); they are not axes of ours.
bool is_option_part(std::string_view part) {
  for (const std::string_view prefix : {"iterations:", "repeats:", "threads:", "min_time:", "min_warmup_time:"}) {
    if (part.starts_with(prefix)) return true;
  }
  return part == "manual_time" || part == "real_time" || part == "process_time";
}

// "workers:4" with tag "workers" -> 4.
std::optional<long long> tagged(std::string_view part, std::string_view tag) {
  if (!part.starts_with(tag) || part.size() <= tag.size() + 1 || part[tag.size()] != ':') return std::nullopt;
  const std::string_view digits = part.substr(tag.size() + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoll(std::string(digits));
}

struct StrategyName {
  std::string workload, strategy;
  int workers = 0, batch = 0;
  bool weak = false;
};

struct CollectiveName {
  std::string op, comm;
  int ranks = 0;
  double bytes = 0;
};

std::vector<std::string> axes(std::string_view name) {
  std::vector<std::string> parts = split(name, '/');
  std::erase_if(parts, [](const std::string& p) { return is_option_part(p); });
  return parts;
}

// step/<workload>/<strategy>/workers:<N>/batch:<B> | .../batch_per_worker:<b>
std::optional<StrategyName> parse_strategy_name(std::string_view name) {
  const auto parts = axes(name);
  if (parts.size() != 5 || parts[0] != "step") return std::nullopt;
  const auto workers = tagged(parts[3], "workers");
  const auto global = tagged(parts[4], "batch");
  const auto per_worker = tagged(parts[4], "batch_per_worker");
  if (!workers || *workers < 1 || !(global || per_worker)) return std::nullopt;
  return StrategyName{parts[1], parts[2], static_cast<int>(*workers), static_cast<int>(global ? *global : *per_worker),
                      !global};
}

// <op>/<comm>/ranks:<n>/bytes:<S>
std::optional<CollectiveName> parse_collective_name(std::string_view name) {
  const auto parts = axes(name);
  if (parts.size() != 4) return std::nullopt;
  const auto& op = parts[0];
  if (op != "all_reduce" && op != "reduce_scatter" && op != "all_gather" && op != "broadcast") return std::nullopt;
  const auto ranks = tagged(parts[2], "ranks");
  const auto bytes = tagged(parts[3], "bytes");
  if (!ranks || *ranks < 1 || !bytes) return std::nullopt;
  return CollectiveName{op, parts[1], static_cast<int>(*ranks), static_cast<double>(*bytes)};
}

std::optional<double> seconds_per(std::string_view unit) {
  if (unit == "ns") return 1e-9;
  if (unit == "us") return 1e-6;
  if (unit == "ms") return 1e-3;
  if (unit == "s") return 1.0;
  return std::nullopt;
}

std::string context_string(const json& context, const std::string& key, const std::string& fallback) {
  const auto it = context.find(key);
  return it != context.end() && it->is_string() && !it->get<std::string>().empty() ? it->get<std::string>() : fallback;
}

// Context values holding JSON text (cpu, libraries): the parsed object, or null.
json context_object(const json& context, const std::string& key) {
  const auto it = context.find(key);
  if (it == context.end()) return nullptr;
  if (it->is_object()) return *it;
  if (!it->is_string()) return nullptr;
  const json parsed = json::parse(it->get<std::string>(), nullptr, false);
  return parsed.is_object() ? parsed : json(nullptr);
}

// One benchmark (a name under one precision and backend) pooled over every file.
struct Pooled {
  std::string name, file;            // file: where it was first seen
  std::string precision, backend;    // from the file's context
  std::vector<double> times;         // per repetition, ms (strategies) or us (collectives)
  std::vector<json> entries;         // the entries behind `times`, for the counters
  std::vector<double> median_times;  // median aggregates, used when there are no repetitions
  std::vector<json> median_entries;
  std::size_t aggregate_repetitions = 0;
  std::optional<std::string> error;  // first reason an entry could not be used
};

std::optional<double> number(const json& entry, const std::string& key) {
  const auto it = entry.find(key);
  return it != entry.end() && it->is_number() ? std::optional<double>(it->get<double>()) : std::nullopt;
}

// Median of a counter over the repetitions that have it (null after NaN replacement is skipped).
std::optional<double> counter(const std::vector<json>& entries, const std::string& key) {
  std::vector<double> values;
  for (const auto& e : entries) {
    if (const auto v = number(e, key)) values.push_back(*v);
  }
  return values.empty() ? std::nullopt : std::optional<double>(median_of(values));
}

class Reader {
 public:
  void read(const InputFile& file) {
    const json empty = json::object();
    const auto context_it = file.json.find("context");
    const json& context = context_it != file.json.end() && context_it->is_object() ? *context_it : empty;
    const std::string precision = context_string(context, "precision", "fp32");
    const std::string backend = context_string(context, "backend", "cpu");
    if (!physical_cores_) {
      const json cpu = context_object(context, "cpu");
      if (cpu.is_object() && cpu.contains("physical_cores") && cpu["physical_cores"].is_number_integer() &&
          cpu["physical_cores"].get<int>() > 0) {
        physical_cores_ = cpu["physical_cores"].get<int>();
      }
    }
    for (const auto& entry : file.json["benchmarks"]) read_entry(entry, file.path, precision, backend);
  }

  std::vector<Pooled>& pooled() { return pooled_; }
  std::vector<SkippedEntry>& skipped() { return skipped_; }
  std::optional<int> physical_cores() const { return physical_cores_; }

 private:
  void skip(const std::string& name, const std::string& file, const std::string& reason) {
    if (seen_.insert({name, file, reason}).second) skipped_.push_back({name, file, reason});
  }

  Pooled& pool(const std::string& name, const std::string& file, const std::string& precision,
               const std::string& backend) {
    const auto key = std::make_tuple(name, precision, backend);
    const auto [it, added] = index_.try_emplace(key, pooled_.size());
    if (added) pooled_.push_back(Pooled{.name = name, .file = file, .precision = precision, .backend = backend});
    return pooled_[it->second];
  }

  void read_entry(const json& entry, const std::string& file, const std::string& precision,
                  const std::string& backend) {
    if (!entry.is_object()) return;
    const std::string name = entry.value("run_name", entry.value("name", std::string()));
    if (name.empty()) return skip("(unnamed)", file, "entry without a name");
    if (!parse_strategy_name(name) && !parse_collective_name(name)) return skip(name, file, std::string(kNotOurs));
    Pooled& p = pool(name, file, precision, backend);
    const auto error_note = [&](const std::string& reason) {
      skip(name, file, reason);
      if (!p.error) p.error = reason;
    };
    if (entry.value("error_occurred", false)) {
      const auto message = entry.find("error_message");
      return error_note(message != entry.end() && message->is_string() && !message->get<std::string>().empty()
                            ? message->get<std::string>()
                            : "the benchmark reported an error");
    }
    const bool aggregate = entry.value("run_type", std::string("iteration")) == "aggregate";
    if (aggregate && entry.value("aggregate_name", std::string()) != "median") return;
    const std::string unit = entry.value("time_unit", std::string("ns"));
    const auto unit_seconds = seconds_per(unit);
    if (!unit_seconds) return error_note(fmt::format("unknown time_unit \"{}\"", unit));
    const auto time = number(entry, "real_time");
    if (!time) return error_note("real_time is not a number (NaN or missing)");
    if (*time <= 0) return error_note(fmt::format("real_time is {} (no timed iteration)", *time));
    // Strategy steps in ms, collectives in us: the units of their tables.
    const double scale = *unit_seconds / (parse_strategy_name(name) ? 1e-3 : 1e-6);
    if (aggregate) {
      p.median_times.push_back(*time * scale);
      p.median_entries.push_back(entry);
      p.aggregate_repetitions += static_cast<std::size_t>(std::max(1, entry.value("repetitions", 1)));
    } else {
      p.times.push_back(*time * scale);
      p.entries.push_back(entry);
    }
  }

  std::vector<Pooled> pooled_;
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index_;
  std::vector<SkippedEntry> skipped_;
  std::set<std::tuple<std::string, std::string, std::string>> seen_;
  std::optional<int> physical_cores_;
};

// ---------------------------------------------------------------------------------------------
// Grouping and metrics

StrategyPoint make_point(const Pooled& p, const StrategyName& n, std::optional<int> physical_cores) {
  StrategyPoint point;
  point.workers = n.workers;
  const bool from_aggregates = p.times.empty();
  const std::vector<double>& times = from_aggregates ? p.median_times : p.times;
  const std::vector<json>& entries = from_aggregates ? p.median_entries : p.entries;
  if (times.empty()) {
    point.error = p.error.value_or("no usable repetition");
    return point;
  }
  point.repetitions = from_aggregates ? p.aggregate_repetitions : times.size();
  const double median = median_of(times);
  point.step_ms =
      Spread{median, *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end())};
  const double global_batch = n.weak ? static_cast<double>(n.batch) * n.workers : n.batch;
  point.samples_per_s = counter(entries, "samples_per_s");
  if (!point.samples_per_s) point.samples_per_s = global_batch / (median * 1e-3);
  point.compute_ms = counter(entries, "compute_ms");
  point.comm_ms = counter(entries, "comm_ms");
  point.exposed_comm_ms = counter(entries, "exposed_comm_ms");
  point.optimizer_ms = counter(entries, "optimizer_ms");
  point.data_wait_ms = counter(entries, "data_wait_ms");
  if (point.comm_ms) point.comm_pct = 100 * *point.comm_ms / median;
  if (point.exposed_comm_ms) point.exposed_comm_pct = 100 * *point.exposed_comm_ms / median;
  point.memory_MB = counter(entries, "memory_per_worker_MB");
  point.model_state_MB = counter(entries, "model_state_MB");
  point.predicted_model_state_MB = counter(entries, "predicted_model_state_MB");
  point.activations_MB = counter(entries, "activations_MB");
  point.comm_buffers_MB = counter(entries, "comm_buffers_MB");
  point.rss_peak_MB = counter(entries, "rss_peak_MB");
  point.bytes_per_step = counter(entries, "bytes_per_step");
  point.busbw_GBps = counter(entries, "busbw_GBps");
  point.gflops = counter(entries, "gflops");
  point.pct_peak = counter(entries, "pct_peak");
  // The harness knows the compute threads of multi-process runs; without its counter, workers
  // (threads for serial) against the physical cores is the same test for one process.
  if (const auto over = counter(entries, "oversubscribed")) {
    point.oversubscribed = *over > 0.5;
  } else {
    point.oversubscribed = physical_cores && n.workers > *physical_cores;
  }
  return point;
}

std::vector<StrategySeries> group_strategies(const std::vector<Pooled>& pooled, std::optional<int> physical_cores) {
  std::vector<StrategySeries> series;
  for (const auto& p : pooled) {
    const auto n = parse_strategy_name(p.name);
    if (!n) continue;
    const std::string mode = n->weak ? "weak" : "strong";
    auto it = std::find_if(series.begin(), series.end(), [&](const StrategySeries& s) {
      return s.workload == n->workload && s.strategy == n->strategy && s.precision == p.precision && s.mode == mode &&
             s.batch == n->batch && s.backend == p.backend;
    });
    if (it == series.end()) {
      series.push_back({n->workload, n->strategy, p.precision, mode, p.backend, n->batch, {}});
      it = std::prev(series.end());
    }
    it->points.push_back(make_point(p, *n, physical_cores));
  }
  // Workloads together, serial (the baseline) first in each, then the order of the input.
  std::vector<std::string> workloads;
  for (const auto& s : series) {
    if (std::find(workloads.begin(), workloads.end(), s.workload) == workloads.end()) workloads.push_back(s.workload);
  }
  std::stable_sort(series.begin(), series.end(), [&](const StrategySeries& a, const StrategySeries& b) {
    const auto rank = [&](const StrategySeries& s) {
      return std::make_pair(std::find(workloads.begin(), workloads.end(), s.workload) - workloads.begin(),
                            s.strategy == "serial" ? 0 : 1);
    };
    return rank(a) < rank(b);
  });
  for (auto& s : series) {
    std::sort(s.points.begin(), s.points.end(), [](const auto& a, const auto& b) { return a.workers < b.workers; });
  }
  return series;
}

std::optional<double> step_at_one(const StrategySeries& s) {
  for (const auto& p : s.points) {
    if (p.workers == 1 && p.step_ms) return p.step_ms->median;
  }
  return std::nullopt;
}

bool same_setting(const StrategySeries& a, const StrategySeries& b) {
  return a.workload == b.workload && a.precision == b.precision && a.mode == b.mode && a.batch == b.batch &&
         a.backend == b.backend;
}

void add_scaling(std::vector<StrategySeries>& series) {
  for (auto& s : series) {
    const auto t1 = step_at_one(s);
    std::optional<double> serial_t1;
    for (const auto& other : series) {
      if (other.strategy == "serial" && same_setting(s, other)) serial_t1 = step_at_one(other);
    }
    for (auto& p : s.points) {
      if (!p.step_ms) continue;
      const ScalingMetrics m = scaling_metrics(s.weak(), p.workers, t1, p.step_ms->median);
      p.speedup = m.speedup;
      p.efficiency = m.efficiency;
      p.karp_flatt = m.karp_flatt;
      if (serial_t1) p.speedup_vs_serial = scaling_metrics(s.weak(), p.workers, serial_t1, p.step_ms->median).speedup;
    }
  }
}

std::vector<BestChoice> best_choices(const std::vector<StrategySeries>& series) {
  std::vector<BestChoice> best;
  std::vector<const StrategySeries*> settings;  // one representative per setting, in order
  for (const auto& s : series) {
    if (std::none_of(settings.begin(), settings.end(), [&](const auto* o) { return same_setting(s, *o); })) {
      settings.push_back(&s);
    }
  }
  for (const auto* setting : settings) {
    struct Candidate {
      double samples_per_s;
      std::string strategy;
      const StrategyPoint* point;
    };
    std::map<int, std::vector<Candidate>> by_workers;
    for (const auto& s : series) {
      if (!same_setting(s, *setting)) continue;
      for (const auto& p : s.points) {
        if (p.samples_per_s) by_workers[p.workers].push_back({*p.samples_per_s, s.strategy, &p});
      }
    }
    for (auto& [workers, list] : by_workers) {
      std::stable_sort(list.begin(), list.end(),
                       [](const auto& a, const auto& b) { return a.samples_per_s > b.samples_per_s; });
      BestChoice c{setting->workload, setting->precision, setting->mode,         setting->backend, setting->batch,
                   workers,           list[0].strategy,   list[0].samples_per_s, std::nullopt,     std::nullopt};
      if (list.size() > 1) {
        c.runner_up = list[1].strategy;
        c.runner_up_samples_per_s = list[1].samples_per_s;
        const auto& best_ms = list[0].point->step_ms;
        const auto& next_ms = list[1].point->step_ms;
        c.within_spread = best_ms && next_ms && next_ms->min <= best_ms->max;
      }
      best.push_back(std::move(c));
    }
  }
  return best;
}

std::vector<CollectiveSeries> group_collectives(const std::vector<Pooled>& pooled) {
  std::vector<CollectiveSeries> series;
  for (const auto& p : pooled) {
    const auto n = parse_collective_name(p.name);
    if (!n) continue;
    const bool from_aggregates = p.times.empty();
    const std::vector<double>& times = from_aggregates ? p.median_times : p.times;
    const std::vector<json>& entries = from_aggregates ? p.median_entries : p.entries;
    if (times.empty()) continue;  // errored: listed under skipped
    auto it = std::find_if(series.begin(), series.end(),
                           [&](const auto& s) { return s.op == n->op && s.comm == n->comm && s.ranks == n->ranks; });
    if (it == series.end()) {
      series.push_back({n->op, n->comm, n->ranks, {}});
      it = std::prev(series.end());
    }
    CollectivePoint point;
    point.time_us = median_of(times);
    point.bytes = counter(entries, "bytes").value_or(n->bytes);
    point.algbw_GBps = counter(entries, "algbw_GBps");
    point.busbw_GBps = counter(entries, "busbw_GBps");
    if (!point.algbw_GBps) point.algbw_GBps = algbw_GBps(point.bytes, point.time_us * 1e-6);
    if (!point.busbw_GBps) point.busbw_GBps = busbw_GBps(n->op, n->ranks, point.bytes, point.time_us * 1e-6);
    it->points.push_back(point);
  }
  for (auto& s : series) {
    std::sort(s.points.begin(), s.points.end(), [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
  }
  std::sort(series.begin(), series.end(), [](const auto& a, const auto& b) {
    return std::tie(a.op, a.ranks, a.comm) < std::tie(b.op, b.ranks, b.comm);
  });
  return series;
}

void merge_contexts(const std::vector<InputFile>& files, ScalingReport& report) {
  std::vector<json> contexts;
  for (const auto& f : files) {
    const auto it = f.json.find("context");
    contexts.push_back(it != f.json.end() && it->is_object() ? *it : json::object());
  }
  if (contexts.empty()) return;
  for (const auto& item : contexts[0].items()) {
    // Named references, not a structured binding: clang before 16 (clang-tidy-14) cannot capture those.
    const std::string& key = item.key();
    const json& value = item.value();
    const auto same = [&](const json& c) { return c.contains(key) && c[key] == value; };
    if (std::all_of(contexts.begin(), contexts.end(), same)) {
      report.context[key] = value;
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    json differing = json::object();
    for (const auto& [key, value] : contexts[i].items()) {
      if (!report.context.contains(key)) differing[key] = value;
    }
    if (!differing.empty()) report.contexts[files[i].path] = differing;
  }
}

}  // namespace

ScalingReport build_report(const std::vector<InputFile>& files) {
  Reader reader;
  for (const auto& f : files) reader.read(f);
  ScalingReport report;
  for (const auto& f : files) report.inputs.push_back(f.path);
  merge_contexts(files, report);
  report.physical_cores = reader.physical_cores();
  report.series = group_strategies(reader.pooled(), report.physical_cores);
  add_scaling(report.series);
  report.best = best_choices(report.series);
  report.collectives = group_collectives(reader.pooled());
  report.skipped = std::move(reader.skipped());
  return report;
}

ScalingReport read_report_inputs(const std::vector<fs::path>& inputs) {
  std::vector<InputFile> files;
  for (const auto& path : gbench_files(inputs)) files.push_back({path.string(), read_gbench_json(path)});
  return build_report(files);
}

// ---------------------------------------------------------------------------------------------
// JSON and CSV

namespace {

// Output documents keep their fields in the order written here: the CSV columns follow it.
using ojson = nlohmann::ordered_json;

ojson opt(const std::optional<double>& v) { return v ? ojson(*v) : ojson(nullptr); }
ojson opt(const std::optional<std::string>& v) { return v ? ojson(*v) : ojson(nullptr); }

ojson point_json(const StrategyPoint& p) {
  return {
      {"workers", p.workers},
      {"repetitions", p.repetitions},
      {"step_ms", p.step_ms ? ojson{{"median", p.step_ms->median}, {"min", p.step_ms->min}, {"max", p.step_ms->max}}
                            : ojson{{"median", nullptr}, {"min", nullptr}, {"max", nullptr}}},
      {"samples_per_s", opt(p.samples_per_s)},
      {"speedup", opt(p.speedup)},
      {"efficiency", opt(p.efficiency)},
      {"karp_flatt", opt(p.karp_flatt)},
      {"speedup_vs_serial", opt(p.speedup_vs_serial)},
      {"comm_pct", opt(p.comm_pct)},
      {"exposed_comm_pct", opt(p.exposed_comm_pct)},
      {"breakdown_ms",
       {{"compute", opt(p.compute_ms)},
        {"communication", opt(p.comm_ms)},
        {"exposed_communication", opt(p.exposed_comm_ms)},
        {"optimizer", opt(p.optimizer_ms)},
        {"data_wait", opt(p.data_wait_ms)}}},
      {"memory_per_worker_MB",
       {{"measured", opt(p.memory_MB)},
        {"model_state", opt(p.model_state_MB)},
        {"predicted_model_state", opt(p.predicted_model_state_MB)},
        {"activations", opt(p.activations_MB)},
        {"comm_buffers", opt(p.comm_buffers_MB)},
        {"rss_peak", opt(p.rss_peak_MB)}}},
      {"bytes_per_step", opt(p.bytes_per_step)},
      {"busbw_GBps", opt(p.busbw_GBps)},
      {"gflops", opt(p.gflops)},
      {"pct_peak", opt(p.pct_peak)},
      {"oversubscribed", p.oversubscribed},
      {"error", opt(p.error)},
  };
}

std::string oversubscribed_note(const ScalingReport& report) {
  const std::string cores = report.physical_cores ? std::to_string(*report.physical_cores) : "?";
  return fmt::format(
      "Points marked oversubscribed run more compute threads than the {} physical cores (workers > {}): their "
      "threads share cores, so their times measure contention, not scaling.",
      cores, cores);
}

// Flattens nested objects into prefix_key columns (every field of a point, in the JSON's order).
// Recurses as deep as the point's JSON nests (two or three levels).
// NOLINTNEXTLINE(misc-no-recursion)
void flatten(const ojson& value, const std::string& prefix, std::vector<std::pair<std::string, ojson>>& out) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      flatten(item, prefix.empty() ? key : fmt::format("{}_{}", prefix, key), out);
    }
  } else {
    out.emplace_back(prefix, value);
  }
}

std::string csv_cell(const ojson& value) {
  if (value.is_null()) return "";
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv(const std::vector<std::vector<std::pair<std::string, ojson>>>& rows,
                const std::vector<std::string>& empty_header) {
  std::string out;
  std::vector<std::string> header = empty_header;
  if (!rows.empty()) {
    header.clear();
    for (const auto& [key, _] : rows[0]) header.push_back(key);
  }
  out += fmt::format("{}\n", fmt::join(header, ","));
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    cells.reserve(row.size());
    for (const auto& [_, value] : row) cells.push_back(csv_cell(value));
    out += fmt::format("{}\n", fmt::join(cells, ","));
  }
  return out;
}

}  // namespace

nlohmann::ordered_json to_json(const ScalingReport& report, const std::string& generated_utc) {
  ojson out = {{"schema", "parbench.scaling/1"},
               {"generated_utc", generated_utc},
               {"inputs", report.inputs},
               {"context", report.context},
               {"contexts", report.contexts},
               {"physical_cores", report.physical_cores ? ojson(*report.physical_cores) : ojson(nullptr)},
               {"oversubscribed_note", oversubscribed_note(report)},
               {"series", ojson::array()},
               {"best", ojson::array()},
               {"collectives", ojson::array()},
               {"skipped", ojson::array()}};
  for (const auto& s : report.series) {
    ojson points = ojson::array();
    for (const auto& p : s.points) points.push_back(point_json(p));
    out["series"].push_back({{"workload", s.workload},
                             {"strategy", s.strategy},
                             {"precision", s.precision},
                             {"mode", s.mode},
                             {"batch", s.batch},
                             {"backend", s.backend},
                             {"points", points}});
  }
  for (const auto& b : report.best) {
    out["best"].push_back({{"workload", b.workload},
                           {"precision", b.precision},
                           {"mode", b.mode},
                           {"batch", b.batch},
                           {"backend", b.backend},
                           {"workers", b.workers},
                           {"strategy", b.strategy},
                           {"samples_per_s", b.samples_per_s},
                           {"runner_up", opt(b.runner_up)},
                           {"runner_up_samples_per_s", opt(b.runner_up_samples_per_s)},
                           {"within_spread", b.within_spread}});
  }
  for (const auto& c : report.collectives) {
    ojson points = ojson::array();
    for (const auto& p : c.points) {
      points.push_back({{"bytes", p.bytes},
                        {"time_us", p.time_us},
                        {"algbw_GBps", opt(p.algbw_GBps)},
                        {"busbw_GBps", opt(p.busbw_GBps)}});
    }
    out["collectives"].push_back({{"op", c.op}, {"comm", c.comm}, {"ranks", c.ranks}, {"points", points}});
  }
  for (const auto& s : report.skipped) {
    out["skipped"].push_back({{"name", s.name}, {"file", s.file}, {"reason", s.reason}});
  }
  return out;
}

std::string format_scaling_csv(const ScalingReport& report) {
  std::vector<std::vector<std::pair<std::string, ojson>>> rows;
  for (const auto& s : report.series) {
    for (const auto& p : s.points) {
      std::vector<std::pair<std::string, ojson>> row = {{"workload", s.workload},   {"strategy", s.strategy},
                                                        {"precision", s.precision}, {"mode", s.mode},
                                                        {"batch", s.batch},         {"backend", s.backend}};
      flatten(point_json(p), "", row);
      rows.push_back(std::move(row));
    }
  }
  std::vector<std::pair<std::string, ojson>> header_row = {{"workload", ""}, {"strategy", ""}, {"precision", ""},
                                                           {"mode", ""},     {"batch", ""},    {"backend", ""}};
  flatten(point_json(StrategyPoint{}), "", header_row);
  std::vector<std::string> header;
  header.reserve(header_row.size());
  for (const auto& [key, _] : header_row) header.push_back(key);
  return csv(rows, header);
}

std::string format_collectives_csv(const ScalingReport& report) {
  std::vector<std::vector<std::pair<std::string, ojson>>> rows;
  for (const auto& c : report.collectives) {
    for (const auto& p : c.points) {
      rows.push_back({{"op", c.op},
                      {"comm", c.comm},
                      {"ranks", c.ranks},
                      {"bytes", p.bytes},
                      {"time_us", p.time_us},
                      {"algbw_GBps", opt(p.algbw_GBps)},
                      {"busbw_GBps", opt(p.busbw_GBps)}});
    }
  }
  return csv(rows, {"op", "comm", "ranks", "bytes", "time_us", "algbw_GBps", "busbw_GBps"});
}

// ---------------------------------------------------------------------------------------------
// Markdown

namespace {

// 3 significant digits without exponents for the magnitudes of step times and rates.
std::string num(double v) {
  const double a = std::abs(v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

std::string num(const std::optional<double>& v) { return v ? num(*v) : "n/a"; }

std::string human_bytes(double bytes) {
  for (const auto& [unit, size] : {std::pair{"GiB", 1 << 30}, std::pair{"MiB", 1 << 20}, std::pair{"KiB", 1 << 10}}) {
    if (bytes >= size) {
      const double v = bytes / size;
      return v == std::floor(v) ? fmt::format("{:.0f} {}", v, unit) : fmt::format("{:.3g} {}", v, unit);
    }
  }
  return fmt::format("{:.0f} B", bytes);
}

// A context value: the common one, else the first file's (flagged as differing), else null.
std::pair<json, bool> context_entry(const ScalingReport& report, const std::string& key) {
  if (report.context.contains(key)) return {report.context[key], false};
  for (const auto& input : report.inputs) {
    if (report.contexts.contains(input) && report.contexts[input].contains(key)) {
      return {report.contexts[input][key], true};
    }
  }
  return {nullptr, false};
}

std::string context_value(const ScalingReport& report, const std::string& key) {
  const auto [value, differs] = context_entry(report, key);
  if (value.is_null()) return "n/a";
  return (value.is_string() ? value.get<std::string>() : value.dump()) + (differs ? " (differs between files)" : "");
}

// A context value holding JSON text (cpu, libraries), parsed; null when absent or not an object.
json context_json(const ScalingReport& report, const std::string& key) {
  return context_object(json{{key, context_entry(report, key).first}}, key);
}

std::string row_text(const std::string& strategy, const StrategyPoint& p) {
  if (!p.step_ms) {
    return fmt::format("| {} | {} | skipped: {} | | | | | | | | | | |", strategy, p.workers, p.error.value_or("?"));
  }
  const std::string memory =
      num(p.memory_MB) + (p.model_state_MB || p.predicted_model_state_MB
                              ? fmt::format(" ({}/{})", num(p.model_state_MB), num(p.predicted_model_state_MB))
                              : "");
  return fmt::format("| {} | {} | {} [{}-{}] | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |", strategy, p.workers,
                     num(p.step_ms->median), num(p.step_ms->min), num(p.step_ms->max), num(p.samples_per_s),
                     p.pct_peak && *p.pct_peak > 0 ? fmt::format("{:.0f}%", *p.pct_peak) : "n/a", num(p.speedup),
                     p.efficiency ? fmt::format("{:.0f}%", 100 * *p.efficiency) : "n/a",
                     p.karp_flatt ? fmt::format("{:.3f}", *p.karp_flatt) : "n/a", num(p.speedup_vs_serial),
                     p.comm_pct ? fmt::format("{:.1f}", *p.comm_pct) : "n/a",
                     p.exposed_comm_pct ? fmt::format("{:.1f}", *p.exposed_comm_pct) : "n/a", memory,
                     p.oversubscribed ? "yes" : "no");
}

void workload_section(const ScalingReport& report, const std::string& workload, std::string& md) {
  md += fmt::format("## {}\n\n", workload);
  std::vector<const StrategySeries*> settings;
  for (const auto& s : report.series) {
    if (s.workload != workload) continue;
    if (std::none_of(settings.begin(), settings.end(), [&](const auto* o) { return same_setting(s, *o); })) {
      settings.push_back(&s);
    }
  }
  for (const auto* setting : settings) {
    md += fmt::format("### {} scaling, {} {} ({}, {})\n\n", setting->mode,
                      setting->weak() ? "batch per worker" : "global batch", setting->batch, setting->precision,
                      setting->backend);
    md +=
        "| strategy | workers | step ms (median [min-max]) | samples/s | % peak | speedup | efficiency | "
        "Karp-Flatt | vs serial 1T | comm % | exposed % | memory/worker MB (model state meas./pred.) | oversub. |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    std::vector<std::string> without_one, notes;
    bool serial = false;
    for (const auto& s : report.series) {
      if (!same_setting(s, *setting)) continue;
      for (const auto& p : s.points) md += row_text(s.strategy, p) + "\n";
      if (!step_at_one(s)) without_one.push_back(s.strategy);
      serial = serial || s.strategy == "serial";
    }
    md += "\n";
    if (!without_one.empty()) {
      notes.push_back(
          fmt::format("{}: no 1-worker run, so no speedup, efficiency or Karp-Flatt.", fmt::join(without_one, ", ")));
    }
    if (serial) notes.push_back("serial at N workers = one replica with N intra-op threads.");
    if (!serial) notes.push_back("vs serial 1T: n/a, no serial run with 1 thread in this setting.");
    notes.push_back(setting->weak() ? "Weak scaling: efficiency = T(1)/T(N), speedup = N T(1)/T(N) (scaled speedup)."
                                    : "Strong scaling: speedup = T(1)/T(N), efficiency = T(1)/(N T(N)).");
    for (const auto& note : notes) md += fmt::format("- {}\n", note);
    md += "\n";

    md +=
        "Best strategy per worker count:\n\n| workers | best | samples/s | runner-up | margin % |\n"
        "|---:|---|---:|---|---:|\n";
    bool overlap = false;
    for (const auto& b : report.best) {
      if (b.workload != setting->workload || b.precision != setting->precision || b.mode != setting->mode ||
          b.batch != setting->batch || b.backend != setting->backend) {
        continue;
      }
      md += fmt::format(
          "| {} | {} | {} | {} | {} |\n", b.workers, b.strategy, num(b.samples_per_s), b.runner_up.value_or("—"),
          b.runner_up_samples_per_s ? fmt::format("{:.1f}{}", 100 * (b.samples_per_s / *b.runner_up_samples_per_s - 1),
                                                  b.within_spread ? " (ranges overlap)" : "")
                                    : "—");
      overlap |= b.within_spread;
    }
    if (overlap) {
      md +=
          "\n(ranges overlap): the min-max step times over the repetitions of best and runner-up overlap, so "
          "their order is within the noise of this run.\n";
    }
    md += "\n";
  }
}

void collectives_section(const ScalingReport& report, std::string& md) {
  md +=
      "## Collectives\n\nBus bandwidth in GB/s (nccl-tests definitions: busbw = algbw x 2(n-1)/n for all_reduce, "
      "(n-1)/n for reduce_scatter and all_gather, 1 for broadcast), message sizes from 1 KiB; mpi_raw is a bare "
      "MPI_Allreduce for reference.\n\n";
  std::vector<std::string> ops;
  for (const auto& c : report.collectives) {
    if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) ops.push_back(c.op);
  }
  for (const auto& op : ops) {
    std::vector<const CollectiveSeries*> columns;
    std::set<double> sizes;
    for (const auto& c : report.collectives) {
      if (c.op != op) continue;
      columns.push_back(&c);
      for (const auto& p : c.points) {
        if (p.bytes >= 1024) sizes.insert(p.bytes);
      }
    }
    md += fmt::format("### {}\n\n| size |", op);
    for (const auto* c : columns) md += fmt::format(" {} n={} |", c->comm, c->ranks);
    md += "\n|---:|";
    for (std::size_t i = 0; i < columns.size(); ++i) md += "---:|";
    md += "\n";
    for (const double size : sizes) {
      md += fmt::format("| {} |", human_bytes(size));
      for (const auto* c : columns) {
        const auto p = std::find_if(c->points.begin(), c->points.end(), [&](const auto& x) { return x.bytes == size; });
        md += fmt::format(" {} |", p != c->points.end() ? num(p->busbw_GBps) : "—");
      }
      md += "\n";
    }
    if (sizes.empty()) md += "| (no size of 1 KiB or more) |\n";
    md += "\n";
  }
}

}  // namespace

std::string format_markdown(const ScalingReport& report, const std::vector<std::string>& plots,
                            const std::string& plots_note) {
  std::string md = "# parbench scaling report\n\n## Run context\n\n";
  const json cpu = context_json(report, "cpu");
  const json libraries = context_json(report, "libraries");
  const auto field = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key)
               ? (object[key].is_string() ? object[key].get<std::string>() : object[key].dump())
               : std::string("n/a");
  };
  std::string host = context_value(report, "host");
  if (host == "n/a") host = context_value(report, "host_name");
  std::string date = context_value(report, "date_utc");
  if (date == "n/a") date = context_value(report, "date");
  md += fmt::format("- host: {}\n- CPU: {}, {} physical cores\n- commit: {}\n- date: {}\n- build type: {}\n", host,
                    field(cpu, "model"), report.physical_cores ? std::to_string(*report.physical_cores) : "n/a",
                    context_value(report, "git_commit"), date, context_value(report, "build_type"));
  md += fmt::format("- MPI: {}\n- BLAS: {}\n- inputs: {}\n\n", field(libraries, "mpi"), context_value(report, "blas"),
                    fmt::join(report.inputs, ", "));
  std::size_t oversubscribed = 0;
  for (const auto& s : report.series) {
    for (const auto& p : s.points) oversubscribed += p.oversubscribed ? 1 : 0;
  }
  md += fmt::format("{} {} of {} points are oversubscribed (\"yes\" in the oversub. column).\n\n",
                    oversubscribed_note(report), oversubscribed, report.point_count());

  std::vector<std::string> workloads;
  for (const auto& s : report.series) {
    if (std::find(workloads.begin(), workloads.end(), s.workload) == workloads.end()) workloads.push_back(s.workload);
  }
  for (const auto& w : workloads) workload_section(report, w, md);
  if (!report.collectives.empty()) collectives_section(report, md);

  md += "## Skipped\n\n";
  if (report.skipped.empty()) md += "Nothing was skipped.\n";
  for (const auto& s : report.skipped) md += fmt::format("- `{}` ({}): {}\n", s.name, s.file, s.reason);
  md += "\n## Plots\n\n";
  if (!plots_note.empty()) md += plots_note + "\n";
  for (const auto& plot : plots) md += fmt::format("![{}]({})\n\n", fs::path(plot).stem().string(), plot);
  return md;
}

std::vector<std::string> plot_files(const ScalingReport& report) {
  std::vector<std::string> files, workloads;
  for (const auto& s : report.series) {
    if (std::find(workloads.begin(), workloads.end(), s.workload) == workloads.end()) workloads.push_back(s.workload);
  }
  for (const auto& w : workloads) {
    for (const char* kind : {"speedup", "efficiency", "breakdown", "memory"}) {
      files.push_back(fmt::format("plots/{}_{}.png", kind, w));
    }
  }
  if (!report.collectives.empty()) files.push_back("plots/busbw.png");
  return files;
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

// Runs a program without a shell (paths need no quoting); returns its exit status.
int run_program(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (quiet) {
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
    }
    interrupt::restore_signals_in_child();
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The first Python with matplotlib: $PARBENCH_PYTHON, else python3 on PATH, else Debian's own
// (a pyenv or venv python3 on PATH does not see python3-matplotlib).
std::optional<std::string> python_with_matplotlib() {
  std::vector<std::string> candidates;
  if (const char* python = std::getenv("PARBENCH_PYTHON"); python && *python) candidates.emplace_back(python);
  candidates.emplace_back("python3");
  candidates.emplace_back("/usr/bin/python3");
  for (const auto& python : candidates) {
    if (run_program({python, "-c", "import matplotlib"}, true) == 0) return python;
  }
  return std::nullopt;
}

fs::path plot_script() {
  if (const char* env = std::getenv("PARBENCH_PLOT_SCRIPT"); env && *env) return env;
#ifdef PARBENCH_PLOT_SCRIPT
  if (std::error_code ec; fs::is_regular_file(PARBENCH_PLOT_SCRIPT, ec)) return PARBENCH_PLOT_SCRIPT;
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return exe.parent_path() / ".." / "share" / "parbench" / "plot_report.py";
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now));
}

void write_text(const OutputFile& file, const std::string& text) {
  write_whole_file(file.temporary(), text, file.destination());
}

}  // namespace

std::vector<fs::path> write_report(const ScalingReport& report, const ReportOptions& options) {
  const fs::path& out = options.out;
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) raise("--out {}: exists and is not a folder", out.string());
  const std::vector<std::string> names = {"scaling.json", "report.md", "scaling.csv", "collectives.csv"};
  const std::vector<std::string> plots = options.plots ? plot_files(report) : std::vector<std::string>{};
  if (!options.force) {
    std::vector<std::string> existing;
    for (const auto& name : names) {
      if (fs::exists(out / name, ec)) existing.push_back((out / name).string());
    }
    for (const auto& plot : plots) {
      if (fs::exists(out / plot, ec)) existing.push_back((out / plot).string());
    }
    if (!existing.empty()) {
      raise("{} exist{} already; refusing to overwrite (pass --force to replace)", fmt::join(existing, ", "),
            existing.size() == 1 ? "s" : "");
    }
  }
  fs::create_directories(out, ec);
  if (ec) raise("cannot create the folder {}: {}", out.string(), ec.message());

  std::optional<std::string> python;
  fs::path script;
  std::string plots_note;
  if (options.plots) {
    script = plot_script();
    python = python_with_matplotlib();
    if (!fs::is_regular_file(script, ec)) {
      plots_note = fmt::format("Plots were not rendered: the plot script {} is missing.", script.string());
    } else if (!python) {
      plots_note =
          "Plots were not rendered: python3 with matplotlib is missing (Debian: apt-get install "
          "python3-matplotlib).";
    }
  } else {
    plots_note = "Plots were not rendered (--no-plots).";
  }
  const bool render = options.plots && plots_note.empty();

  std::vector<fs::path> written;
  const std::vector<std::string> texts = {
      to_json(report, utc_now()).dump(2) + "\n",
      format_markdown(report, render ? plots : std::vector<std::string>{}, plots_note),
      format_scaling_csv(report),
      format_collectives_csv(report),
  };
  // Every table is complete under its temporary name before any is renamed: a failed write leaves
  // the previous report (or none), never a mix.
  std::vector<std::unique_ptr<OutputFile>> files;
  for (std::size_t i = 0; i < names.size(); ++i) {
    files.push_back(std::make_unique<OutputFile>(out / names[i], options.force));
    write_text(*files.back(), texts[i]);
  }
  OutputFile::commit_together(files);
  written.reserve(names.size());
  for (const auto& name : names) written.push_back(out / name);
  if (!options.plots) return written;
  if (!render) raise("{} (tables written to {})", plots_note, out.string());
  const int status =
      run_program({*python, script.string(), (out / "scaling.json").string(), (out / "plots").string()}, false);
  interrupt::throw_if_interrupted();  // the script got the terminal's Ctrl-C too
  if (status != 0) {
    raise("the plot script {} failed with exit status {} (tables written to {})", script.string(), status,
          out.string());
  }
  for (const auto& plot : plots) written.push_back(out / plot);
  return written;
}

std::string summary(const ScalingReport& report) {
  std::string text = fmt::format("read {} file(s): {} strategy series ({} points), {} collective series, {} skipped",
                                 report.inputs.size(), report.series.size(), report.point_count(),
                                 report.collectives.size(), report.skipped.size());
  std::vector<std::string> reasons;
  for (const auto& s : report.skipped) {
    if (reasons.size() == 3) break;
    if (std::find(reasons.begin(), reasons.end(), s.reason) == reasons.end()) reasons.push_back(s.reason);
  }
  if (!reasons.empty()) text += fmt::format(" (e.g. {})", fmt::join(reasons, "; "));
  return text + "\n";
}

}  // namespace parbench::results
