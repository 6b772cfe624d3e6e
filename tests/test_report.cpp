// `parbench report`: the scaling formulas and bus bandwidths on numbers whose answer is known,
// grouping of Google Benchmark JSON as the harnesses write it (repetitions, aggregates, pooling
// across files, errored runs, bare NaN, foreign benchmarks) and the files the command writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "results/gbench_json.h"
#include "results/report.h"
#include "test_util.h"

namespace {

using namespace parbench;
using nlohmann::json;
using parbench::test::CommandResult;
using parbench::test::error_of;
using parbench::test::run_parbench;
using parbench::test::TempDir;
using results::build_report;
using results::ScalingReport;
using results::StrategyPoint;
using results::StrategySeries;

// One iteration entry as Google Benchmark 1.7.1 writes it; `counters` are merged in at the top level.
json iteration(const std::string& name, double real_time, const std::string& unit = "ms",
               json counters = json::object()) {
  json e = {{"name", name},           {"run_name", name},      {"run_type", "iteration"},
            {"repetitions", 1},       {"repetition_index", 0}, {"iterations", 10},
            {"real_time", real_time}, {"cpu_time", real_time}, {"time_unit", unit}};
  for (const auto& [key, value] : counters.items()) e[key] = value;
  return e;
}

json file_json(std::vector<json> entries, json context = json::object()) {
  return {{"context", context}, {"benchmarks", entries}};
}

const json kCpuContext = {{"host", "node7"}, {"cpu", R"({"model":"Test CPU","physical_cores":4})"}};

const StrategySeries& find_series(const ScalingReport& r, const std::string& strategy,
                                  const std::string& mode = "strong") {
  for (const auto& s : r.series) {
    if (s.strategy == strategy && s.mode == mode) return s;
  }
  throw std::runtime_error("no series " + strategy);
}

const StrategyPoint& at(const StrategySeries& s, int workers) {
  for (const auto& p : s.points) {
    if (p.workers == workers) return p;
  }
  throw std::runtime_error("no point at " + std::to_string(workers));
}

std::string read(const std::filesystem::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

// serial T(1) = 200; thread_pool T(1) = 100, T(2) = 60 (reps 58, 60, 70), T(4) = 40; global batch 64.
std::vector<json> strong_entries() {
  const json counters = {{"comm_ms", 6.0},
                         {"exposed_comm_ms", 3.0},
                         {"memory_per_worker_MB", 12.5},
                         {"model_state_MB", 4.25},
                         {"predicted_model_state_MB", 4.0},
                         {"oversubscribed", 0},
                         {"gflops", 123.0},
                         {"pct_peak", 61.0}};
  const std::string tp = "step/violence/thread_pool/workers:{}/batch:64/manual_time";
  return {iteration("step/violence/serial/workers:1/batch:64/manual_time", 200),
          iteration(fmt::format(fmt::runtime(tp), 1), 90),
          iteration(fmt::format(fmt::runtime(tp), 1), 100),
          iteration(fmt::format(fmt::runtime(tp), 1), 110),
          iteration(fmt::format(fmt::runtime(tp), 2), 70, "ms", counters),
          iteration(fmt::format(fmt::runtime(tp), 2), 58, "ms", counters),
          iteration(fmt::format(fmt::runtime(tp), 2), 60, "ms", counters),
          iteration(fmt::format(fmt::runtime(tp), 4), 40000, "us")};
}

// ---------------------------------------------------------------------------------------------
// Formulas

TEST(ReportMetrics, StrongScaling) {
  const auto two = results::scaling_metrics(false, 2, 100.0, 60);
  EXPECT_NEAR(*two.speedup, 100.0 / 60, 1e-12);
  EXPECT_NEAR(*two.efficiency, 100.0 / 120, 1e-12);
  EXPECT_NEAR(*two.karp_flatt, 0.2, 1e-12);  // (0.6 - 0.5) / 0.5
  const auto four = results::scaling_metrics(false, 4, 100.0, 40);
  EXPECT_NEAR(*four.speedup, 2.5, 1e-12);
  EXPECT_NEAR(*four.efficiency, 0.625, 1e-12);
  EXPECT_NEAR(*four.karp_flatt, 0.2, 1e-12);  // (0.4 - 0.25) / 0.75
  const auto one = results::scaling_metrics(false, 1, 100.0, 100);
  EXPECT_EQ(*one.speedup, 1);
  EXPECT_EQ(*one.efficiency, 1);
  EXPECT_FALSE(one.karp_flatt);
}

TEST(ReportMetrics, WeakScaling) {
  // Per-worker batch fixed: 4 workers take 125 ms for 4x the work of 1 worker's 100 ms.
  const auto m = results::scaling_metrics(true, 4, 100.0, 125);
  EXPECT_NEAR(*m.efficiency, 0.8, 1e-12);
  EXPECT_NEAR(*m.speedup, 3.2, 1e-12);
  EXPECT_NEAR(*m.karp_flatt, (1 / 3.2 - 0.25) / 0.75, 1e-12);
}

TEST(ReportMetrics, NoOneWorkerTimeMeansNoScaling) {
  const auto m = results::scaling_metrics(false, 4, std::nullopt, 40);
  EXPECT_FALSE(m.speedup);
  EXPECT_FALSE(m.efficiency);
  EXPECT_FALSE(m.karp_flatt);
}

TEST(ReportMetrics, BusBandwidthFactors) {
  // 1 GB in 1 s: algbw 1 GB/s; busbw = algbw * nccl-tests factor.
  EXPECT_DOUBLE_EQ(results::algbw_GBps(1e9, 1), 1);
  EXPECT_DOUBLE_EQ(results::algbw_GBps(4e9, 2), 2);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_reduce", 2, 1e9, 1), 1);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_reduce", 4, 1e9, 1), 1.5);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_reduce", 8, 1e9, 1), 1.75);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("reduce_scatter", 4, 1e9, 1), 0.75);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_gather", 2, 1e9, 1), 0.5);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_gather", 8, 1e9, 1), 0.875);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("broadcast", 3, 1e9, 1), 1);
  EXPECT_DOUBLE_EQ(results::busbw_GBps("all_reduce", 1, 1e9, 1), 0);
}

