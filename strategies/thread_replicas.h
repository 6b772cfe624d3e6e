// What the in-process strategies share (design.md §4). `dp`, `thread_pool` and `task_graph`: N
// replicas run by worker threads in one process. `thread_pool` and `task_graph`: N replicas of the
// model that all read replica 0's parameters but keep their own gradients, activations and Backend
// (one BLAS thread each); the optimizer split into parts of the flat buffer that update in
// parallel; the sum over the replicas that synchronised BatchNorm calls; and the Strategy built
// from these three.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <tbb/task.h>

#include "strategies/strategy.h"

namespace parbench::strategies {

// `count` persistent threads; run(job) calls job(worker) once on each and returns when all have.
class WorkerThreads {
 public:
  explicit WorkerThreads(int count);
  ~WorkerThreads();
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Rethrows the failure of the lowest-numbered worker that threw.
  void run(const std::function<void(int)>& job);

 private:
  void loop(int worker);

  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;
  std::size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
  std::vector<std::thread> threads_;  // last: the threads start once everything above exists
};

// [offset, offset + count) of the flat parameter (and gradient) buffer.
struct FlatRange {
  std::size_t offset = 0, count = 0;
};

// `range` cut into `parts` contiguous ranges of the sizes even_parts gives, in order.
std::vector<FlatRange> split_evenly(FlatRange range, int parts);

// N replicas bound to one copy of the parameters: replica 0's. Each replica allocates activations
// for `max_rows` rows (the largest shard).
class SharedReplicas {
 public:
  SharedReplicas(const StrategyOptions& options, int max_rows);

  int size() const { return static_cast<int>(replicas_.size()); }
  models::Model& model(int replica) { return *replicas_[static_cast<std::size_t>(replica)].model; }
  const models::Model& model(int replica) const { return *replicas_[static_cast<std::size_t>(replica)].model; }
  kernels::Backend& backend(int replica) { return *replicas_[static_cast<std::size_t>(replica)].backend; }

  // Replica 0's gradients in `range` += those of replicas 1..N-1, added one replica after another:
  // every element is g0 + g1 + ... + g(N-1) in that order, whichever thread runs it and however the
  // buffer is cut into ranges, so the result repeats bitwise. `backend` does the additions.
  void reduce(FlatRange range, kernels::Backend& backend);

  // The parameters and replica 0's BatchNorm buffers (m and v are the optimizer's).
  FullState save();
  // The parameters into the shared copy; the BatchNorm running statistics into every replica, so
  // that all replicas continue from the same statistics.
  void load(const FullState& state);

 private:
  struct Replica {
    std::unique_ptr<kernels::Backend> backend;
    std::unique_ptr<models::Model> model;
  };
  std::vector<Replica> replicas_;
};

// The optimizer over the whole flat buffer, as one models::Optimizer per part so that the parts
// update in parallel. Adam and SGD are element-wise and clipping scales by one global factor, so the
// parts together compute exactly what one optimizer over the whole buffer computes; m and v are
// the parts' states side by side.
class PartitionedOptimizer {
 public:
  PartitionedOptimizer(kernels::Backend& backend, const models::OptimizerConfig& config, std::vector<FlatRange> parts);

  std::size_t parts() const { return parts_.size(); }
  FlatRange range(std::size_t part) const { return parts_[part]; }
  models::Optimizer& optimizer(std::size_t part) { return *optimizers_[part]; }
  std::size_t state_floats() const;  // m and v of all parts

  // Clipping with the global norm, then the update of one part of `parameters` (the whole flat
  // buffer) from the same part of `gradients`; returns the learning rate.
  float update(std::size_t part, float* parameters, float* gradients, double squared_norm, std::int64_t step);

  // m and v of the whole buffer (empty for SGD) into `state`, and back.
  void save(FullState& state);
  void load(const FullState& state);

