// The worker threads, replicas sharing one parameter copy, the partitioned optimizer, the BatchNorm
// shard sum and the strategy over them, of the in-process strategies.
#include "strategies/thread_replicas.h"

#include "core/check.h"
#include "core/error.h"
#include "strategies/replica.h"

namespace parbench::strategies {

// NOLINTNEXTLINE(bugprone-throw-keyword-missing): a vector of exception_ptr, not an exception
WorkerThreads::WorkerThreads(int count) : errors_(static_cast<std::size_t>(count)) {
  for (int w = 0; w < count; ++w) threads_.emplace_back([this, w] { loop(w); });
}

WorkerThreads::~WorkerThreads() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void WorkerThreads::run(const std::function<void(int)>& job) {
  std::unique_lock lock(mutex_);
  job_ = &job;
  pending_ = threads_.size();
  ++generation_;
  start_.notify_all();
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  std::exception_ptr first;
  for (auto& error : errors_) {
    if (error && !first) first = error;
    error = nullptr;
  }
  if (first) std::rethrow_exception(first);
}

void WorkerThreads::loop(int worker) {
  std::uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    try {
      (*job)(worker);
    } catch (...) {
      errors_[static_cast<std::size_t>(worker)] = std::current_exception();  // read by run() after pending_ == 0
    }
    const std::lock_guard lock(mutex_);
    if (--pending_ == 0) done_.notify_one();
  }
}

// ---------------------------------------------------------------------------------------------

std::vector<FlatRange> split_evenly(FlatRange range, int parts) {
  std::vector<FlatRange> ranges;
  std::size_t offset = range.offset;
  for (const std::size_t size : even_parts(range.count, parts)) {
    ranges.push_back({offset, size});
    offset += size;
  }
  return ranges;
}

SharedReplicas::SharedReplicas(const StrategyOptions& options, int max_rows) {
  for (int r = 0; r < options.workers; ++r) {
    Replica& replica = replicas_.emplace_back();
    replica.backend = kernels::make_backend(options.backend, options.backend_options);
    replica.backend->set_threads(1);  // one worker per core: BLAS single-threaded inside workers
    replica.model = models::make_model(options.workload, *replica.backend, options.model);
    replica.model->allocate(max_rows);
  }
  // The others' own parameter copies are freed; their BatchNorm buffers already hold the initial
  // values (running mean 0, variance 1) that initialize() gives replica 0's.
  models::Model& first = model(0);
  first.initialize(options.seed);
  for (int r = 1; r < size(); ++r) model(r).share_parameters(first.parameter_data());
}

void SharedReplicas::reduce(FlatRange range, kernels::Backend& backend) {
  float* sum = model(0).gradient_data() + range.offset;
  for (int r = 1; r < size(); ++r) backend.axpy(sum, 1.0f, model(r).gradient_data() + range.offset, range.count);
  backend.synchronize();
}

FullState SharedReplicas::save() {
  models::Model& first = model(0);
  FullState state;
  state.parameters.resize(first.parameter_count());
  state.buffers.resize(first.buffer_count());
  backend(0).download(state.parameters.data(), first.parameter_data(), first.parameter_count());
  if (first.buffer_count()) backend(0).download(state.buffers.data(), first.buffer_data(), first.buffer_count());
  return state;
}

void SharedReplicas::load(const FullState& state) {
  models::Model& first = model(0);
  if (state.parameters.size() != first.parameter_count() || state.buffers.size() != first.buffer_count()) {
    raise("state has {} parameters and {} buffer values; the model has {} and {}", state.parameters.size(),
          state.buffers.size(), first.parameter_count(), first.buffer_count());
  }
  backend(0).upload(first.parameter_data(), state.parameters.data(), first.parameter_count());
  for (int r = 0; r < size(); ++r) {
    if (first.buffer_count()) backend(r).upload(model(r).buffer_data(), state.buffers.data(), first.buffer_count());
  }
}