// ---------------------------------------------------------------------------------------------
// Grouping

TEST(ReportBuild, StrongScalingFromRepetitions) {
  const ScalingReport r = build_report({{"a.json", file_json(strong_entries(), kCpuContext)}});
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].strategy, "serial");  // the baseline first
  const auto& tp = find_series(r, "thread_pool");
  EXPECT_EQ(tp.workload, "violence");
  EXPECT_EQ(tp.batch, 64);
  EXPECT_EQ(tp.precision, "fp32");
  EXPECT_EQ(tp.backend, "cpu");
  ASSERT_EQ(tp.points.size(), 3u);
  const auto& one = at(tp, 1);
  EXPECT_EQ(one.repetitions, 3u);
  EXPECT_DOUBLE_EQ(one.step_ms->median, 100);
  EXPECT_DOUBLE_EQ(one.step_ms->min, 90);
  EXPECT_DOUBLE_EQ(one.step_ms->max, 110);
  EXPECT_DOUBLE_EQ(*one.samples_per_s, 640);  // no counter: 64 samples / 0.1 s
  const auto& two = at(tp, 2);
  EXPECT_DOUBLE_EQ(two.step_ms->median, 60);
  EXPECT_NEAR(*two.speedup, 1.6667, 1e-4);
  EXPECT_NEAR(*two.efficiency, 0.8333, 1e-4);
  EXPECT_NEAR(*two.karp_flatt, 0.2, 1e-12);
  EXPECT_NEAR(*two.speedup_vs_serial, 200.0 / 60, 1e-12);
  EXPECT_NEAR(*two.comm_pct, 10, 1e-12);
  EXPECT_NEAR(*two.exposed_comm_pct, 5, 1e-12);
  EXPECT_DOUBLE_EQ(*two.gflops, 123);
  EXPECT_DOUBLE_EQ(*two.pct_peak, 61);
  EXPECT_FALSE(two.compute_ms);  // counters that are not there stay unknown
  const auto& four = at(tp, 4);  // written in us: converted to ms
  EXPECT_DOUBLE_EQ(four.step_ms->median, 40);
  EXPECT_NEAR(*four.speedup, 2.5, 1e-12);
  EXPECT_NEAR(*four.karp_flatt, 0.2, 1e-12);
  EXPECT_FALSE(at(tp, 1).karp_flatt);
  EXPECT_EQ(r.physical_cores, 4);
  // Best per worker count: at 1 worker thread_pool (640/s) beats serial (320/s) by 100 %.
  ASSERT_FALSE(r.best.empty());
  EXPECT_EQ(r.best[0].workers, 1);
  EXPECT_EQ(r.best[0].strategy, "thread_pool");
  EXPECT_EQ(r.best[0].runner_up, "serial");
  EXPECT_DOUBLE_EQ(*r.best[0].runner_up_samples_per_s, 320);
}

