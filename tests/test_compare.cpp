// `parbench compare`: the Mann-Whitney U test against values known from tables and R, reading
// Google Benchmark JSON as its reporter writes it (bare NaN, errored runs, aggregates), and the
// command's verdicts and exit status on synthetic repetitions whose answer is known.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "results/compare.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::CommandResult;
using parbench::test::run_parbench;
using parbench::test::TempDir;
using results::mann_whitney;

// ---------------------------------------------------------------------------------------------
// Mann-Whitney U

TEST(CompareMannWhitney, FullySeparatedFiveVsFiveIsExact) {
  // Exact: P(U = 0) = 1 / C(10, 5) = 1/252, two-sided 2/252 = 0.0079 (the normal approximation
  // would give 0.012).
  const auto r = mann_whitney({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.u, 0);
  EXPECT_NEAR(r.p, 2.0 / 252, 1e-12);
  const auto swapped = mann_whitney({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_EQ(swapped.u, 25);
  EXPECT_NEAR(swapped.p, r.p, 1e-12);
}

TEST(CompareMannWhitney, ExactTableValues) {
  // n1 = n2 = 4: U = 0, 1, 2 occur in 1, 1, 2 of the C(8, 4) = 70 arrangements; U = 1 gives
  // P(U <= 1) = 2/70, two-sided 4/70.
  const auto r = mann_whitney({1, 2, 3, 5}, {4, 6, 7, 8});
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.u, 1);
  EXPECT_NEAR(r.p, 4.0 / 70, 1e-12);
  // 10 vs 10 fully separated: 2 / C(20, 10).
  std::vector<double> a, b;
  for (int i = 0; i < 10; ++i) {
    a.push_back(i);
    b.push_back(100 + i);
  }
  EXPECT_NEAR(mann_whitney(a, b).p, 2.0 / 184756, 1e-15);
  // Identical distributions in interleaved order: U at the centre, p = 1.
  EXPECT_NEAR(mann_whitney({1, 4, 5, 8}, {2, 3, 6, 7}).p, 1.0, 1e-12);
}

TEST(CompareMannWhitney, TiesUseTheNormalApproximationWithCorrections) {
  // R: wilcox.test(1:5, 5:9) -> W = 0.5, p-value = 0.01597 (tie and continuity correction).
  const auto r = mann_whitney({1, 2, 3, 4, 5}, {5, 6, 7, 8, 9});
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.u, 0.5);
  EXPECT_NEAR(r.p, 0.0159707, 1e-6);
  // All values equal: no evidence of any difference.
  EXPECT_EQ(mann_whitney({3, 3, 3}, {3, 3, 3}).p, 1.0);
}

TEST(CompareMannWhitney, LargeSamplesUseTheNormalApproximation) {
  // 31 vs 31 fully separated (beyond the exact limit): z = (480.5 - 0.5) / sqrt(961 * 63 / 12).
  std::vector<double> a, b;
  for (int i = 0; i < 31; ++i) {
    a.push_back(i);
    b.push_back(31 + i);
  }
  const auto r = mann_whitney(a, b);
  EXPECT_FALSE(r.exact);
  const double z = 480.0 / std::sqrt(961.0 * 63 / 12);
  EXPECT_NEAR(r.p / std::erfc(z / std::sqrt(2.0)), 1.0, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// Google Benchmark JSON

// One benchmark's entries as Google Benchmark 1.7.1 writes them with --benchmark_repetitions:
// the iteration runs, then mean / median / stddev / cv aggregates. `times` are in `unit`.
std::string entries(const std::string& name, const std::vector<double>& times, const std::string& unit = "ns",
                    const std::string& counters = "") {
  std::string out;
  const auto entry = [&](const std::string& entry_name, const char* run_type, const std::string& aggregate,
                         double time) {
    if (!out.empty()) out += ",\n";
    out += fmt::format(R"({{"name": "{}", "family_index": 0, "run_name": "{}", "run_type": "{}", "repetitions": {}, )"
                       R"("threads": 1, {}"iterations": 1000, "real_time": {}, "cpu_time": {}, "time_unit": "{}"{}}})",
                       entry_name, name, run_type, times.size(), aggregate, time, time, unit, counters);
  };
  for (double time : times) entry(name, "iteration", "", time);
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  entry(name + "_mean", "aggregate", R"("aggregate_name": "mean", )", median);
  entry(name + "_median", "aggregate", R"("aggregate_name": "median", )", median);
  entry(name + "_stddev", "aggregate", R"("aggregate_name": "stddev", )", 0.0);
  return out;
}

std::string errored(const std::string& name, const std::string& message) {
  return fmt::format(R"({{"name": "{}", "run_name": "{}", "run_type": "iteration", "repetitions": 1, )"
                     R"("error_occurred": true, "error_message": "{}", "iterations": 0, "real_time": 0, )"
                     R"("cpu_time": 0, "time_unit": "ns"}})",
                     name, name, message);
}

std::string document(const std::vector<std::string>& benchmarks) {
  std::string out = R"({"context": {"date": "2026-01-01", "num_cpus": 2, "library_build_type": "release"},)"
                    "\n\"benchmarks\": [\n";
  for (std::size_t i = 0; i < benchmarks.size(); ++i) out += (i ? ",\n" : "") + benchmarks[i];
  return out + "\n]}\n";
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(CompareRead, RepetitionsGroupedByRunNameInOneUnit) {
  const auto file = results::parse_benchmark_json(
      document({entries("BM_a/8", {1.0, 2.0, 3.0}, "ms"), entries("BM_b", {5.0, 6.0, 7.0}, "us")}), "x.json");
  ASSERT_EQ(file.benchmarks.size(), 2u);
  EXPECT_EQ(file.benchmarks[0].name, "BM_a/8");
  EXPECT_EQ(file.benchmarks[0].times_ns, (std::vector<double>{1e6, 2e6, 3e6}));
  EXPECT_FALSE(file.benchmarks[0].from_aggregate);
  EXPECT_EQ(file.benchmarks[1].times_ns, (std::vector<double>{5e3, 6e3, 7e3}));
  EXPECT_TRUE(file.skipped.empty());
}

TEST(CompareRead, OnlyAggregatesUseTheMedian) {
  const std::string text = document({R"({"name": "BM_a_mean", "run_name": "BM_a", "run_type": "aggregate",
      "aggregate_name": "mean", "real_time": 11, "time_unit": "ns"})",
                                     R"({"name": "BM_a_median", "run_name": "BM_a", "run_type": "aggregate",
      "aggregate_name": "median", "real_time": 10, "time_unit": "ns"})"});
  const auto file = results::parse_benchmark_json(text, "x.json");
  ASSERT_EQ(file.benchmarks.size(), 1u);
  EXPECT_EQ(file.benchmarks[0].times_ns, std::vector<double>{10});
  EXPECT_TRUE(file.benchmarks[0].from_aggregate);
}

TEST(CompareRead, NanCountersAndErroredRunsAreReportedNotFatal) {
  const std::string text =
      document({entries("BM_nan \\\"NaN\\\" Infinity", {1, 2, 3}, "ns", R"(, "busbw": NaN, "algbw": -Infinity)"),
                errored("BM_err", "needs 8 workers, 2 cores"), errored("BM_err", "needs 8 workers, 2 cores"),
                R"({"name": "BM_bad", "run_type": "iteration", "real_time": NaN, "time_unit": "ns"})"});
  const auto file = results::parse_benchmark_json(text, "x.json");
  ASSERT_EQ(file.benchmarks.size(), 1u);
  // Tokens inside strings are left alone.
  EXPECT_EQ(file.benchmarks[0].name, "BM_nan \"NaN\" Infinity");
  ASSERT_EQ(file.skipped.size(), 2u);  // one line per benchmark, not per repetition
  EXPECT_EQ(file.skipped[0].name, "BM_err");
  EXPECT_EQ(file.skipped[0].reason, "error: needs 8 workers, 2 cores");
  EXPECT_EQ(file.skipped[1].name, "BM_bad");
  EXPECT_NE(file.skipped[1].reason.find("real_time"), std::string::npos);
}

TEST(CompareRead, BadInputNamesTheFile) {
  const auto message = [](const std::string& text) {
    return test::error_of([&] { results::parse_benchmark_json(text, "in.json"); });
  };
  EXPECT_NE(message("{not json").find("in.json: not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"context": {}})").find("in.json: no \"benchmarks\" array"), std::string::npos);
  EXPECT_NE(message(R"({"benchmarks": []})").find("in.json: the \"benchmarks\" array is empty"), std::string::npos);
  EXPECT_EQ(test::error_of([] { results::read_benchmark_inputs("/nonexistent/base.json"); }),
            "/nonexistent/base.json: no such file or folder");
}

// ---------------------------------------------------------------------------------------------
// Verdicts

results::BenchmarkFile file_of(std::vector<results::BenchmarkSamples> benchmarks) {
  return {"f.json", std::move(benchmarks), {}};
}

TEST(CompareVerdict, ThresholdAndSignificance) {
  const std::vector<double> base = {100, 101, 99, 98, 102};
  const auto report = results::compare(file_of({{"slow", base}, {"fast", base}, {"same", base}, {"noisy", base}}),
                                       file_of({{"slow", {130, 131, 129, 128, 132}},
                                                {"fast", {70, 71, 69, 70, 72}},
                                                {"same", {101, 100, 102, 99, 100}},
                                                {"noisy", {99, 300, 98, 300, 300}}}),
                                       {});
  ASSERT_EQ(report.rows.size(), 4u);
  EXPECT_EQ(report.rows[0].verdict, results::Verdict::slower);
  EXPECT_NEAR(report.rows[0].change_pct, 30, 1e-9);
  EXPECT_NEAR(*report.rows[0].p, 2.0 / 252, 1e-12);
  EXPECT_EQ(report.rows[1].verdict, results::Verdict::faster);
  EXPECT_EQ(report.rows[2].verdict, results::Verdict::same);
  EXPECT_EQ(report.rows[3].verdict, results::Verdict::noisy);
  EXPECT_TRUE(report.regression());
}

TEST(CompareVerdict, TooFewRepetitionsLeaveItToTheThreshold) {
  // Fewer than 3, and 3 vs 3 whose smallest possible p (0.1) cannot reach alpha 0.05.
  const auto report = results::compare(file_of({{"one", {100}}, {"three", {100, 100.5, 101}}, {"small", {100, 101}}}),
                                       file_of({{"one", {120}}, {"three", {80, 80.5, 81}}, {"small", {105, 106}}}), {});
  ASSERT_EQ(report.rows.size(), 3u);
  for (const auto& row : report.rows) EXPECT_FALSE(row.p.has_value()) << row.name;
  EXPECT_EQ(report.rows[0].verdict, results::Verdict::slower);
  EXPECT_EQ(report.rows[1].verdict, results::Verdict::faster);
  EXPECT_EQ(report.rows[2].verdict, results::Verdict::same);
  EXPECT_NE(results::summary_line(report).find("3 decided by the threshold alone (too few repetitions for the U test)"),
            std::string::npos);
}

TEST(CompareVerdict, BadOptionsAreErrors) {
  const auto files = file_of({{"a", {1}}});
  EXPECT_NE(test::error_of([&] { results::compare(files, files, {.threshold_pct = -1}); }).find("--threshold"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { results::compare(files, files, {.alpha = 1.5}); }).find("--alpha"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The command

TEST(CompareCli, ClearlySlowerFailsTheGate) {
  TempDir dir;
  const auto base = write(dir, "base.json",
                          document({entries("BM_step", {10.0, 10.1, 9.9, 9.8, 10.2}, "ms"),
                                    entries("BM_ok", {5, 5.1, 4.9, 5, 5.2}, "us")}));
  const auto fresh = write(dir, "new.json",
                           document({entries("BM_step", {13.0, 13.1, 12.9, 12.8, 13.2}, "ms"),
                                     entries("BM_ok", {5.1, 5, 4.9, 5, 5.1}, "us")}));
  const CommandResult r = run_parbench(fmt::format("compare {} {}", base, fresh));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("| benchmark | base | new | change | p | verdict |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| BM_step | 10.000 ms (n=5) | 13.000 ms (n=5) | +30.0% | 0.008 | slower |"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| BM_ok | 5.000 us (n=5) | 5.000 us (n=5) | +0.0% |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 benchmark(s) compared: 1 slower, 0 faster, 0 noisy, 1 same"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("REGRESSION"), std::string::npos) << r.output;
  // A wider threshold lets the same change pass.
  EXPECT_EQ(run_parbench(fmt::format("compare {} {} --threshold 50", base, fresh)).status, 0);
}

TEST(CompareCli, ClearlySamePassesAndWritesMarkdown) {
  TempDir dir;
  const auto base = write(dir, "base.json", document({entries("BM_step", {10.0, 10.3, 9.8, 10.1, 10.0}, "ms")}));
  const auto fresh = write(dir, "new.json", document({entries("BM_step", {10.1, 9.9, 10.2, 10.0, 9.8}, "ms")}));
  const auto markdown = (dir / "summary.md").string();
  const CommandResult r = run_parbench(fmt::format("compare {} {} --markdown {}", base, fresh, markdown));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| same |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No regression"), std::string::npos) << r.output;
  std::ifstream stream(markdown);
  const std::string written((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written, r.output);
  // An existing summary is not replaced without --force.
  const CommandResult again = run_parbench(fmt::format("compare {} {} --markdown {}", base, fresh, markdown));
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("pass --force"), std::string::npos) << again.output;
  EXPECT_EQ(run_parbench(fmt::format("compare {} {} --markdown {} --force", base, fresh, markdown)).status, 0);
}

TEST(CompareCli, TooFewRepetitionsSaySo) {
  TempDir dir;
  const auto base = write(dir, "base.json", document({entries("BM_once", {10.0}, "ms")}));
  const auto slower = write(dir, "slower.json", document({entries("BM_once", {12.0}, "ms")}));
  const auto close = write(dir, "close.json", document({entries("BM_once", {10.5}, "ms")}));
  const CommandResult r = run_parbench(fmt::format("compare {} {}", base, slower));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("| +20.0% | n/a | slower (too few repetitions for the U test) |"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 decided by the threshold alone (too few repetitions for the U test)"), std::string::npos)
      << r.output;
  const CommandResult ok = run_parbench(fmt::format("compare {} {}", base, close));
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("same (too few repetitions for the U test)"), std::string::npos) << ok.output;
}

TEST(CompareCli, BenchmarksInOneFileAreListed) {
  TempDir dir;
  const auto base =
      write(dir, "base.json", document({entries("BM_both", {1, 1, 1}), entries("BM_removed", {1, 1, 1})}));
  const auto fresh = write(dir, "new.json", document({entries("BM_both", {1, 1, 1}), entries("BM_added", {1, 1, 1})}));
  const CommandResult r = run_parbench(fmt::format("compare {} {}", base, fresh));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("Only in BASE `{}`:\n- BM_removed\n", base)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(fmt::format("Only in NEW `{}`:\n- BM_added\n", fresh)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("; 2 only in one file"), std::string::npos) << r.output;
}

TEST(CompareCli, NanCountersAndErroredRunsAreSkippedWithTheirReason) {
  TempDir dir;
  const auto base =
      write(dir, "base.json",
            document({entries("BM_a", {1, 1.1, 0.9}, "ms", R"(, "busbw": NaN)"), entries("BM_gpu", {1, 1, 1}, "ms")}));
  const auto fresh = write(
      dir, "new.json",
      document({entries("BM_a", {1, 1.1, 0.9}, "ms", R"(, "busbw": -Infinity)"), errored("BM_gpu", "no CUDA device")}));
  const CommandResult r = run_parbench(fmt::format("compare {} {}", base, fresh));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("Skipped in NEW `{}`:\n- BM_gpu: error: no CUDA device\n", fresh)),
            std::string::npos)
      << r.output;
  // Errored in NEW is a skip with its reason, not "only in BASE".
  EXPECT_EQ(r.output.find("Only in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("; 1 skipped"), std::string::npos) << r.output;
}

TEST(CompareCli, BadInputIsAnErrorNamingTheFile) {
  TempDir dir;
  const auto good = write(dir, "good.json", document({entries("BM_a", {1, 1, 1})}));
  const auto missing = (dir / "missing.json").string();
  CommandResult r = run_parbench(fmt::format("compare {} {}", good, missing));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(fmt::format("parbench: error: {}: no such file", missing)), std::string::npos) << r.output;
  const auto text = write(dir, "notes.txt", "hello\n");
  r = run_parbench(fmt::format("compare {} {}", text, good));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(fmt::format("{}: not valid JSON", text)), std::string::npos) << r.output;
}

TEST(CompareCli, RunFoldersMergeTheirFilesAndPassOverOtherJson) {
  TempDir dir;
  std::filesystem::create_directories(dir / "base" / "logs");
  std::filesystem::create_directories(dir / "new");
  write(dir, "base/a.json", document({entries("BM_a", {10, 10.1, 9.9, 10, 10}, "ms")}));
  write(dir, "base/b.json", document({entries("BM_b", {5, 5, 5, 5, 5}, "ms")}));
  write(dir, "base/scaling.json", R"({"schema": "parbench.scaling/1", "series": []})");
  write(dir, "new/all.json",
        document({entries("BM_a", {10, 10.1, 9.9, 10, 10}, "ms"), entries("BM_b", {8, 8.1, 7.9, 8, 8}, "ms")}));
  const CommandResult r = run_parbench(fmt::format("compare {} {}", (dir / "base").string(), (dir / "new").string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("| BM_b | 5.000 ms (n=5) | 8.000 ms (n=5) | +60.0% |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 benchmark(s) compared: 1 slower, 0 faster, 0 noisy, 1 same"), std::string::npos)
      << r.output;
  // --filter leaves the slower BM_b out of the gate.
  const CommandResult filtered =
      run_parbench(fmt::format("compare {} {} --filter '^BM_a$'", (dir / "base").string(), (dir / "new").string()));
  EXPECT_EQ(filtered.status, 0) << filtered.output;
  EXPECT_NE(filtered.output.find("1 benchmark(s) compared: 0 slower"), std::string::npos) << filtered.output;
  EXPECT_NE(filtered.output.find("only names matching \"^BM_a$\""), std::string::npos) << filtered.output;
  std::filesystem::create_directories(dir / "empty");
  const CommandResult empty =
      run_parbench(fmt::format("compare {} {}", (dir / "empty").string(), (dir / "new").string()));
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.output.find("no Google Benchmark JSON file"), std::string::npos) << empty.output;
}

TEST(CompareCli, HistoryShowsEachTrendAndGatesTheLastRun) {
  TempDir dir;
  for (const auto& run : {"20261101-0900", "20261102-0900", "20261103-0900"}) {
    std::filesystem::create_directories(dir / "runs" / run);
  }
  std::filesystem::create_directories(dir / "runs" / "20261101-1000-crashed");  // no JSON: not a run
  write(dir, "runs/20261101-0900/s.json",
        document({entries("BM_step", {10, 10.1, 9.9, 10, 10}, "ms"), entries("BM_old", {1, 1, 1}, "ms")}));
  write(dir, "runs/20261102-0900/s.json", document({entries("BM_step", {10.5, 10.6, 10.4, 10.55, 10.45}, "ms")}));
  write(dir, "runs/20261103-0900/s.json", document({entries("BM_step", {13, 13.1, 12.9, 13.05, 12.95}, "ms")}));
  const CommandResult r = run_parbench(fmt::format("compare --history {}", (dir / "runs").string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("3 run(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| benchmark | 20261101-0900 | 20261102-0900 | 20261103-0900 | first -> last |"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| BM_step | 10.000 ms | 10.500 ms | 13.000 ms | +30.0% |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| BM_old | 1.000 ms | - | - | +0.0% |"), std::string::npos) << r.output;
  // The gate is the last run against the one before it: +23.8%, significant.
  EXPECT_NE(r.output.find("| BM_step | 10.500 ms (n=5) | 13.000 ms (n=5) | +23.8% | 0.008 | slower |"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(run_parbench(fmt::format("compare --history {} --threshold 30", (dir / "runs").string())).status, 0);
  const CommandResult both = run_parbench(fmt::format("compare a.json --history {}", (dir / "runs").string()));
  EXPECT_EQ(both.status, 1);
  EXPECT_NE(both.output.find("--history takes the folder of runs alone"), std::string::npos) << both.output;
}

}  // namespace