// ---------------------------------------------------------------------------------------------

PartitionedOptimizer::PartitionedOptimizer(kernels::Backend& backend, const models::OptimizerConfig& config,
                                           std::vector<FlatRange> parts)
    : backend_(backend), parts_(std::move(parts)) {
  for (const FlatRange& part : parts_) {
    optimizers_.push_back(std::make_unique<models::Optimizer>(backend, config, part.count));
  }
}

std::size_t PartitionedOptimizer::state_floats() const {
  std::size_t floats = 0;
  for (const auto& optimizer : optimizers_) floats += optimizer->state_floats();
  return floats;
}

float PartitionedOptimizer::update(std::size_t part, float* parameters, float* gradients, double squared_norm,
                                   std::int64_t step) {
  const FlatRange range = parts_[part];
  return apply_update(*optimizers_[part], parameters + range.offset, gradients + range.offset, range.count,
                      squared_norm, step);
}

void PartitionedOptimizer::save(FullState& state) {
  if (!state_floats()) return;
  const std::size_t total = parts_.empty() ? 0 : parts_.back().offset + parts_.back().count;
  state.m.assign(total, 0.0f);
  state.v.assign(total, 0.0f);
  for (std::size_t p = 0; p < parts_.size(); ++p) {
    backend_.download(state.m.data() + parts_[p].offset, optimizers_[p]->m(), parts_[p].count);
    backend_.download(state.v.data() + parts_[p].offset, optimizers_[p]->v(), parts_[p].count);
  }
}

void PartitionedOptimizer::load(const FullState& state) {
  if (!state_floats()) return;
  const std::size_t total = parts_.empty() ? 0 : parts_.back().offset + parts_.back().count;
  if (state.m.size() != total || state.v.size() != total) {
    raise("state has {} and {} Adam moments; the model has {} parameters", state.m.size(), state.v.size(), total);
  }
  for (std::size_t p = 0; p < parts_.size(); ++p) {
    backend_.upload(optimizers_[p]->m(), state.m.data() + parts_[p].offset, parts_[p].count);
    backend_.upload(optimizers_[p]->v(), state.v.data() + parts_[p].offset, parts_[p].count);
  }
}

// ---------------------------------------------------------------------------------------------

ShardSum::ShardSum(std::vector<kernels::Backend*> backends, Wait wait)
    : backends_(std::move(backends)), wait_(wait), values_(backends_.size(), nullptr) {
  for (std::size_t s = 0; s < backends_.size(); ++s) {
    functions_.emplace_back([this, s](float* values, std::size_t n) { sum(static_cast<int>(s), values, n); });
  }
}

void ShardSum::reset() {
  const std::lock_guard lock(mutex_);
  PB_CHECK(arrived_ == 0 || failure_, "a BatchNorm sum of the last step is incomplete ({} shards arrived)", arrived_);
  PB_CHECK(suspended_.empty(), "shards still suspended in a BatchNorm sum");
  failure_ = nullptr;
  arrived_ = 0;
  floats_ = 0;
}

void ShardSum::fail(std::exception_ptr error) {
  const std::lock_guard lock(mutex_);
  if (!failure_) failure_ = std::move(error);
  release_waiters();
}

std::size_t ShardSum::floats() const {
  const std::lock_guard lock(mutex_);
  return floats_;
}

std::size_t ShardSum::scratch_bytes() const {
  const std::lock_guard lock(mutex_);
  return (staging_.capacity() + total_.capacity()) * sizeof(float);
}