TEST(ReportBuild, BestStrategySaysWhenTheRankingIsWithinTheSpread) {
  // 2 workers: a (median 50, 48-52 ms) beats b (median 51, 50-53 ms), but the ranges overlap;
  // 4 workers: c (20-22 ms) beats d (30-31 ms) clearly.
  std::vector<json> entries;
  const auto add = [&](const char* strategy, int workers, const std::vector<double>& times) {
    const std::string name = fmt::format("step/violence/{}/workers:{}/batch:64", strategy, workers);
    for (double t : times) entries.push_back(iteration(name, t));
  };
  add("a", 2, {48, 50, 52});
  add("b", 2, {50, 51, 53});
  add("c", 4, {20, 21, 22});
  add("d", 4, {30, 30.5, 31});
  const ScalingReport r = build_report({{"s.json", file_json(entries, kCpuContext)}});
  ASSERT_EQ(r.best.size(), 2u);
  EXPECT_EQ(r.best[0].strategy, "a");
  EXPECT_EQ(r.best[0].runner_up, "b");
  EXPECT_TRUE(r.best[0].within_spread);
  EXPECT_EQ(r.best[1].strategy, "c");
  EXPECT_FALSE(r.best[1].within_spread);
  const std::string md = results::format_markdown(r, {}, "");
  EXPECT_NE(md.find("| 2 | a | 1280 | b | 2.0 (ranges overlap) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4 | c | 3048 | d | 45.2 |"), std::string::npos) << md;
}

TEST(ReportBuild, WeakScalingUsesThePerWorkerBatch) {
  const ScalingReport r = build_report({{"w.json", file_json({
                                                       iteration("step/violence/dp/workers:1/batch_per_worker:8", 100),
                                                       iteration("step/violence/dp/workers:4/batch_per_worker:8", 125),
                                                   })}});
  const auto& dp = find_series(r, "dp", "weak");
  EXPECT_EQ(dp.batch, 8);
  const auto& four = at(dp, 4);
  EXPECT_NEAR(*four.efficiency, 0.8, 1e-12);
  EXPECT_NEAR(*four.speedup, 3.2, 1e-12);
  EXPECT_NEAR(*four.samples_per_s, 32 / 0.125, 1e-9);  // global batch 4 x 8
}

TEST(ReportBuild, GroupWithoutOneWorkerRun) {
  const ScalingReport r = build_report({{"n.json", file_json({
                                                       iteration("step/violence/ddp/workers:2/batch:64", 50),
                                                       iteration("step/violence/ddp/workers:4/batch:64", 30),
                                                   })}});
  const auto& ddp = find_series(r, "ddp");
  EXPECT_FALSE(at(ddp, 2).speedup);
  EXPECT_FALSE(at(ddp, 4).efficiency);
  EXPECT_FALSE(at(ddp, 4).speedup_vs_serial);
  const std::string md = results::format_markdown(r, {}, "");
  EXPECT_NE(md.find("ddp: no 1-worker run"), std::string::npos) << md;
  EXPECT_NE(md.find("| ddp | 4 | 30.0 [30.0-30.0] | 2133 | n/a | n/a | n/a | n/a |"), std::string::npos) << md;
}

