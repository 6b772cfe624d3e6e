// The parbench command: subcommands data, context, describe, train, compare. User errors are
// parbench::Error: printed once, exit status 1. Usage errors exit with CLI11's status. SIGINT and
// SIGTERM stop a command at its next safe point (core/interrupt.h): exit status 128 + the signal.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/build_info.h"
#include "core/check.h"
#include "core/error.h"
#include "core/interrupt.h"

namespace {

// " on HOST rank R" in a job of several ranks, where a message must say which rank failed.
std::string where() {
  if (!parbench::in_distributed_job()) return "";
  return " on " + parbench::host_name() + " rank " + std::to_string(parbench::process_rank());
}

}  // namespace

// Only the set-up before the try can throw (CLI11 construction errors, bad_alloc): programming
// errors that std::terminate reports well enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  // First, while this is the only thread: every thread started later inherits the blocked signals.
  parbench::interrupt::install();
  CLI::App app{"parbench: benchmarks of deep-learning parallelization strategies"};
  app.set_version_flag("--version", std::string("parbench ") + parbench::build_info::version);
  app.require_subcommand(1);
  parbench::cli::add_data_commands(app);
  parbench::cli::add_context_command(app);
  parbench::cli::add_describe_command(app);
  parbench::cli::add_train_command(app);
  parbench::cli::add_report_command(app);
  bool regression_found = false;
  parbench::cli::add_compare_command(app, regression_found);
  bool sweep_failed = false;
  parbench::cli::add_sweep_command(app, sweep_failed);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const parbench::interrupt::Interrupted& stop) {
    // The writers have unwound: every unfinished output's temporary is gone, no destination made.
    std::fprintf(stderr, "parbench: %s%s\n", stop.what(), where().c_str());
    const int status = parbench::interrupt::exit_status(stop.signal());
    parbench::end_job_after_error(status);
    return status;
  } catch (const parbench::Error& error) {
    std::fprintf(stderr, "parbench: error%s: %s\n", where().c_str(), error.what());
    parbench::end_job_after_error(1);
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "parbench: unexpected error%s: %s\n", where().c_str(), error.what());
    parbench::end_job_after_error(1);
    return 1;
  }
  return regression_found || sweep_failed ? 1 : 0;
}
