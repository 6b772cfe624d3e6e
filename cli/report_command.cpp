// `parbench report DIR|FILE... [--out DIR]`: benchmark JSON -> scaling.json, report.md, CSV and plots
// (results/report.h). The command only parses flags, picks the output folder and prints the summary.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "core/error.h"
#include "results/report.h"

namespace parbench::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> inputs;
  std::string out;
  bool force = false;
  bool no_plots = false;
};

void run_report(const ReportArgs& args) {
  std::filesystem::path out = args.out;
  if (out.empty()) {
    // A single run folder is the natural home of its report; with several inputs there is none.
    std::error_code ec;
    if (args.inputs.size() != 1 || !std::filesystem::is_directory(args.inputs[0], ec)) {
      raise("--out DIR is required unless the only input is a folder");
    }
    out = args.inputs[0];
  }
  const std::vector<std::filesystem::path> inputs(args.inputs.begin(), args.inputs.end());
  const results::ScalingReport report = results::read_report_inputs(inputs);
  fmt::print("{}", results::summary(report));
  std::vector<std::string> written;
  for (const auto& path : results::write_report(report, {out, args.force, !args.no_plots})) {
    written.push_back(std::filesystem::relative(path, out).string());
  }
  fmt::print("wrote to {}: {}\n", out.string(), fmt::join(written, ", "));
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* report = app.add_subcommand(
      "report", "Scaling and efficiency report (JSON, Markdown, CSV, plots) from Google Benchmark JSON");
  report->add_option("inputs", args->inputs, "Benchmark JSON files, or folders holding them")->required();
  report->add_option("--out", args->out, "Output folder (default: the input when it is a single folder)");
  report->add_flag("--force", args->force, "Replace existing outputs");
  report->add_flag("--no-plots", args->no_plots, "Write the tables only (plots need python3-matplotlib)");
  report->callback([args] { run_report(*args); });
}

}  // namespace parbench::cli
