// Subcommand registration: each command file adds its subcommands to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace parbench::cli {

void add_data_commands(CLI::App& app);
void add_context_command(CLI::App& app);
void add_describe_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace parbench::cli
