// Loader: batches read through ChunkReader (raw chunks, decompressed in the loader threads) where
// the layout allows, else through HDF5's reads; float16 widened outside HDF5.
#include "data/loader.h"

#include "core/half.h"

namespace parbench::data {

Loader::Loader(std::filesystem::path file, LoaderOptions options)
    : path_(std::move(file)), options_(std::move(options)), file_(h5::open_read(path_)) {
  info_ = validate_split(file_.get(), options_.group, {.workload = options_.workload, .scan_values = false});
  shard_ = ShardSpec{.samples = info_.samples,
                     .rank = options_.rank,
                     .world = options_.world,
                     .batch = options_.batch,
                     .seed = options_.seed,
                     .shuffle = options_.shuffle,
                     .drop_last = options_.drop_last};
  try {
    validate(shard_);
  } catch (const Error& error) {
    raise("{}:{}: {}", path_.string(), options_.group, error.what());
  }
  if (options_.threads < 0) raise("loader threads must be >= 0 (got {})", options_.threads);
  if (options_.rows_begin < 0 || (options_.rows_end >= 0 && options_.rows_end <= options_.rows_begin)) {
    raise("loader rows [{}, {}) of each batch are empty", options_.rows_begin, options_.rows_end);
  }
  if (options_.depth <= 0) options_.depth = 2 * std::max(options_.threads, 1);

  const WorkloadSpec& spec = workload_spec(info_.workload);
  const std::string prefix = options_.group == "/" ? "/" : options_.group + "/";
  for (const auto* input : spec.inputs()) {
    Input& slot = inputs_[input->name];
    slot.dataset = h5::open_dataset(file_.get(), prefix + input->name);
    slot.chunks = std::make_unique<ChunkReader>(slot.dataset.get());
  }
  for (const auto* target : spec.targets()) {
    h5::Dataset dataset = h5::open_dataset(file_.get(), prefix + target->name);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(info_.samples));
    h5::read_rows(dataset.get(), H5T_NATIVE_INT32, 0, info_.samples, labels.data());
    targets_.emplace(target->name, std::move(labels));
  }
}

Loader::~Loader() = default;

std::int64_t Loader::batches_per_epoch() const { return data::batches_per_epoch(shard_); }

Batch Loader::read(std::int64_t epoch, std::int64_t b) const {
  Batch batch;
  batch.epoch = epoch;
  batch.index = b;
  batch.samples = plan_ && epoch == plan_epoch_ ? plan_->batch(b) : EpochPlan(shard_, epoch).batch(b);
  const auto all = static_cast<std::int64_t>(batch.samples.size());
  const std::int64_t end = options_.rows_end < 0 ? all : std::min(options_.rows_end, all);
  const std::int64_t begin = std::min(options_.rows_begin, end);
  if (begin > 0 || end < all) {
    batch.samples = std::vector<std::int64_t>(batch.samples.begin() + begin, batch.samples.begin() + end);
  }
  const auto rows = static_cast<std::int64_t>(batch.samples.size());
  thread_local std::vector<std::uint16_t> halves;
  for (const auto& [name, input] : inputs_) {
    const FieldInfo& field = info_.fields.at(name);
    Tensor tensor;
    tensor.shape = field.shape;
    tensor.shape[0] = rows;
    std::int64_t row_elements = 1;
    for (std::size_t i = 1; i < field.shape.size(); ++i) row_elements *= field.shape[i];
    const auto n = static_cast<std::size_t>(rows * row_elements);
    tensor.values.resize(n);
    // float16 is read raw and widened here: HDF5's own conversion of a custom float type is slow.
    void* raw = tensor.values.data();
    if (field.dtype == h5::Dtype::f16) {
      halves.resize(n);
      raw = halves.data();
    }
    if (input.chunks->usable()) {
      input.chunks->read_rows(batch.samples, raw);
    } else {
      const h5::Type half = h5::half_type();
      h5::read_rows(input.dataset.get(), field.dtype == h5::Dtype::f16 ? half.get() : H5T_NATIVE_FLOAT, batch.samples,
                    raw);
    }
    if (field.dtype == h5::Dtype::f16) half_to_float(halves.data(), tensor.values.data(), n);
    // Here, in the loader thread that read the batch and before any step can use it: one vectorised
    // pass over the whole batch, then, only when it fails, row by row to name the sample (its index
    // in the file's dataset; rows are packed in batch order).
    if (options_.check_finite && !all_finite(tensor.values)) {
      for (std::int64_t r = 0; r < rows; ++r) {
        check_finite(tensor.values.data() + r * row_elements, 1, row_elements,
                     batch.samples[static_cast<std::size_t>(r)],
                     path_.string() + ":" + (options_.group == "/" ? "/" : options_.group + "/") + name);
      }
    }
    batch.inputs.emplace(name, std::move(tensor));
  }
  for (const auto& [name, labels] : targets_) {
    std::vector<std::int32_t>& out = batch.targets[name];
    out.reserve(batch.samples.size());
    for (const std::int64_t sample : batch.samples) out.push_back(labels[static_cast<std::size_t>(sample)]);
  }
  return batch;
}

void Loader::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  if (prefetcher_) finished_wait_ns_ += prefetcher_->wait_ns();
  prefetcher_.reset();  // joins the previous epoch's threads before the plan changes
  plan_ = std::make_unique<EpochPlan>(shard_, epoch);
  plan_epoch_ = epoch;
  if (first_batch < 0 || first_batch > plan_->batches()) {
    raise("loader: batch {} outside the epoch's {} batches", first_batch, plan_->batches());
  }
  prefetcher_ = std::make_unique<OrderedPrefetcher<Batch>>(
      [this, epoch, first_batch](std::int64_t b) { return read(epoch, first_batch + b); },
      plan_->batches() - first_batch, options_.threads, options_.depth);
}

std::optional<Batch> Loader::next() {
  if (!prefetcher_) raise("loader: next() before start_epoch()");
  return prefetcher_->next();
}

std::int64_t Loader::wait_ns() const { return finished_wait_ns_ + (prefetcher_ ? prefetcher_->wait_ns() : 0); }

}  // namespace parbench::data
