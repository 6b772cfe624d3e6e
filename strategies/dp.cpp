// `dp`: single-process data parallel in the style of torch.nn.DataParallel. N replicas, each with
// its own parameters, gradients, activations and Backend (one BLAS thread: a replica is one
// "device"), run by N persistent worker threads, as parallel_apply runs one thread per device
// (replica 0 too; the caller's thread is the master). Each step the master alone, one replica after
// another, scatters the batch, broadcasts replica 0's parameters and BatchNorm buffers, then, after
// the replicas' forward/backward, reduces their gradients onto replica 0 and steps the only
// optimizer. That serial master work is DataParallel's bottleneck; it is StepTimes.communication,
// all of it exposed, since nothing overlaps it.
#include <cmath>

#include "core/check.h"
#include "core/error.h"
#include "strategies/replica.h"
#include "strategies/thread_replicas.h"

namespace parbench::strategies {

namespace {

// One "device": a whole model with its own buffers, and this step's shard of the batch in its own
// input buffers (the scatter's destination).
struct Replica {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<models::Model> model;
  std::map<std::string, kernels::Buffer> inputs;  // per batch input: (max shard rows, sample floats)
  models::BatchView shard;                        // inputs in `inputs`, targets in the caller's batch
  std::unique_ptr<Comm> comm;                     // --sync-bn: the replicas' local communicator
  kernels::ReplicaSum sync;                       // BatchNorm statistics summed over the replicas
  double sync_seconds = 0;                        // this step's time blocked in `sync`
};

double total_bytes(const std::map<std::string, CommCounters>& counters) {
  double bytes = 0;
  for (const auto& [kind, c] : counters) bytes += c.bytes;
  return bytes;
}

class DataParallel final : public Strategy {
 public:
  explicit DataParallel(const StrategyOptions& options)
      : options_(options), max_shard_(batch_shards(options.max_batch, options.workers).front().size()) {
    const int n = options.workers;
    std::vector<std::unique_ptr<Comm>> comms;
    if (options.sync_bn) comms = make_local_comms(n);
    for (int r = 0; r < n; ++r) {
      Replica& replica = replicas_.emplace_back();
      replica.backend = kernels::make_backend(options.backend, options.backend_options);
      replica.model = models::make_model(options.workload, *replica.backend, options.model);
      replica.model->allocate(max_shard_);
      if (options.sync_bn) {
        replica.comm = std::move(comms[static_cast<std::size_t>(r)]);
        replica.sync = [this, r](float* values, std::size_t count) {
          Replica& self = replicas_[static_cast<std::size_t>(r)];
          const auto start = Clock::now();
          self.comm->all_reduce(values, count, Reduction::sum);
          self.sync_seconds += seconds_since(start);
        };
      }
    }
    // Only replica 0's parameters matter: the others receive them at every step's broadcast.
    model().initialize(options.seed);
    optimizer_ = std::make_unique<models::Optimizer>(backend(), options.optimizer, model().parameter_count());
    reduce_staging_ = kernels::Buffer(backend(), model().parameter_count());
    workers_ = std::make_unique<WorkerThreads>(n);
    // BLAS threads are per calling thread: each worker sets its own, once.
    workers_->run([this](int r) { replicas_[static_cast<std::size_t>(r)].backend->set_threads(1); });
    if (Trace* trace = options_.trace.get()) {
      trace->name_track(0, "replica 0 (master)");
      for (int r = 1; r < n; ++r) trace->name_track(r, fmt::format("replica {}", r));
    }
  }

  std::string name() const override { return "dp"; }
  models::Model& model() override { return *replicas_.front().model; }
  kernels::Backend& backend() override { return *replicas_.front().backend; }
  // Replica 0 evaluates whole batches (the trainer's contract): its activations grow from a shard
  // to the full batch at the first evaluation, not before, so training-only runs stay at a shard.
  models::Model& evaluation_model() override {
    if (model().max_batch() < options_.max_batch) model().allocate(options_.max_batch);
    return model();
  }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    if (rows > options_.max_batch) raise("a batch of {} rows exceeds --batch {}", rows, options_.max_batch);
    if (options_.sync_bn) {
      for (const Replica& replica : replicas_) {
        if (!replica.comm) raise("dp: a replica failed in an earlier step; its --sync-bn communicator is closed");
      }
    }
    const std::vector<RowRange> shards = batch_shards(rows, options_.workers);
    Trace* trace = options_.trace.get();
    StepResult result;
    result.samples = rows;

