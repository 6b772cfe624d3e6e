// `parbench compare BASE.json NEW.json`: the regression gate. Prints a Markdown comparison for CI
// logs and reports through `regression_found` whether any benchmark got significantly slower.
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/output_file.h"
#include "results/compare.h"

namespace parbench::cli {

namespace {

struct CompareArgs {
  std::string base, fresh, markdown;
  results::CompareOptions options;
  bool force = false;
};

void run_compare(const CompareArgs& args, bool& regression_found) {
  // The --markdown destination is checked before anything is read, so a bad path fails first.
  std::optional<OutputFile> out;
  if (!args.markdown.empty()) out.emplace(args.markdown, args.force);
  const results::BenchmarkFile base = results::read_benchmark_inputs(args.base);
  const results::BenchmarkFile fresh = results::read_benchmark_inputs(args.fresh);
  const results::CompareReport report = results::compare(base, fresh, args.options);
  const std::string markdown = results::format_markdown(report);
  fmt::print("{}", markdown);
  if (out) {
    {
      std::ofstream stream(out->temporary());
      stream << markdown;
      if (!stream) raise("cannot write {}", out->temporary().string());
    }
    out->commit();
  }
  regression_found = report.regression();
}

}  // namespace

void add_compare_command(CLI::App& app, bool& regression_found) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* compare = app.add_subcommand(
      "compare", "Compare two Google Benchmark JSON files; exit status 1 when a benchmark got slower");
  compare->add_option("base", args->base, "Baseline results (Google Benchmark JSON)")->required();
  compare->add_option("new", args->fresh, "New results (Google Benchmark JSON)")->required();
  compare->add_option("--threshold", args->options.threshold_pct,
                      "Median change in % beyond which a benchmark counts as slower or faster")
      ->capture_default_str();
  compare->add_option("--alpha", args->options.alpha, "Significance level of the Mann-Whitney U test")
      ->capture_default_str();
  compare->add_option("--markdown", args->markdown, "Also write the Markdown summary to this file");
  compare->add_flag("--force", args->force, "Replace an existing --markdown file");
  compare->callback([args, &regression_found] { run_compare(*args, regression_found); });
}

}  // namespace parbench::cli
