// `thread_pool` (design.md §4): N persistent worker threads in one process, as a Joblib-style
// thread pool runs them. Each worker is a replica with its own activations and gradients (and one
// BLAS thread) that reads the one shared copy of the parameters, computes its shard of the batch,
// then sums one chunk of the flat gradient buffer over all replicas into replica 0's; after the
// global norm, each worker updates its chunk of the parameters. Three phases per step, each a run
// of every worker, so a worker that fails ends the step with its message and no worker waits.
#include <cmath>
#include <exception>

#include "core/error.h"
#include "strategies/replica.h"
#include "strategies/thread_replicas.h"

namespace parbench::strategies {

namespace {

// The flat buffer of `model` in `workers` contiguous chunks: worker w reduces and updates chunk w.
std::vector<FlatRange> chunks(const models::Model& model, int workers) {
  return split_evenly({0, model.parameter_count()}, workers);
}

class ThreadPool final : public SharedReplicaStrategy {
 public:
  explicit ThreadPool(const StrategyOptions& options)
      : SharedReplicaStrategy(options, chunks, ShardSum::Wait::block),
        losses_(static_cast<std::size_t>(options.workers)), rates_(static_cast<std::size_t>(options.workers)),
        workers_(options.workers) {
    // BLAS threads are per calling thread: each worker sets its own, once.
    workers_.run([this](int w) { replicas_.backend(w).set_threads(1); });
    if (Trace* trace = options_.trace.get()) {
      for (int w = 0; w < options.workers; ++w) trace->name_track(w, fmt::format("worker {}", w));
    }
  }

  std::string name() const override { return "thread_pool"; }

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
    const double synced = 4.0 * static_cast<double>(sums_.floats());
    result.bytes += synced;
    result.bus_bytes += synced * bus_factor("all_reduce", n);

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
      result.bus_bytes += gradient_bytes * bus_factor("reduce_scatter", n);
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

 private:
  std::vector<double> losses_;  // per worker: its shard's loss sum
  std::vector<float> rates_;    // per worker: the learning rate its update used
  WorkerThreads workers_;       // last: destroyed (joined) first
};

}  // namespace

std::unique_ptr<Strategy> make_thread_pool(const StrategyOptions& options) {
  return std::make_unique<ThreadPool>(options);
}

}  // namespace parbench::strategies