    // Master: the moves torch's DataParallel.forward makes before parallel_apply.
    const auto start = Clock::now();
    {
      const Trace::Scope span(trace, 0, "scatter");
      scatter(batch, shards, result);
    }
    {
      const Trace::Scope span(trace, 0, "broadcast");
      broadcast(result);
    }
    result.times.communication = seconds_since(start);

    const double sync_bytes_before = sync_bytes();
    std::vector<double> losses(replicas_.size());
    const auto compute = Clock::now();
    workers_->run([&](int r) {
      const Trace::Scope span(trace, r, "forward+backward");
      const auto i = static_cast<std::size_t>(r);
      Replica& replica = replicas_[i];
      replica.sync_seconds = 0;
      try {
        replica.model->zero_gradients();
        losses[i] = forward_backward(*replica.model, replica.shard, shards[i].size(), shards[i].begin, rows, step,
                                     options_, options_.sync_bn ? &replica.sync : nullptr, {});
        replica.backend->synchronize();
      } catch (...) {
        // The other replicas may be waiting for this one in a --sync-bn all-reduce: closing its
        // communicator makes theirs fail too instead of waiting forever.
        replica.comm.reset();
        throw;
      }
    });
    // Replica 0's time blocked in --sync-bn all-reduces is communication, not compute.
    const double sync_seconds = replicas_.front().sync_seconds;
    result.times.compute = seconds_since(compute) - sync_seconds;
    result.times.communication += sync_seconds;
    const double synced = sync_bytes() - sync_bytes_before;
    const double n = static_cast<double>(replicas_.size());
    result.bytes += synced;
    result.bus_bytes += synced * bus_factor("all_reduce", static_cast<int>(n));
    for (const double loss : losses) result.loss_sum += loss;  // replica order: fixed

    const auto reduce = Clock::now();
    {
      const Trace::Scope span(trace, 0, "reduce");
      reduce_gradients(result);
    }
    result.times.communication += seconds_since(reduce);
    result.times.exposed_communication = result.times.communication;

    const auto update = Clock::now();
    {
      const Trace::Scope span(trace, 0, "optimizer");
      float* grads = model().gradient_data();
      const std::size_t count = model().parameter_count();
      const double squared = optimizer_->squared_norm(grads, count);
      result.grad_norm = std::sqrt(squared);
      result.lr = apply_update(*optimizer_, model().parameter_data(), grads, count, squared, step);
      backend().synchronize();
    }
    result.times.optimizer = seconds_since(update);
    return result;
  }

  // Replica 0's buffers; the process holds N - 1 more replicas without optimizer state.
  MemoryReport memory(int batch) const override {
    const Replica& master = replicas_.front();
    const double p = static_cast<double>(master.model->parameter_count());
    MemoryReport report;
    report.parameters = 4 * p;
    report.gradients = 4 * p;
    report.optimizer_state = 4.0 * static_cast<double>(optimizer_->state_floats());
    report.activations = 4.0 * static_cast<double>(master.model->activation_floats_per_sample()) *
                         batch_shards(batch, options_.workers).front().size();
    report.communication = static_cast<double>(reduce_staging_.bytes());
    for (const auto& [name, buffer] : master.inputs) report.communication += static_cast<double>(buffer.bytes());
    report.predicted_model_state = replicated_model_state_bytes(p, optimizer_->state_floats() ? 2 : 0);
    report.measured_peak = peak_resident_bytes();
    report.device_peak = static_cast<double>(master.backend->device_peak_bytes());
    return report;
  }

 protected:
  models::Optimizer& optimizer() override { return *optimizer_; }

