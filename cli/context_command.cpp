// `parbench context`: the run context that every metrics and benchmark file records, for a quick
// look at what a machine and build are (and for scripts: it is JSON).
#include <cstdio>

#include <fmt/format.h>
#include <CLI/Version.hpp>

#include "cli/commands.h"
#include "core/context.h"
#include "data/h5.h"

namespace parbench::cli {

void add_context_command(CLI::App& app) {
  CLI::App* context = app.add_subcommand("context", "Print the run context (build, host, CPU, libraries) as JSON");
  context->callback([] {
    nlohmann::json json = run_context();
    json["libraries"]["hdf5"] = h5::library_version();
    json["libraries"]["cli11"] = CLI11_VERSION;
    std::printf("%s\n", json.dump(2).c_str());
  });
}

}  // namespace parbench::cli