TEST(ReportBuild, SameBenchmarkInTwoFilesIsPooled) {
  const std::string name = "step/violence/dp/workers:2/batch:64";
  const ScalingReport r = build_report({{"a.json", file_json({iteration(name, 100), iteration(name, 102)})},
                                        {"b.json", file_json({iteration(name, 98), iteration(name, 300)})}});
  ASSERT_EQ(r.series.size(), 1u);
  const auto& p = at(r.series[0], 2);
  EXPECT_EQ(p.repetitions, 4u);
  EXPECT_DOUBLE_EQ(p.step_ms->median, 101);
  EXPECT_DOUBLE_EQ(p.step_ms->max, 300);
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a.json", "b.json"}));
}

TEST(ReportBuild, OnlyAggregatesUseTheMedian) {
  json mean = iteration("step/violence/dp/workers:1/batch:64", 120);
  mean["run_type"] = "aggregate";
  mean["aggregate_name"] = "mean";
  mean["repetitions"] = 5;
  json median = mean;
  median["aggregate_name"] = "median";
  median["real_time"] = 100;
  const ScalingReport r = build_report({{"agg.json", file_json({mean, median})}});
  const auto& p = at(r.series[0], 1);
  EXPECT_DOUBLE_EQ(p.step_ms->median, 100);
  EXPECT_EQ(p.repetitions, 5u);
}

TEST(ReportBuild, ErrorsNanAndForeignBenchmarksAreSkippedWithReasons) {
  // As Google Benchmark writes it: bare NaN for a counter and for a time.
  const std::string text = R"json({"context": {"precision": "fp32"}, "benchmarks": [
    {"name": "step/violence/dp/workers:1/batch:8", "run_name": "step/violence/dp/workers:1/batch:8",
     "run_type": "iteration", "iterations": 3, "real_time": 10, "time_unit": "ms", "samples_per_s": NaN,
     "model_state_MB": NaN},
    {"name": "step/violence/dp/workers:16/batch:8", "run_name": "step/violence/dp/workers:16/batch:8",
     "run_type": "iteration", "iterations": 0, "real_time": 0, "time_unit": "ms", "error_occurred": true,
     "error_message": "more workers (16) than samples in the global batch (8)"},
    {"name": "step/violence/dp/workers:2/batch:8", "run_name": "step/violence/dp/workers:2/batch:8",
     "run_type": "iteration", "iterations": 3, "real_time": NaN, "time_unit": "ms"},
    {"name": "gemm/cpu/m:64/n:64/k:64", "run_name": "gemm/cpu/m:64/n:64/k:64", "run_type": "iteration",
     "iterations": 3, "real_time": 5, "time_unit": "us"}
  ]})json";
  const ScalingReport r = build_report({{"e.json", results::parse_gbench_json(text, "e.json")}});
  ASSERT_EQ(r.skipped.size(), 3u);
  EXPECT_EQ(r.skipped[0].name, "step/violence/dp/workers:16/batch:8");
  EXPECT_EQ(r.skipped[0].file, "e.json");
  EXPECT_EQ(r.skipped[0].reason, "more workers (16) than samples in the global batch (8)");
  EXPECT_EQ(r.skipped[1].reason, "real_time is not a number (NaN or missing)");
  EXPECT_EQ(r.skipped[2].name, "gemm/cpu/m:64/n:64/k:64");
  EXPECT_EQ(r.skipped[2].reason, "not a strategy or collective benchmark");
  const auto& dp = r.series.at(0);
  ASSERT_EQ(dp.points.size(), 3u);
  // The NaN counter is unknown, and samples/s falls back to batch / time.
  EXPECT_FALSE(at(dp, 1).model_state_MB);
  EXPECT_DOUBLE_EQ(*at(dp, 1).samples_per_s, 800);
  EXPECT_FALSE(at(dp, 16).step_ms);
  EXPECT_EQ(at(dp, 16).error, "more workers (16) than samples in the global batch (8)");
  const std::string md = results::format_markdown(r, {}, "");
  EXPECT_NE(md.find("| dp | 16 | skipped: more workers (16) than samples in the global batch (8) |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| dp | 1 | 10.0 [10.0-10.0] | 800 | n/a | 1.00 | 100% | n/a | n/a | n/a | n/a | n/a | no |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- `gemm/cpu/m:64/n:64/k:64` (e.json): not a strategy or collective benchmark"), std::string::npos);
  const json out = results::to_json(r, "2026-01-01T00:00:00Z");
  EXPECT_TRUE(out["series"][0]["points"][0]["memory_per_worker_MB"]["model_state"].is_null());
  EXPECT_EQ(out["series"][0]["points"][2]["error"], "more workers (16) than samples in the global batch (8)");
}

