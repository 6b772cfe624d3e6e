// `parbench describe`: parameters by layer, FLOPs per sample, and memory per worker for each
// strategy at a batch size, all computed from the model's layers (design.md §4 memory formulas).
#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "models/model.h"

namespace parbench::cli {

namespace {

struct DescribeArgs {
  std::string workload;
  models::ModelConfig config;
  int batch = 64;
  int workers = 1;
  bool json = false;
};

nlohmann::json describe_json(const DescribeArgs& args) {
  if (args.batch < 1 || args.workers < 1) raise("--batch and --workers must be at least 1");
  auto backend = kernels::make_backend("cpu");
  const auto model = models::make_model(args.workload, *backend, args.config);
  nlohmann::json out;
  out["workload"] = args.workload;
  out["layers"] = nlohmann::json::array();
  for (const auto& report : model->describe()) {
    out["layers"].push_back({{"name", report.name},
                             {"parameters", report.cost.parameters},
                             {"forward_flops_per_sample", report.cost.forward_flops},
                             {"backward_flops_per_sample", report.cost.backward_flops},
                             {"saved_floats_per_sample", report.cost.saved_floats}});
  }
  const double p = static_cast<double>(model->parameter_count());
  std::size_t largest_span = 0;
  for (const auto& span : model->spans()) largest_span = std::max(largest_span, span.count);
  out["parameters"] = model->parameter_count();
  out["buffers"] = model->buffer_count();
  out["forward_flops_per_sample"] = model->forward_flops();
  out["training_flops_per_sample"] = model->training_flops();
  const double activations = 4.0 * static_cast<double>(model->activation_floats_per_sample()) * args.batch;
  const double n = args.workers;
  out["batch"] = args.batch;
  out["workers"] = args.workers;
  out["memory_bytes"] = {
      {"parameters", 4 * p}, {"gradients", 4 * p}, {"adam_state", 8 * p}, {"activations", activations}};
  // Per worker, fp32 + Adam (design.md §4); activations come on top and depend on the shard.
  out["memory_per_worker_bytes"] = {{"replicated", 16 * p},
                                    {"zero1", 8 * p + 8 * p / n},
                                    {"zero2", 4 * p + 12 * p / n},
                                    {"zero3", 16 * p / n + 4.0 * static_cast<double>(largest_span)}};
  return out;
}

std::string human(double value, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (value >= 1000 && i < 4) {
    value /= 1000;
    ++i;
  }
  return fmt::format("{:.2f} {}{}", value, prefixes[i], unit);
}

}  // namespace

void add_describe_command(CLI::App& app) {
  auto args = std::make_shared<DescribeArgs>();
  CLI::App* describe = app.add_subcommand("describe", "Parameters, FLOPs per sample and memory per strategy");
  describe->add_option("--workload", args->workload, "Workload")
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  describe->add_option("--batch", args->batch, "Batch size per worker for activation memory")
      ->check(integer_at_least(1))
      ->capture_default_str();
  describe->add_option("--workers", args->workers, "Workers N for the sharded memory figures")
      ->check(integer_at_least(1))
      ->capture_default_str();
  describe->add_option("--frames", args->config.steps, "Frames T (default: violence 20, shoplifting 16)")
      ->check(integer_at_least(1));
  describe->add_option("--dim", args->config.features, "Feature size D (violence, default 4096)")
      ->check(integer_at_least(1));
  describe->add_flag("--json", args->json, "Print JSON");
  describe->callback([args] {
    const nlohmann::json out = describe_json(*args);
    if (args->json) {
      fmt::print("{}\n", out.dump(2));
      return;
    }
    fmt::print("{}: {} parameters, {} per sample forward, {} per training step sample\n\n", args->workload,
               out["parameters"].get<std::int64_t>(), human(out["forward_flops_per_sample"].get<double>(), "FLOP"),
               human(out["training_flops_per_sample"].get<double>(), "FLOP"));
    fmt::print("{:<12} {:>10} {:>14} {:>14} {:>12}\n", "layer", "params", "fwd/sample", "bwd/sample", "saved/sample");
    for (const auto& layer : out["layers"]) {
      fmt::print("{:<12} {:>10} {:>14} {:>14} {:>12}\n", layer["name"].get<std::string>(),
                 layer["parameters"].get<std::int64_t>(),
                 human(layer["forward_flops_per_sample"].get<double>(), "FLOP"),
                 human(layer["backward_flops_per_sample"].get<double>(), "FLOP"),
                 human(4.0 * layer["saved_floats_per_sample"].get<double>(), "B"));
    }
    const auto& memory = out["memory_bytes"];
    fmt::print("\nmemory at batch {}: parameters {}, gradients {}, Adam state {}, activations {}\n", args->batch,
               human(memory["parameters"].get<double>(), "B"), human(memory["gradients"].get<double>(), "B"),
               human(memory["adam_state"].get<double>(), "B"), human(memory["activations"].get<double>(), "B"));
    const auto& worker = out["memory_per_worker_bytes"];
    fmt::print("model state per worker at N = {}: replicated {}, ZeRO-1 {}, ZeRO-2 {}, ZeRO-3 {}\n", args->workers,
               human(worker["replicated"].get<double>(), "B"), human(worker["zero1"].get<double>(), "B"),
               human(worker["zero2"].get<double>(), "B"), human(worker["zero3"].get<double>(), "B"));
  });
}

}  // namespace parbench::cli
