// `ddp`: PyTorch DistributedDataParallel on CPU ranks. One Strategy per rank (an MPI process, or
// a thread over a `local` communicator in tests), each a full replica. Parameters and BatchNorm
// buffers start as rank 0's; gradients are all-reduced in buckets of ~bucket_bytes, built in reverse
// layer order, each started as soon as backward has finished its last layer so that communication
// overlaps the rest of backward; every rank then steps its own optimizer on the same gradients.
#include <algorithm>
#include <array>

#include "core/check.h"
#include "core/error.h"
#include "strategies/replica.h"

namespace parbench::strategies {

namespace {

// A contiguous range of the flat gradient buffer holding the gradients of spans
// first_span..last_span (forward order; backward reaches last_span first).
struct Bucket {
  std::size_t first_span = 0, last_span = 0;
  std::size_t offset = 0, count = 0;  // floats
};

// PyTorch's first bucket (_DEFAULT_FIRST_BUCKET_BYTES): small, so that the first all-reduce starts
// early in backward instead of waiting for 25 MiB of gradients.
constexpr std::size_t kFirstBucketBytes = std::size_t{1} << 20;

// PyTorch's rule in reverse span order: a span joins the open bucket; a bucket closes once it holds
// at least its cap (min(1 MiB, cap_bytes) for the first, cap_bytes after), so a bucket may exceed
// the cap by its last span, and cap 0 makes one bucket per span. Reverse order because backward
// produces the last layers' gradients first.
std::vector<Bucket> make_buckets(const std::vector<models::LayerSpan>& spans, std::size_t cap_bytes) {
  std::vector<Bucket> buckets;
  std::size_t bytes = 0;
  for (std::size_t s = spans.size(); s-- > 0;) {
    const std::size_t cap = buckets.size() == 1 ? std::min(kFirstBucketBytes, cap_bytes) : cap_bytes;
    if (buckets.empty() || bytes >= cap) {
      buckets.push_back({s, s, 0, 0});
      bytes = 0;
    }
    buckets.back().first_span = s;
    bytes += 4 * spans[s].count;
  }
  for (Bucket& b : buckets) {
    b.offset = spans[b.first_span].offset;
    b.count = spans[b.last_span].offset + spans[b.last_span].count - b.offset;
  }
  return buckets;
}

class DistributedDataParallel final : public Strategy {
 public:
  explicit DistributedDataParallel(const StrategyOptions& options)
      : options_(options), comm_(options.comm ? options.comm : std::shared_ptr<Comm>(make_world_comm())),
        backend_(kernels::make_backend(options.backend, on_local_rank(options.backend_options, *comm_))),
        model_(models::make_model(options.workload, *backend_, options.model)),
        optimizer_(*backend_, options.optimizer, model_->parameter_count()) {
    if (options.workers != comm_->size()) {
      raise("--workers {} but the MPI world has {} ranks: start with mpirun -np {}", options.workers, comm_->size(),
            options.workers);
    }
    backend_->set_threads(options.threads);
    model_->initialize(options.seed);
    model_->allocate(batch_shards(options.max_batch, comm_->size()).front().size());
    // Every rank starts from rank 0's state, as DDP's constructor does (here all ranks initialise
    // from the same seed, so this only matters after a rank-dependent change, but it is the contract).
    comm_->broadcast(model_->parameter_data(), model_->parameter_count(), 0);
    if (model_->buffer_count()) comm_->broadcast(model_->buffer_data(), model_->buffer_count(), 0);

    buckets_ = make_buckets(model_->spans(), options.bucket_bytes);
    bucket_of_span_.resize(model_->spans().size());
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      for (std::size_t s = buckets_[b].first_span; s <= buckets_[b].last_span; ++s) bucket_of_span_[s] = b;
    }
    sync_ = [this](float* values, std::size_t count) {
      const auto start = Clock::now();
      comm_->all_reduce(values, count, Reduction::sum);
      sync_seconds_ += seconds_since(start);
    };
    if (Trace* trace = options_.trace.get()) {
      trace->name_track(0, fmt::format("rank {}", comm_->rank()));
      trace->name_track(kCommTrack, fmt::format("comm {}", comm_->rank()));
    }
  }

  std::string name() const override { return "ddp"; }
  int process_rank() const override { return comm_->rank(); }
  int process_count() const override { return comm_->size(); }
  RowRange process_rows(int rows) const override {
    return batch_shards(rows, comm_->size())[static_cast<std::size_t>(comm_->rank())];
  }
  models::Model& model() override { return *model_; }
  kernels::Backend& backend() override { return *backend_; }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    if (rows > options_.max_batch) raise("a batch of {} rows exceeds --batch {}", rows, options_.max_batch);
    const RowRange mine = process_rows(rows);
    Trace* trace = options_.trace.get();
    const auto counters_before = comm_->counters();
    StepResult result;
    result.samples = rows;
    double exposed = 0;

    // DDP(broadcast_buffers=True): rank 0's BatchNorm running statistics at the start of every
    // forward, so that all ranks evaluate alike although each updates them from its own shard.
    if (model_->buffer_count()) {
      const Trace::Scope span(trace, 0, "broadcast buffers");
      const auto start = Clock::now();
      comm_->broadcast(model_->buffer_data(), model_->buffer_count(), 0);
      exposed += seconds_since(start);
    }

