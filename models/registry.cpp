// Workloads by name: one line per workload.
#include <functional>

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/workloads.h"

namespace parbench::models {

namespace {

using Factory = std::function<std::unique_ptr<Model>(Backend&, const ModelConfig&)>;

struct Entry {
  std::string name;
  Factory make;
  kernels::LossSpec loss;
};

const std::vector<Entry>& factories() {
  using Kind = kernels::LossSpec::Kind;
  static const std::vector<Entry> all = {
      {"violence", make_violence, {Kind::focal, 0.1f, 0.25f, 2.0f}},
      {"shoplifting", make_shoplifting, {Kind::cross_entropy, 0.0f}},
  };
  return all;
}

const Entry& entry(const std::string& workload) {
  for (const auto& e : factories()) {
    if (e.name == workload) return e;
  }
  raise("unknown workload '{}'; valid workloads: {}", workload, fmt::join(model_names(), ", "));
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& e : factories()) names.push_back(e.name);
  return names;
}

std::unique_ptr<Model> make_model(const std::string& workload, Backend& backend, const ModelConfig& config) {
  return entry(workload).make(backend, config);
}

kernels::LossSpec default_loss(const std::string& workload) { return entry(workload).loss; }

}  // namespace parbench::models