TEST(ReportBuild, CollectivesFromCountersOrFromTimeAndBytes) {
  const ScalingReport r = build_report(
      {{"c.json", file_json({
                      // No counters: algbw = 1 MiB / 1 ms, busbw = algbw * 2 (4-1)/4.
                      iteration("all_reduce/local/ranks:4/bytes:1048576/manual_time/threads:4", 1000, "us"),
                      iteration("all_gather/mpi/ranks:2/bytes:4096/manual_time", 2, "us",
                                {{"bytes", 4096}, {"algbw_GBps", 2.0}, {"busbw_GBps", 1.0}}),
                      iteration("all_reduce/mpi_raw/ranks:2/bytes:4096/manual_time", 1, "us"),
                  })}});
  ASSERT_EQ(r.collectives.size(), 3u);
  EXPECT_TRUE(r.skipped.empty());
  const auto& gather = r.collectives[0];
  EXPECT_EQ(gather.op, "all_gather");
  EXPECT_EQ(*gather.points[0].busbw_GBps, 1.0);
  const auto& local = r.collectives[2];
  EXPECT_EQ(local.comm, "local");
  EXPECT_EQ(local.ranks, 4);
  EXPECT_DOUBLE_EQ(local.points[0].time_us, 1000);
  EXPECT_NEAR(*local.points[0].algbw_GBps, 1.048576, 1e-12);
  EXPECT_NEAR(*local.points[0].busbw_GBps, 1.048576 * 1.5, 1e-12);
  const std::string md = results::format_markdown(r, {}, "");
  // One table per op; raw MPI next to the other communicators.
  EXPECT_NE(md.find("### all_reduce\n\n| size | mpi_raw n=2 | local n=4 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4 KiB | 4.10 | — |\n| 1 MiB | — | 1.57 |"), std::string::npos) << md;
  EXPECT_NE(md.find("### all_gather\n\n| size | mpi n=2 |\n|---:|---:|\n| 4 KiB | 1.00 |"), std::string::npos) << md;
}

TEST(ReportBuild, ContextCommonAndPerFile) {
  const ScalingReport r = build_report(
      {{"a.json", file_json({iteration("step/violence/dp/workers:1/batch:8", 10)}, {{"host", "n1"}, {"date", "d1"}})},
       {"b.json", file_json({iteration("step/violence/dp/workers:2/batch:8", 6)}, {{"host", "n1"}, {"date", "d2"}})}});
  EXPECT_EQ(r.context, (json{{"host", "n1"}}));
  EXPECT_EQ(r.contexts.at("a.json"), (json{{"date", "d1"}}));
  EXPECT_EQ(r.contexts.at("b.json"), (json{{"date", "d2"}}));
}

// ---------------------------------------------------------------------------------------------
// Outputs