    std::vector<std::unique_ptr<Request>> requests(buckets_.size());
    std::vector<Clock::time_point> issued(buckets_.size());
    const auto launch = [&](std::size_t b) {
      issued[b] = Clock::now();
      requests[b] = comm_->all_reduce_async(model_->gradient_data() + buckets_[b].offset, buckets_[b].count,
                                            Reduction::sum);  // each shard's gradient is already / global rows
    };
    std::vector<std::size_t> unready(buckets_.size());
    for (std::size_t b = 0; b < buckets_.size(); ++b) unready[b] = buckets_[b].last_span - buckets_[b].first_span + 1;
    models::Model::GradientsReady ready;
    if (options_.overlap) {
      // Counted, not assumed in order: a model with branches (shoplifting) finishes spans out of order.
      ready = [&](std::size_t span) {
        backend_->synchronize();  // the bucket's gradients are computed before the comm thread reads them
        const std::size_t b = bucket_of_span_[span];
        PB_CHECK(unready[b] > 0, "span {} reported ready twice in one backward", span);
        if (--unready[b] == 0) launch(b);
      };
    }

    sync_seconds_ = 0;
    double loss = 0;
    const auto compute = Clock::now();
    {
      const Trace::Scope span(trace, 0, "forward+backward");
      model_->zero_gradients();
      loss = forward_backward(*model_, batch, mine.size(), mine.begin, rows, step, options_,
                              options_.sync_bn ? &sync_ : nullptr, ready);
      backend_->synchronize();
    }
    // Time blocked in --sync-bn all-reduces inside forward and backward is exposed communication.
    result.times.compute = seconds_since(compute) - sync_seconds_;
    exposed += sync_seconds_;
    if (!options_.overlap) {
      for (std::size_t b = 0; b < buckets_.size(); ++b) launch(b);
    }
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      PB_CHECK(requests[b], "bucket {} of {}: backward never reported spans {}..{} ready", b, buckets_.size(),
               buckets_[b].first_span, buckets_[b].last_span);
    }
    // The loss for reporting: a double sent as two floats (high part, rounding remainder), so the
    // sum keeps about 48 bits.
    std::array<float, 2> loss_parts = {static_cast<float>(loss), 0.0f};
    loss_parts[1] = static_cast<float>(loss - static_cast<double>(loss_parts[0]));
    const auto loss_request = comm_->all_reduce_async(loss_parts.data(), loss_parts.size(), Reduction::sum);

    {
      const Trace::Scope span(trace, 0, "wait");
      const auto start = Clock::now();
      for (std::size_t b = 0; b < buckets_.size(); ++b) {
        requests[b]->wait();
        // Issue to observed completion: the comm thread may have finished earlier than this wait.
        if (trace) {
          trace->span(kCommTrack,
                      fmt::format("all_reduce bucket {} ({:.2f} MiB) in flight", b,
                                  4.0 * static_cast<double>(buckets_[b].count) / (1 << 20)),
                      issued[b], Clock::now());
        }
      }
      loss_request->wait();
      exposed += seconds_since(start);
    }
    result.loss_sum = static_cast<double>(loss_parts[0]) + static_cast<double>(loss_parts[1]);
    result.times.exposed_communication = exposed;

    // Every rank holds the same summed gradients, so every rank computes the same norm and update.
    update_whole_replica(*model_, optimizer_, step, trace, result);

    for (const auto& [kind, after] : comm_->counters()) {
      const auto before = counters_before.find(kind);
      const CommCounters zero;
      const CommCounters& b = before == counters_before.end() ? zero : before->second;
      result.times.communication += after.seconds - b.seconds;
      result.bytes += after.bytes - b.bytes;
      result.bus_bytes += (after.bytes - b.bytes) * bus_factor(kind, comm_->size());
    }
    return result;
  }

  // The buckets are views of the flat gradient buffer (DDP's gradient_as_bucket_view=True): no
  // communication buffers beyond the two floats of the loss.
  MemoryReport memory(int batch) const override {
    return whole_replica_memory(*model_, optimizer_, process_rows(batch).size());
  }

 protected:
  models::Optimizer& optimizer() override { return optimizer_; }

 private:
  static constexpr int kCommTrack = 1000;  // trace.h: communication tracks are 1000 + worker

  StrategyOptions options_;
  std::shared_ptr<Comm> comm_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<models::Model> model_;
  models::Optimizer optimizer_;
  std::vector<Bucket> buckets_;  // in launch order when backward runs in reverse span order
  std::vector<std::size_t> bucket_of_span_;
  kernels::ReplicaSum sync_;  // --sync-bn: BatchNorm statistics all-reduced over the ranks
  double sync_seconds_ = 0;   // this step's time blocked in sync_
};

}  // namespace

std::unique_ptr<Strategy> make_ddp(const StrategyOptions& options) {
  return std::make_unique<DistributedDataParallel>(options);
}

}  // namespace parbench::strategies
