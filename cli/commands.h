// Subcommand registration: each command file adds its subcommands to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace parbench::cli {

void add_data_commands(CLI::App& app);
void add_context_command(CLI::App& app);
void add_describe_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_report_command(CLI::App& app);
// `compare` sets `regression_found` when a benchmark got slower; main turns it into exit status 1,
// which is the gate's answer and not an error.
void add_compare_command(CLI::App& app, bool& regression_found);
// `sweep` sets `failed` when a configuration crashed or timed out (the report lists it); main
// exits with status 1 after the report is written.
void add_sweep_command(CLI::App& app, bool& failed);

}  // namespace parbench::cli
