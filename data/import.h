// `parbench data import`: NumPy .npy feature caches (what the seed pipelines wrote with np.save)
// into a parbench HDF5 dataset, streamed in blocks so files larger than memory import.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "data/synth.h"

namespace parbench::data {

struct ImportOptions {
  std::string workload;
  // One .npy per dataset of the workload, by dataset name: violence {features, labels};
  // shoplifting {visual, pose, labels, action}.
  std::map<std::string, std::filesystem::path> files;
  h5::Dtype dtype = h5::Dtype::f32;  // on disk
  int gzip_level = 4;
  std::int64_t chunk_samples = 0;  // 0 = default_chunk_samples
};

struct ImportReport : WriteReport {
  std::uint64_t input_bytes = 0;  // sum of the .npy file sizes
};

// Checks every input (format, dtype, shape, equal N, label range, finite values) and writes the
// dataset into `file`, the caller's temporary path. Throws parbench::Error naming the .npy file.
ImportReport import_npy(const ImportOptions& options, const std::filesystem::path& file,
                        const std::function<void(const WriteProgress&)>& progress = {});

}  // namespace parbench::data
