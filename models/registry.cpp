// Workloads by name: one line per workload.
#include <functional>

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/workloads.h"

namespace parbench::models {

namespace {

using Factory = std::function<std::unique_ptr<Model>(Backend&, const ModelConfig&)>;

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> all = {
      {"violence", make_violence},
      {"shoplifting", make_shoplifting},
  };
  return all;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

std::unique_ptr<Model> make_model(const std::string& workload, Backend& backend, const ModelConfig& config) {
  for (const auto& [name, factory] : factories()) {
    if (name == workload) return factory(backend, config);
  }
  raise("unknown workload '{}'; valid workloads: {}", workload, fmt::join(model_names(), ", "));
}

}  // namespace parbench::models