void ShardSum::sum(int shard, float* values, std::size_t n) {
  std::unique_lock lock(mutex_);
  if (failure_) std::rethrow_exception(failure_);
  if (arrived_ == 0) {
    count_ = n;
  } else {
    PB_CHECK(n == count_, "shard {} sums {} BatchNorm values, the others {}", shard, n, count_);
  }
  values_[static_cast<std::size_t>(shard)] = values;
  const std::uint64_t round = round_;
  if (++arrived_ < static_cast<int>(backends_.size())) {
    wait_for_round(lock, round);
    return;
  }
  // Last to arrive: the shards' arrays to the host, added in shard order, the sum back to each.
  const std::size_t shards = backends_.size();
  staging_.resize(shards * n);
  total_.resize(n);
  for (std::size_t s = 0; s < shards; ++s) {
    if (n) backends_[s]->download(staging_.data() + s * n, values_[s], n);
  }
  for (std::size_t i = 0; i < n; ++i) {
    float total = staging_[i];
    for (std::size_t s = 1; s < shards; ++s) total += staging_[s * n + i];
    total_[i] = total;
  }
  for (std::size_t s = 0; s < shards; ++s) {
    if (n) backends_[s]->upload(values_[s], total_.data(), n);
  }
  floats_ += n;
  arrived_ = 0;
  ++round_;
  release_waiters();
}

void ShardSum::wait_for_round(std::unique_lock<std::mutex>& lock, std::uint64_t round) {
  if (wait_ == Wait::block) {
    released_.wait(lock, [&] { return round_ != round || failure_; });
  } else {
    lock.unlock();
    // The callback runs once this task is suspended; the last shard may have completed the round
    // in between, in which case this shard resumes itself at once.
    tbb::task::suspend([&](tbb::task::suspend_point tag) {
      const std::lock_guard guard(mutex_);
      if (round_ != round || failure_) {
        tbb::task::resume(tag);
      } else {
        suspended_.push_back(tag);
      }
    });
    lock.lock();
  }
  // A round completed by every shard counts even when a shard failed right after it.
  if (round_ != round) return;
  PB_CHECK(failure_ != nullptr, "shard resumed before its BatchNorm sum completed");
  std::rethrow_exception(failure_);
}

void ShardSum::release_waiters() {
  for (const tbb::task::suspend_point tag : suspended_) tbb::task::resume(tag);
  suspended_.clear();
  released_.notify_all();
}

// ---------------------------------------------------------------------------------------------

namespace {

// The ShardSum's shards: replica r's Backend is shard r's.
std::vector<kernels::Backend*> backends_of(SharedReplicas& replicas) {
  std::vector<kernels::Backend*> backends;
  backends.reserve(replicas.size());
  for (int r = 0; r < replicas.size(); ++r) backends.push_back(&replicas.backend(r));
  return backends;
}

}  // namespace

SharedReplicaStrategy::SharedReplicaStrategy(const StrategyOptions& options, Parts parts, ShardSum::Wait wait)
    : options_(options), replicas_(options, batch_shards(options.max_batch, options.workers).front().size()),
      optimizer_(replicas_.backend(0), options.optimizer, parts(replicas_.model(0), options.workers)),
      sums_(backends_of(replicas_), wait) {}

FullState SharedReplicaStrategy::state() {
  FullState s = replicas_.save();
  optimizer_.save(s);
  return s;
}

void SharedReplicaStrategy::load_state(const FullState& state) {
  replicas_.load(state);
  optimizer_.load(state);
}

MemoryReport SharedReplicaStrategy::memory(int batch) const {
  const models::Model& first = replicas_.model(0);
  const double p = static_cast<double>(first.parameter_count());
  MemoryReport report;
  report.parameters = 4 * p;
  report.gradients = 4 * p;
  report.optimizer_state = 4.0 * static_cast<double>(optimizer_.state_floats());
  report.activations = 4.0 * static_cast<double>(first.activation_floats_per_sample()) *
                       batch_shards(batch, replicas_.size()).front().size();
  report.communication = static_cast<double>(sums_.scratch_bytes());
  report.predicted_model_state = replicated_model_state_bytes(p, optimizer_.state_floats() ? 2 : 0);
  report.measured_peak = peak_resident_bytes();
  report.device_peak = static_cast<double>(first.backend().device_peak_bytes());
  return report;
}

}  // namespace parbench::strategies