 private:
  // Each shard's inputs copied into its replica's buffers (DataParallel's scatter copies every
  // shard to its device, shard 0 too); targets stay in the caller's batch (torch computes the
  // loss from them on device 0). The message is the batch's inputs: nccl-tests scatter size, bus
  // factor (n - 1) / n.
  void scatter(const models::BatchView& batch, const std::vector<RowRange>& shards, StepResult& result) {
    const double n = static_cast<double>(replicas_.size());
    for (std::size_t r = 0; r < replicas_.size(); ++r) {
      Replica& replica = replicas_[r];
      const int rows = shards[r].size();
      replica.shard = batch.rows_from(shards[r].begin);
      for (const auto& [name, source] : replica.shard.inputs) {
        const double floats = static_cast<double>(rows) * static_cast<double>(batch.sample_floats.at(name));
        result.bytes += 4.0 * floats;
        result.bus_bytes += 4.0 * floats * bus_factor("scatter", static_cast<int>(n));
      }
      // A GPU replica stages its shard's inputs and targets on its device (Model::stage).
      if (!replica.backend->host_memory()) {
        replica.shard = replica.model->stage(replica.shard, rows);
        continue;
      }
      for (const auto& [name, source] : replica.shard.inputs) {
        const std::int64_t floats = batch.sample_floats.at(name);
        kernels::Buffer& buffer = replica.inputs[name];
        const auto capacity = static_cast<std::size_t>(max_shard_ * floats);
        if (buffer.size() != capacity) buffer = kernels::Buffer(*replica.backend, capacity);
        replica.backend->copy(buffer.data(), source, static_cast<std::size_t>(rows * floats));
        replica.shard.inputs[name] = buffer.data();
      }
      replica.backend->synchronize();
    }
  }

  // Replica 0's parameters and BatchNorm buffers copied to every other replica, one after another
  // (nccl-tests broadcast: size = the parameters and buffers, bus factor 1).
  void broadcast(StepResult& result) {
    Replica& master = replicas_.front();
    const std::size_t params = master.model->parameter_count(), buffers = master.model->buffer_count();
    for (std::size_t r = 1; r < replicas_.size(); ++r) {
      models::Model& replica = *replicas_[r].model;
      replicas_[r].backend->copy(replica.parameter_data(), master.model->parameter_data(), params);
      if (buffers) replicas_[r].backend->copy(replica.buffer_data(), master.model->buffer_data(), buffers);
      replicas_[r].backend->synchronize();
    }
    const int size = static_cast<int>(replicas_.size());
    if (size > 1) {
      result.bytes += 4.0 * static_cast<double>(params + buffers);
      result.bus_bytes += 4.0 * static_cast<double>(params + buffers) * bus_factor("broadcast", size);
    }
  }

  // Gradients of replicas 1..N-1 added onto replica 0's by the master alone, in replica order (so
  // dp is deterministic): each copied to replica 0's "device" first, then added, as torch's
  // comm.reduce_add does without NCCL. nccl-tests reduce: size = the gradients, bus factor 1.
  void reduce_gradients(StepResult& result) {
    kernels::Backend& master = backend();
    const std::size_t count = model().parameter_count();
    for (std::size_t r = 1; r < replicas_.size(); ++r) {
      master.copy(reduce_staging_.data(), replicas_[r].model->gradient_data(), count);
      master.axpy(model().gradient_data(), 1.0f, reduce_staging_.data(), count);
    }
    master.synchronize();
    const int size = static_cast<int>(replicas_.size());
    if (size > 1) {
      result.bytes += 4.0 * static_cast<double>(count);
      result.bus_bytes += 4.0 * static_cast<double>(count) * bus_factor("reduce", size);
    }
  }

  // Bytes replica 0 has all-reduced for --sync-bn so far.
  double sync_bytes() const {
    const Replica& master = replicas_.front();
    return master.comm ? total_bytes(master.comm->counters()) : 0.0;
  }

  StrategyOptions options_;
  int max_shard_;
  std::vector<Replica> replicas_;
  std::unique_ptr<models::Optimizer> optimizer_;
  kernels::Buffer reduce_staging_;  // (P): one replica's gradients on replica 0's device
  std::unique_ptr<WorkerThreads> workers_;
};

}  // namespace

std::unique_ptr<Strategy> make_dp(const StrategyOptions& options) { return std::make_unique<DataParallel>(options); }

}  // namespace parbench::strategies
