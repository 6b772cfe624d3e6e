// `task_graph` (design.md §4): the step as a oneTBB flow graph, built once and run every step, as a
// Dask-style scheduler runs a task graph. Replicas as in thread_pool (shared parameters, own
// gradients and activations, one BLAS thread). Nodes:
//   start -> forward+backward of shard w (w < N)
//   reduce[s] (one per parameter span, i.e. layer): fires once all N shards' backward passes have
//             reported span s ready (Model::GradientsReady), so late layers are summed while the
//             shards still run the backward of early ones
//   reduce[*] -> norm (clipping needs the global norm) -> update[p] (one optimizer per span, or
//             per piece of a span larger than 1/N of the parameters)
// The model runs a whole forward and backward per call, so forward and backward are one node per
// shard, not one per layer and shard: splitting them would need a per-layer model API.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include "core/check.h"
#include "core/error.h"
#include "strategies/replica.h"
#include "strategies/thread_replicas.h"

namespace parbench::strategies {

namespace {

namespace flow = tbb::flow;
using Node = flow::continue_node<flow::continue_msg>;

// The ranges of the update nodes: one per span (layer), a span larger than 1/N of the parameters
// cut into pieces of at most that size, so that the N threads share the update even when one layer
// holds most of the parameters (violence's first LSTM holds ~80%).
std::vector<FlatRange> update_ranges(const models::Model& model, int workers) {
  const std::size_t total = model.parameter_count();
  const std::size_t largest = (total + static_cast<std::size_t>(workers) - 1) / static_cast<std::size_t>(workers);
  std::vector<FlatRange> ranges;
  for (const models::LayerSpan& span : model.spans()) {
    const std::size_t pieces = (span.count + largest - 1) / largest;
    const std::vector<FlatRange> cut = split_evenly({span.offset, span.count}, static_cast<int>(pieces));
    ranges.insert(ranges.end(), cut.begin(), cut.end());
  }
  return ranges;
}

class TaskGraph final : public SharedReplicaStrategy {
 public:
  explicit TaskGraph(const StrategyOptions& options)
      // Shards waiting for each other in a BatchNorm sum suspend their tasks: the arena's threads
      // run the other shards meanwhile, so the sum cannot deadlock, even when fewer threads than
      // shards join the arena (a 2-core machine gives an arena of 4 at most 2 threads).
      : SharedReplicaStrategy(options, update_ranges, ShardSum::Wait::suspend), arena_(options.workers),
        losses_(static_cast<std::size_t>(options.workers)), shard_end_(static_cast<std::size_t>(options.workers)),
        reduce_begin_(replicas_.model(0).spans().size()), reduce_end_(replicas_.model(0).spans().size()),
        rates_(optimizer_.parts()) {
    const int n = options.workers;
    // A graph attaches to the arena it is built in, and runs its tasks there.
    arena_.execute([this] { build(); });
    if (Trace* trace = options_.trace.get()) {
      for (int w = 0; w < n; ++w) trace->name_track(w, fmt::format("shard {}", w));
      for (int t = 0; t < n; ++t) trace->name_track(n + t, fmt::format("graph thread {}", t));
    }
  }

  std::string name() const override { return "task_graph"; }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    if (rows > options_.max_batch) raise("a batch of {} rows exceeds --batch {}", rows, options_.max_batch);
    shards_ = batch_shards(rows, options_.workers);
    batch_ = &batch;
    rows_ = rows;
    step_ = step;
    failure_ = nullptr;
    failed_ = false;
    updates_ = 0;
    sums_.reset();

    const auto start = Clock::now();
    start_->try_put(flow::continue_msg());
    graph_->wait_for_all();
    const auto end = Clock::now();
    if (failure_) {
      // A failed shard leaves reductions with part of their N messages: start the next step clean.
      graph_->reset();
      std::rethrow_exception(failure_);
    }
    PB_CHECK(updates_ == optimizer_.parts(), "{} of {} parts updated: a span's gradients were never reported ready",
             updates_.load(), optimizer_.parts());

    StepResult result;
    result.samples = rows;
    for (const double loss : losses_) result.loss_sum += loss;  // shard order: fixed
    result.grad_norm = std::sqrt(squared_norm_);
    result.lr = rates_.front();
    const auto last_shard = *std::max_element(shard_end_.begin(), shard_end_.end());
    const auto last_reduce = *std::max_element(reduce_end_.begin(), reduce_end_.end());
    result.times.compute = std::chrono::duration<double>(last_shard - start).count();
    for (std::size_t s = 0; s < reduce_end_.size(); ++s) {
      result.times.communication += std::chrono::duration<double>(reduce_end_[s] - reduce_begin_[s]).count();
    }
    // Reductions still running after the last shard's backward were not hidden behind compute.
    result.times.exposed_communication = std::max(0.0, std::chrono::duration<double>(last_reduce - last_shard).count());
    result.times.optimizer = std::chrono::duration<double>(end - norm_begin_).count();
    const double synced = 4.0 * static_cast<double>(sums_.floats());
    result.bytes += synced;
    result.bus_bytes += synced * bus_factor("all_reduce", options_.workers);
    if (options_.workers > 1) {
      // Each span reduced onto replica 0: nccl-tests reduce, size = the gradients, bus factor 1.
      const double gradient_bytes = 4.0 * static_cast<double>(model().parameter_count());
      result.bytes += gradient_bytes;
      result.bus_bytes += gradient_bytes * bus_factor("reduce", options_.workers);
    }
    return result;
  }

