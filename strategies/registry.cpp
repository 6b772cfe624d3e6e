// Strategies by name: one line per strategy.
#include <sys/resource.h>

#include <functional>

#include <fmt/ranges.h>

#include "core/error.h"
#include "strategies/strategy.h"

namespace parbench::strategies {

std::unique_ptr<Strategy> make_serial(const StrategyOptions& options);
std::unique_ptr<Strategy> make_thread_pool(const StrategyOptions& options);
std::unique_ptr<Strategy> make_task_graph(const StrategyOptions& options);
std::unique_ptr<Strategy> make_zero(const StrategyOptions& options);
std::unique_ptr<Strategy> make_dp(const StrategyOptions& options);
std::unique_ptr<Strategy> make_ddp(const StrategyOptions& options);

namespace {

using Factory = std::function<std::unique_ptr<Strategy>(const StrategyOptions&)>;

struct Entry {
  std::string name;
  Factory factory;
  bool processes = false;  // one MPI process per worker: --workers is the launcher's world size
};

const std::vector<Entry>& factories() {
  static const std::vector<Entry> all = {
      {"serial", make_serial},
      {"thread_pool", make_thread_pool},
      {"task_graph", make_task_graph},
      {"zero", make_zero, true},
      {"dp", make_dp},
      {"ddp", make_ddp, true},
  };
  return all;
}

}  // namespace

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.name);
  return names;
}

bool one_process_per_worker(std::string_view name) {
  for (const auto& entry : factories()) {
    if (entry.name == name) return entry.processes;
  }
  return false;
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyOptions& options) {
  for (const auto& entry : factories()) {
    if (entry.name == name) return entry.factory(options);
  }
  raise("unknown strategy '{}'; valid strategies: {}", name, fmt::join(strategy_names(), ", "));
}

models::BatchView view_of(const data::Batch& batch) {
  models::BatchView view;
  for (const auto& [name, tensor] : batch.inputs) {
    view.inputs[name] = tensor.values.data();
    std::int64_t floats = 1;
    for (std::size_t i = 1; i < tensor.shape.size(); ++i) floats *= tensor.shape[i];
    view.sample_floats[name] = floats;
  }
  for (const auto& [name, labels] : batch.targets) view.targets[name] = labels.data();
  return view;
}

double peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

}  // namespace parbench::strategies
