// `thread_pool` (design.md §4): N persistent worker threads in one process, as a Joblib-style
// thread pool runs them. Each worker is a replica with its own activations and gradients (and one
// BLAS thread) that reads the one shared copy of the parameters, computes its shard of the batch,
// then sums one chunk of the flat gradient buffer over all replicas into replica 0's; after the
// global norm, each worker updates its chunk of the parameters. Three phases per step, each a run
// of every worker, so a worker that fails ends the step with its message and no worker waits.
#include <cmath>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "strategies/replica.h"
#include "strategies/thread_replicas.h"

namespace parbench::strategies {

namespace {

// `count` persistent threads; run(job) calls job(worker) once on each and returns when all have.
class WorkerThreads {
 public:
  explicit WorkerThreads(int count) : errors_(static_cast<std::size_t>(count)) {
    for (int w = 0; w < count; ++w) threads_.emplace_back([this, w] { loop(w); });
  }
  ~WorkerThreads() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& thread : threads_) thread.join();
  }
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Rethrows the failure of the lowest-numbered worker that threw.
  void run(const std::function<void(int)>& job) {
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

 private:
  void loop(int worker) {
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

  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;
  std::size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
  std::vector<std::thread> threads_;  // last: the threads start once everything above exists
};

std::vector<kernels::Backend*> backends_of(SharedReplicas& replicas) {
  std::vector<kernels::Backend*> backends;
  for (int r = 0; r < replicas.size(); ++r) backends.push_back(&replicas.backend(r));
  return backends;
}

// The flat buffer of `count` floats in `workers` contiguous chunks: worker w reduces and updates
// chunk w.
std::vector<FlatRange> chunks(std::size_t count, int workers) {
  std::vector<FlatRange> ranges;
  std::size_t offset = 0;
  for (const std::size_t size : even_parts(count, workers)) {
    ranges.push_back({offset, size});
    offset += size;
  }
  return ranges;
}

class ThreadPool final : public Strategy {
 public:
  explicit ThreadPool(const StrategyOptions& options)
      : options_(options),
        replicas_(options, batch_shards(options.max_batch, options.workers).front().size()),
        optimizer_(replicas_.backend(0), options.optimizer,
                   chunks(replicas_.model(0).parameter_count(), options.workers)),
        sums_(backends_of(replicas_), ShardSum::Wait::block),
        losses_(static_cast<std::size_t>(options.workers)),
        rates_(static_cast<std::size_t>(options.workers)),
        workers_(options.workers) {
    // BLAS threads are per calling thread: each worker sets its own, once.
    workers_.run([this](int w) { replicas_.backend(w).set_threads(1); });
    if (Trace* trace = options_.trace.get()) {
      for (int w = 0; w < options.workers; ++w) trace->name_track(w, fmt::format("worker {}", w));
    }
  }

  std::string name() const override { return "thread_pool"; }
  models::Model& model() override { return replicas_.model(0); }
  kernels::Backend& backend() override { return replicas_.backend(0); }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    if (rows > options_.max_batch) raise("a batch of {} rows exceeds --batch {}", rows, options_.max_batch);
    const std::vector<RowRange> shards = batch_shards(rows, options_.workers);
    const int n = options_.workers;
    // One worker sees the whole batch: no sum, and the same BatchNorm code path as serial.
    const bool sync = options_.sync_bn && n > 1;
    Trace* trace = options_.trace.get();
    StepResult result;
    result.samples = rows;
    sums_.reset();

    const auto compute = Clock::now();
    workers_.run([&](int w) {
      const Trace::Scope span(trace, w, "forward+backward");
      const auto i = static_cast<std::size_t>(w);
      models::Model& replica = replicas_.model(w);
      try {
        replica.zero_gradients();
        losses_[i] = forward_backward(replica, batch.rows_from(shards[i].begin), shards[i].size(), shards[i].begin,
                                      rows, step, options_, sync ? &sums_.of(w) : nullptr, {});
        replicas_.backend(w).synchronize();
      } catch (...) {
        // The other workers may be waiting for this one in a BatchNorm sum.
        sums_.fail(std::current_exception());
        throw;
      }
    });
    result.times.compute = seconds_since(compute);
    for (const double loss : losses_) result.loss_sum += loss;  // shard order: fixed
    const double workers = static_cast<double>(n);
    const double synced = 4.0 * static_cast<double>(sums_.floats());
    result.bytes += synced;
    result.bus_bytes += synced * 2 * (workers - 1) / workers;  // nccl-tests all-reduce bus factor

    // Worker w sums chunk w over the replicas: a reduce-scatter onto replica 0's buffer (nccl-tests
    // size = the gradients, bus factor (n - 1) / n). Nothing overlaps it: all of it is exposed.
    const auto reduce = Clock::now();
    if (n > 1) {
      workers_.run([&](int w) {
        const Trace::Scope span(trace, w, "reduce");
        replicas_.reduce(optimizer_.range(static_cast<std::size_t>(w)), replicas_.backend(w));
      });
      const double gradient_bytes = 4.0 * static_cast<double>(model().parameter_count());
      result.bytes += gradient_bytes;
      result.bus_bytes += gradient_bytes * (workers - 1) / workers;
    }
    result.times.communication = seconds_since(reduce);
    result.times.exposed_communication = result.times.communication;

    const auto update = Clock::now();
    {
      // The norm over the whole buffer in one pass, as serial computes it (one worker: the same
      // bits); each worker then clips and updates its chunk.
      const Trace::Scope span(trace, 0, "norm");
      const double squared = optimizer_.optimizer(0).squared_norm(model().gradient_data(), model().parameter_count());
      result.grad_norm = std::sqrt(squared);
      workers_.run([&](int w) {
        const Trace::Scope chunk(trace, w, "optimizer");
        rates_[static_cast<std::size_t>(w)] = optimizer_.update(static_cast<std::size_t>(w), model().parameter_data(),
                                                                model().gradient_data(), squared, step);
        replicas_.backend(w).synchronize();
      });
    }
    result.lr = rates_.front();
    result.times.optimizer = seconds_since(update);
    return result;
  }

  FullState state() override {
    FullState s = replicas_.save();
    optimizer_.save(s);
    return s;
  }

  void load_state(const FullState& state) override {
    replicas_.load(state);
    optimizer_.load(state);
  }

  MemoryReport memory(int batch) const override { return shared_replica_memory(replicas_, optimizer_, sums_, batch); }

 protected:
  // Strategy's default state()/load_state() would read this as the whole buffer's optimizer; both
  // are overridden above, since the Adam state lives in the parts of optimizer_.
  models::Optimizer& optimizer() override { return optimizer_.optimizer(0); }

 private:
  StrategyOptions options_;
  SharedReplicas replicas_;
  PartitionedOptimizer optimizer_;  // part w: chunk w of the flat buffer
  ShardSum sums_;
  std::vector<double> losses_;  // per worker: its shard's loss sum
  std::vector<float> rates_;    // per worker: the learning rate its update used
  WorkerThreads workers_;       // last: destroyed (joined) first
};

}  // namespace

std::unique_ptr<Strategy> make_thread_pool(const StrategyOptions& options) {
  return std::make_unique<ThreadPool>(options);
}

}  // namespace parbench::strategies