 private:
  void build() {
    graph_ = std::make_unique<flow::graph>();
    flow::graph& g = *graph_;
    const int n = options_.workers;
    start_ = std::make_unique<flow::broadcast_node<flow::continue_msg>>(g);
    for (int w = 0; w < n; ++w) {
      shard_.push_back(std::make_unique<Node>(g, [this, w](const flow::continue_msg&) {
        guarded([&] { forward_backward_shard(w); });
        return flow::continue_msg();
      }));
      flow::make_edge(*start_, *shard_.back());
    }
    // The reductions have no edges in: the shards' GradientsReady hooks put their N messages.
    for (std::size_t s = 0; s < model().spans().size(); ++s) {
      reduce_.push_back(std::make_unique<Node>(g, n, [this, s](const flow::continue_msg&) {
        guarded([&] { reduce(s); });
        return flow::continue_msg();
      }));
    }
    norm_ = std::make_unique<Node>(g, [this](const flow::continue_msg&) {
      guarded([&] { norm(); });
      return flow::continue_msg();
    });
    for (auto& reduce : reduce_) flow::make_edge(*reduce, *norm_);
    for (std::size_t part = 0; part < optimizer_.parts(); ++part) {
      update_.push_back(std::make_unique<Node>(g, [this, part](const flow::continue_msg&) {
        guarded([&] { update(part); });
        return flow::continue_msg();
      }));
      flow::make_edge(*norm_, *update_.back());
    }
  }

  // Runs a node's work unless the step has already failed; a failure is kept for step() to
  // rethrow and releases the shards waiting in BatchNorm sums.
  template <class F>
  void guarded(const F& work) {
    if (failed_) return;
    try {
      work();
    } catch (...) {
      {
        const std::lock_guard lock(failure_mutex_);
        if (!failure_) failure_ = std::current_exception();
        failed_ = true;
      }
      sums_.fail(std::current_exception());
    }
  }

  // Track of the graph thread running a node (after the N shard tracks).
  int thread_track() const { return options_.workers + tbb::this_task_arena::current_thread_index(); }

  void forward_backward_shard(int w) {
    const Trace::Scope span(options_.trace.get(), w, "forward+backward");
    const auto i = static_cast<std::size_t>(w);
    kernels::Backend& backend = replicas_.backend(w);
    backend.set_threads(1);  // BLAS threads are per thread: whichever graph thread runs this shard
    models::Model& replica = replicas_.model(w);
    replica.zero_gradients();
    // One shard is the whole batch: no sum, and the same BatchNorm code path as serial.
    const bool sync = options_.sync_bn && options_.workers > 1;
    losses_[i] = forward_backward(replica, batch_->rows_from(shards_[i].begin), shards_[i].size(), shards_[i].begin,
                                  rows_, step_, options_, sync ? &sums_.of(w) : nullptr, ready_);
    backend.synchronize();
    shard_end_[i] = Clock::now();
  }

  void reduce(std::size_t span) {
    const models::LayerSpan& layer = model().spans()[span];
    const Trace::Scope trace(options_.trace.get(), thread_track(), "reduce " + layer.layer);
    reduce_begin_[span] = Clock::now();
    replicas_.reduce({layer.offset, layer.count}, backend());
    reduce_end_[span] = Clock::now();
  }

  void norm() {
    const Trace::Scope trace(options_.trace.get(), thread_track(), "norm");
    norm_begin_ = Clock::now();
    // One pass over the whole buffer, as serial computes it (one worker: the same bits).
    squared_norm_ = optimizer_.optimizer(0).squared_norm(model().gradient_data(), model().parameter_count());
  }

  void update(std::size_t part) {
    const Trace::Scope trace(options_.trace.get(), thread_track(), "optimizer");
    rates_[part] = optimizer_.update(part, model().parameter_data(), model().gradient_data(), squared_norm_, step_);
    backend().synchronize();
    ++updates_;
  }

  tbb::task_arena arena_;  // concurrency N: one thread per worker when the machine has them
  // Every shard's backward reports each span here: one of the N messages its reduction waits for.
  const models::Model::GradientsReady ready_ = [this](std::size_t span) {
    reduce_[span]->try_put(flow::continue_msg());
  };

  // The graph and its nodes, built once. The nodes refer to the graph: declared after it, they are
  // destroyed before it.
  std::unique_ptr<flow::graph> graph_;
  std::unique_ptr<flow::broadcast_node<flow::continue_msg>> start_;
  std::vector<std::unique_ptr<Node>> shard_, reduce_, update_;
  std::unique_ptr<Node> norm_;

  // This step, read and written by the nodes: every element has one writer, and the graph's
  // edges order the writes before the reads.
  std::vector<RowRange> shards_;
  const models::BatchView* batch_ = nullptr;
  int rows_ = 0;
  std::int64_t step_ = 0;
  std::vector<double> losses_;                                // per shard
  std::vector<Clock::time_point> shard_end_;                  // per shard
  std::vector<Clock::time_point> reduce_begin_, reduce_end_;  // per span
  Clock::time_point norm_begin_;
  double squared_norm_ = 0;
  std::vector<float> rates_;  // per update part: learning rate used
  std::atomic<std::size_t> updates_ = 0;
  std::atomic<bool> failed_ = false;
  std::mutex failure_mutex_;
  std::exception_ptr failure_;
};

}  // namespace

std::unique_ptr<Strategy> make_task_graph(const StrategyOptions& options) {
  return std::make_unique<TaskGraph>(options);
}

}  // namespace parbench::strategies
