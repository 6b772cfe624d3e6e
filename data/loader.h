// The training data loader: one rank's shard of a split, reshuffled every epoch, read in batches
// as HDF5 hyperslab selections and prefetched by K loader threads into a bounded queue.
// Batches depend only on (file, seed, epoch, rank, world, batch), never on K.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/chunk_reader.h"
#include "data/h5.h"
#include "data/prefetch.h"
#include "data/sampler.h"
#include "data/schema.h"

namespace parbench::data {

struct LoaderOptions {
  std::string group = "/";  // the split: "/" or "/train", "/val", ...
  std::string workload;     // expected workload; empty accepts the file's
  int rank = 0, world = 1;  // this rank's shard (DistributedSampler semantics, see sampler.h)
  std::int64_t batch = 32;  // per-rank batch size
  // Only rows [rows_begin, rows_end) of every batch (positions in its sorted index list; -1 = to
  // the end): a process's share of a global batch when the processes of a data-parallel job
  // read the same batches (world = 1) and split each one.
  std::int64_t rows_begin = 0, rows_end = -1;
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;
  int threads = 2;  // K loader threads; 0 reads synchronously inside next()
  int depth = 0;    // batches in memory at once; 0 = 2 * max(K, 1)
  // Reject NaN/Inf inputs as each batch is read (in the loader threads, so a failure surfaces from
  // next() for that batch, before any step uses it), naming file, dataset and sample.
  bool check_finite = true;
};

struct Tensor {
  std::vector<std::int64_t> shape;  // (B, ...)
  std::vector<float> values;
};

struct Batch {
  std::int64_t epoch = 0;
  std::int64_t index = 0;                                    // batch number within this rank's epoch
  std::vector<std::int64_t> samples;                         // sample indices in the split, ascending
  std::map<std::string, Tensor> inputs;                      // float32, by dataset name
  std::map<std::string, std::vector<std::int32_t>> targets;  // (B,) labels, by dataset name
  std::int64_t size() const { return static_cast<std::int64_t>(samples.size()); }
};

class Loader {
 public:
  // Opens and validates the split (schema, shapes, dtypes, labels) and checks the shard fits it.
  Loader(std::filesystem::path file, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const SplitInfo& info() const { return info_; }
  const LoaderOptions& options() const { return options_; }
  std::int64_t batches_per_epoch() const;
  // Reads batch b of `epoch` on the calling thread (what the loader threads do).
  Batch read(std::int64_t epoch, std::int64_t b) const;

  // Starts prefetching `epoch` from batch `first_batch` (a resumed run continues mid-epoch);
  // next() then yields the batches in order and std::nullopt after the last.
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  std::optional<Batch> next();
  // Time the consumer has waited inside next() since the loader was created.
  std::int64_t wait_ns() const;

 private:
  std::filesystem::path path_;
  LoaderOptions options_;
  ShardSpec shard_;
  SplitInfo info_;
  h5::File file_;
  struct Input {
    h5::Dataset dataset;
    std::unique_ptr<ChunkReader> chunks;  // the parallel path, when the layout allows it
  };
  std::map<std::string, Input> inputs_;
  std::map<std::string, std::vector<std::int32_t>> targets_;  // whole split: N int32 each
  std::unique_ptr<EpochPlan> plan_;                           // the epoch being prefetched
  std::int64_t plan_epoch_ = -1;
  std::unique_ptr<OrderedPrefetcher<Batch>> prefetcher_;
  std::int64_t finished_wait_ns_ = 0;
};

}  // namespace parbench::data
