// One in-memory batch of a workload's default shapes, shared by the step and strategy benchmarks
// so that their numbers are compute and communication only (no HDF5, no loader).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/model.h"

namespace parbench::bench {

// One batch of a workload's inputs and targets in host memory (the CPU backend uses it in place),
// shaped as the default ModelConfig expects: violence features (B, 20, 4096); shoplifting visual
// (B, 2048) and pose (B, 16 * 34). Inputs N(0, 1), targets uniform over each head's classes.
struct SyntheticBatch {
  std::map<std::string, std::vector<float>> inputs;
  std::map<std::string, std::vector<std::int32_t>> targets;

  SyntheticBatch(const models::Model& model, int batch) : rows_(batch) {
    const auto rows = static_cast<std::size_t>(batch);
    if (model.workload() == "violence") {
      inputs["features"].resize(rows * 20 * 4096);
    } else {
      inputs["visual"].resize(rows * 2048);
      inputs["pose"].resize(rows * 16 * 34);
    }
    std::uint64_t stream = 1;
    for (auto& [name, values] : inputs) {
      for (std::size_t i = 0; i < values.size(); ++i) values[i] = rng::normal(rng::hash(7, stream, i));
      ++stream;
    }
    for (const models::Head& head : model.heads()) {
      auto& labels = targets[head.target];
      labels.resize(rows);
      for (std::size_t i = 0; i < rows; ++i) {
        labels[i] = static_cast<std::int32_t>(rng::hash(9, stream, i) % static_cast<std::uint64_t>(head.classes));
      }
      ++stream;
    }
  }
  models::BatchView view() const {
    models::BatchView v;
    for (const auto& [name, values] : inputs) {
      v.inputs[name] = values.data();
      v.sample_floats[name] = static_cast<std::int64_t>(values.size()) / rows_;
    }
    for (const auto& [name, values] : targets) v.targets[name] = values.data();
    return v;
  }

 private:
  std::int64_t rows_;
};

}  // namespace parbench::bench