TEST(ReportWrite, WritesEveryOutputAndRefusesToOverwrite) {
  TempDir dir;
  const ScalingReport r = build_report({{"a.json", file_json(strong_entries(), kCpuContext)}});
  const auto written = results::write_report(r, {dir.path(), false, false});
  EXPECT_EQ(written.size(), 4u);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"collectives.csv", "report.md", "scaling.csv", "scaling.json"}));
  const std::string md = read(dir / "report.md");
  EXPECT_NE(md.find("| thread_pool | 2 | 60.0 [58.0-70.0] | 1067 | 61% | 1.67 | 83% | 0.200 | 3.33 | 10.0 | 5.0 | "
                    "12.5 (4.25/4.00) | no |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- CPU: Test CPU, 4 physical cores"), std::string::npos);
  EXPECT_NE(md.find("| 1 | thread_pool | 640 | serial | 100.0 |"), std::string::npos) << md;
  const json scaling = json::parse(read(dir / "scaling.json"));
  EXPECT_EQ(scaling["schema"], "parbench.scaling/1");
  EXPECT_EQ(scaling["series"][1]["points"][1]["step_ms"]["median"], 60.0);
  EXPECT_NEAR(scaling["series"][1]["points"][1]["karp_flatt"].get<double>(), 0.2, 1e-12);
  const std::string csv = read(dir / "scaling.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);  // header + 4 points
  EXPECT_EQ(csv.rfind("workload,strategy,precision,mode,batch,backend,workers,repetitions,step_ms_median,", 0), 0u);
  EXPECT_EQ(read(dir / "collectives.csv"), "op,comm,ranks,bytes,time_us,algbw_GBps,busbw_GBps\n");

  const std::string error = error_of([&] { results::write_report(r, {dir.path(), false, false}); });
  EXPECT_NE(error.find((dir / "scaling.json").string()), std::string::npos) << error;
  EXPECT_NE(error.find("--force"), std::string::npos) << error;
  EXPECT_EQ(results::write_report(r, {dir.path(), true, false}).size(), 4u);
  EXPECT_EQ(dir.files().size(), 4u);  // no temporary file left behind
}

TEST(ReportCli, FolderInFolderOut) {
  TempDir dir;
  {
    std::ofstream f(dir / "s.json");
    f << file_json(strong_entries(), kCpuContext).dump();
  }
  CommandResult r = run_parbench(fmt::format("report {} --no-plots", dir.path().string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("read 1 file(s): 2 strategy series (4 points), 0 collective series, 0 skipped"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "report.md"));
  // The report's own scaling.json is not read back as input on a second run.
  r = run_parbench(fmt::format("report {} --no-plots", dir.path().string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("report.md"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exist already; refusing to overwrite (pass --force to replace)"), std::string::npos)
      << r.output;
  r = run_parbench(fmt::format("report {} --no-plots --force", dir.path().string()));
  EXPECT_EQ(r.status, 0) << r.output;
  r = run_parbench(fmt::format("report {} {} --no-plots", (dir / "s.json").string(), (dir / "s.json").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--out DIR is required"), std::string::npos) << r.output;
}

TEST(ReportCli, MissingPlotScriptIsAnErrorAfterTheTables) {
  TempDir dir;
  {
    std::ofstream f(dir / "s.json");
    f << file_json(strong_entries(), kCpuContext).dump();
  }
  // The child parbench inherits the environment of this test process.
  const std::string script = (dir / "no_such_plot_report.py").string();
  ::setenv("PARBENCH_PLOT_SCRIPT", script.c_str(), 1);
  const CommandResult r =
      run_parbench(fmt::format("report {} --out {}", (dir / "s.json").string(), (dir / "out").string()));
  ::unsetenv("PARBENCH_PLOT_SCRIPT");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("parbench: error: Plots were not rendered: the plot script " + script + " is missing"),
            std::string::npos)
      << r.output;
  const std::string md = read(dir / "out" / "report.md");
  EXPECT_NE(md.find("| thread_pool | 4 | 40.0 [40.0-40.0] | 1600 | n/a | 2.50 | 62% | 0.200 | 5.00 |"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("![speedup"), std::string::npos);
}

}  // namespace
