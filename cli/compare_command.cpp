// `parbench compare BASE NEW` and `parbench compare --history DIR`: the regression gate. Prints a
// Markdown comparison for CI logs and reports through `regression_found` whether any benchmark got
// significantly slower.
#include <limits>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/error.h"
#include "core/output_file.h"
#include "results/compare.h"

namespace parbench::cli {

namespace {

struct CompareArgs {
  std::string base, fresh, markdown, history;
  results::CompareOptions options;
  bool force = false;
};

void run_compare(const CompareArgs& args, bool& regression_found) {
  // The --markdown destination is checked before anything is read, so a bad path fails first.
  if (!args.markdown.empty()) OutputFile check(args.markdown, args.force);
  std::string markdown;
  if (!args.history.empty()) {
    if (!args.base.empty()) raise("--history takes the folder of runs alone, without BASE and NEW");
    const results::HistoryReport history = results::read_history(args.history, args.options);
    markdown = results::format_history_markdown(history);
    regression_found = history.latest && history.latest->regression();
  } else {
    if (args.base.empty() || args.fresh.empty()) {
      raise("compare needs BASE and NEW (files or run folders), or --history DIR");
    }
    const results::CompareReport report = results::compare(results::read_benchmark_inputs(args.base),
                                                           results::read_benchmark_inputs(args.fresh), args.options);
    markdown = results::format_markdown(report);
    regression_found = report.regression();
  }
  fmt::print("{}", markdown);
  if (!args.markdown.empty()) write_text_file(args.markdown, markdown, args.force);
}

}  // namespace

void add_compare_command(CLI::App& app, bool& regression_found) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* compare = app.add_subcommand(
      "compare",
      "Compare two Google Benchmark results (files or run folders), or the runs of a folder (--history); exit status 1 "
      "when a benchmark got slower");
  compare->add_option("base", args->base, "Baseline results: Google Benchmark JSON, or a run folder");
  compare->add_option("new", args->fresh, "New results: Google Benchmark JSON, or a run folder");
  compare->add_option("--history", args->history,
                      "A folder of runs (e.g. results/runs): each benchmark's trend, and the last run against the one "
                      "before it");
  compare
      ->add_option("--threshold", args->options.threshold_pct,
                   "Median change in % beyond which a benchmark counts as slower or faster")
      ->check(non_negative_number())
      ->capture_default_str();
  compare->add_option("--alpha", args->options.alpha, "Significance level of the Mann-Whitney U test")
      ->check(number_in(std::numeric_limits<double>::denorm_min(), 1, true, false, "a number in (0, 1)", "in (0, 1)"))
      ->capture_default_str();
  compare->add_option("--filter", args->options.filter,
                      "Compare only benchmarks whose name matches this regular expression (e.g. '^step/')");
  compare->add_option("--markdown", args->markdown, "Also write the Markdown summary to this file");
  compare->add_flag("--force", args->force, "Replace an existing --markdown file");
  compare->callback([args, &regression_found] { run_compare(*args, regression_found); });
}

}  // namespace parbench::cli
