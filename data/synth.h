// `parbench data synth`: seeded, learnable synthetic datasets of the workloads' real shapes.
// Each sample is a pure function of (seed, global sample index), so data are identical whatever
// the block size, and a file of any N is written in blocks without holding N samples in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/h5.h"

namespace parbench::data {

struct SplitFraction {
  std::string name;  // group name: train, val, test
  double fraction = 1.0;
};

struct SynthOptions {
  std::string workload;
  std::int64_t samples = 0;
  std::uint64_t seed = 0;
  h5::Dtype dtype = h5::Dtype::f32;   // on disk: f32 or f16
  int gzip_level = 4;                 // 0 = uncompressed (still chunked)
  double positive_fraction = 0.5;     // share of class 1 (violent / anomaly); the seeds saw 0.22 and 0.5
  std::int64_t frames = 0;            // T; 0 = the workload default (violence 20, shoplifting pose 16)
  std::int64_t feature_dim = 4096;    // violence D
  std::int64_t chunk_samples = 0;     // samples per chunk; 0 = about 256 KiB of the largest input
  std::vector<SplitFraction> splits;  // empty: one split at the root
};

// Parses "train,val" (fractions 0.8/0.2; three names: 0.8/0.1/0.1) or "train=0.9,val=0.1".
std::vector<SplitFraction> parse_splits(const std::string& text);

// Samples per chunk for a sample of `sample_bytes`: about 256 KiB per chunk, at least one sample
// (random access reads whole chunks, so larger chunks would decompress unused samples).
std::int64_t default_chunk_samples(std::int64_t sample_bytes);

// Reported after each block written: samples done of all splits, their uncompressed bytes.
struct WriteProgress {
  std::string part;  // the split (synth) or the dataset (import) being written
  std::int64_t done = 0, total = 0;
  double bytes = 0;
  double seconds = 0;
};

struct WriteReport {
  std::int64_t samples = 0;
  std::uint64_t logical_bytes = 0;  // datasets' uncompressed size
  std::uint64_t stored_bytes = 0;   // datasets' size on disk
  double seconds = 0;
};

// Writes the dataset into `file` (the caller's temporary path); `progress` is called after each block.
WriteReport synthesize(const SynthOptions& options, const std::filesystem::path& file,
                       const std::function<void(const WriteProgress&)>& progress = {});

// Generates `count` samples starting at global index `first` into caller buffers sized for them:
// violence: features (count, T, D), labels (count). shoplifting: visual (count, 2048),
// pose (count, 16, 34), labels (count), action (count). Exposed for tests.
struct SynthBlock {
  std::vector<float> features, visual, pose;
  std::vector<std::int32_t> labels, action;
};
void generate(const SynthOptions& options, std::int64_t first, std::int64_t count, SynthBlock& block);

}  // namespace parbench::data
