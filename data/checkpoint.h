// Training checkpoints (design.md §10): parameters, BatchNorm buffers, optimizer state, step and
// RNG state in one HDF5 file, named and shaped as in PyTorch so that h5py + torch can load them,
// written to a temporary name and renamed so that a failed save never leaves a partial file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::data {

inline constexpr std::string_view kCheckpointSchema = "parbench.checkpoint/1";

// One float32 tensor, row-major. shape {} is a 0-d tensor holding one value.
struct NamedTensor {
  std::string name;                 // PyTorch name, e.g. "lstm1.weight_ih_l0"
  std::vector<std::int64_t> shape;  // e.g. (512, 4096)
  std::vector<float> values;        // product(shape) values
};

struct Checkpoint {
  std::string workload, strategy;
  std::int64_t step = 0, epoch = 0;  // optimizer steps done; epochs completed
  std::uint64_t seed = 0;            // stored as the int64 with the same bits
  std::vector<NamedTensor> params;   // PyTorch names, e.g. "lstm1.weight_ih_l0" (512, 4096)
  std::vector<NamedTensor> buffers;  // BatchNorm running statistics, e.g. "bn1.running_mean"
  std::string optimizer;             // "adam" or "sgd"
  std::int64_t optimizer_step = 0;
  std::vector<NamedTensor> adam_m, adam_v;        // same names, order and shapes as params (empty for sgd)
  std::map<std::string, std::int64_t> rng;        // loader/dropout state: e.g. {"seed":..,"epoch":..,"batch":..}
  std::map<std::string, std::string> attributes;  // free-form extras (config as JSON text, ...)
};

// Layout: root attributes schema, workload, strategy, step, epoch, seed, created_by and the
// free-form `attributes`; groups /params and /buffers (one contiguous float32 dataset per tensor,
// named by its PyTorch name, in creation order); /optimizer (attributes name, step; groups m, v
// with one dataset per parameter); /rng (one int64 scalar attribute per entry).
//
// Validates the checkpoint first (values size against shape, names, m/v against params, reserved
// attribute names), then writes to a temporary name next to `path` and renames at the end.
// Refuses an existing file unless `overwrite`. Throws parbench::Error naming `path`.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint, bool overwrite);

// Loads and validates: schema, workload (when `expected_workload` is non-empty), every group,
// every dataset float32 with a simple or scalar dataspace, m/v names and shapes equal to params.
// Tensors come back in the order they were saved. Throws parbench::Error naming the file and the
// problem (missing file, not HDF5, truncated, other schema or workload, missing group or tensor).
Checkpoint load_checkpoint(const std::filesystem::path& path, std::string_view expected_workload);

}  // namespace parbench::data
