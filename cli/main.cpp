// The parbench command: subcommands data, context (more come with later layers). User errors are
// parbench::Error: printed once, exit status 1. Usage errors exit with CLI11's status.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/build_info.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"parbench: benchmarks of deep-learning parallelization strategies"};
  app.set_version_flag("--version", std::string("parbench ") + parbench::build_info::version);
  app.require_subcommand(1);
  parbench::cli::add_data_commands(app);
  parbench::cli::add_context_command(app);
  parbench::cli::add_describe_command(app);
  parbench::cli::add_train_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const parbench::Error& error) {
    std::fprintf(stderr, "parbench: error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "parbench: unexpected error: %s\n", error.what());
    return 1;
  }
  return 0;
}