 private:
  kernels::Backend& backend_;
  std::vector<FlatRange> parts_;
  std::vector<std::unique_ptr<models::Optimizer>> optimizers_;
};

// The kernels::ReplicaSum of synchronised BatchNorm for N shards of one batch run in one process.
// Each shard's call waits for the other shards' calls of the same round; the last to arrive adds
// the N arrays element-wise in shard order 0..N-1 (so the sum repeats bitwise and is the same on
// every shard) and hands the sum to all. A shard that fails calls fail(): every shard waiting, or
// arriving later in the step, then throws that failure instead of waiting for a call that never
// comes.
class ShardSum {
 public:
  // How a shard waits for the others. `block`: the thread sleeps (one dedicated thread per shard,
  // so all shards always run). `suspend`: the shard is a oneTBB task and suspends itself
  // (tbb::task::suspend), which frees its thread for the other shards' tasks: no deadlock even
  // when the arena has fewer threads than shards.
  enum class Wait { block, suspend };

  ShardSum(std::vector<kernels::Backend*> backends, Wait wait);
  ShardSum(const ShardSum&) = delete;  // the functions point at this object
  ShardSum& operator=(const ShardSum&) = delete;

  // The function shard `shard` passes to forward_backward as `sync`.
  const kernels::ReplicaSum& of(int shard) const { return functions_[static_cast<std::size_t>(shard)]; }
  // Before each step: forgets the previous step's failure.
  void reset();
  void fail(std::exception_ptr error);
  // Floats summed per shard since the last reset (the message sizes of the step's all-reduces).
  std::size_t floats() const;
  // Host scratch held for the sums.
  std::size_t scratch_bytes() const;

 private:
  void sum(int shard, float* values, std::size_t n);
  void wait_for_round(std::unique_lock<std::mutex>& lock, std::uint64_t round);
  void release_waiters();  // with mutex_ held

  std::vector<kernels::Backend*> backends_;
  Wait wait_;
  std::vector<kernels::ReplicaSum> functions_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::vector<tbb::task::suspend_point> suspended_;
  std::vector<float*> values_;  // per shard: this round's device array
  std::vector<float> staging_;  // (N, n): the shards' arrays on the host
  std::vector<float> total_;    // (n)
  std::size_t count_ = 0;       // n of this round
  std::size_t floats_ = 0;
  int arrived_ = 0;
  std::uint64_t round_ = 0;
  std::exception_ptr failure_;
};

// A strategy over SharedReplicas (thread_pool, task_graph): the replicas of its workers, its
// PartitionedOptimizer and its ShardSum, and the state, memory and model it reports from them. The
// subclass runs the steps.
class SharedReplicaStrategy : public Strategy {
 public:
  models::Model& model() override { return replicas_.model(0); }
  kernels::Backend& backend() override { return replicas_.backend(0); }
  // The replicas' parameters and BatchNorm buffers with the optimizer parts' m and v, and back.
  FullState state() override;
  void load_state(const FullState& state) override;
  // Design.md §4's memory report for worker 0: it holds the parameters every replica reads, its
  // own gradients and activations (its shard of `batch`), and the whole optimizer state; the other
  // workers hold gradients and activations of their own.
  MemoryReport memory(int batch) const override;

 protected:
  // The optimizer's parts of `model`'s flat buffer for `workers` workers.
  using Parts = std::vector<FlatRange> (*)(const models::Model& model, int workers);

  // options.workers replicas, each with activations for the largest shard of options.max_batch;
  // the optimizer in parts(replica 0's model, options.workers); the shards of a BatchNorm sum wait
  // as `wait` says.
  SharedReplicaStrategy(const StrategyOptions& options, Parts parts, ShardSum::Wait wait);

  // Strategy's default state()/load_state() would read this as the whole buffer's optimizer; both
  // are overridden above, since the Adam state lives in the parts of optimizer_.
  models::Optimizer& optimizer() override { return optimizer_.optimizer(0); }

  StrategyOptions options_;
  SharedReplicas replicas_;
  PartitionedOptimizer optimizer_;
  ShardSum sums_;
};

}  // namespace parbench::strategies
