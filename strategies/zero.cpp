// `zero` (design.md §4): DeepSpeed ZeRO and PyTorch FSDP over the ranks of a Comm. Every rank
// computes its shard of the batch as in ddp, but the model state is split over the ranks:
//   stage 1: Adam m and v (gradients all-reduced, each rank updates its shard, parameters all-gathered);
//   stage 2: gradients too (each layer's gradient reduce-scattered as its backward ends = FSDP SHARD_GRAD_OP);
//   stage 3: parameters too (FSDP FULL_SHARD: each layer, a "unit", is all-gathered before its forward
//            and again before its backward and released after, the next unit prefetched).
// --hybrid G shards within groups of G consecutive ranks and replicates across the groups
// (HYBRID_SHARD): gradients are reduce-scattered in the group, then all-reduced across replicas
// (stage 1 all-reduces them over all ranks: every rank needs all of them for the norm).
// Every sum has a fixed order (the communicator's, and collectives issued in layer order), so runs
// repeat bitwise with or without --deterministic on the local communicator.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "core/check.h"
#include "core/error.h"
#include "strategies/replica.h"

namespace parbench::strategies {

namespace {

using kernels::Buffer;
using models::UnitEvent;

constexpr std::size_t kNone = std::size_t(-1);

// A contiguous range of the flat parameter buffer split over the G ranks of a shard group: rank
// q's part is counts[q] floats at offset + counts[0] + ... + counts[q - 1]. A rank's shard is the
// concatenation of its parts of a list of blocks, in order.
struct Block {
  std::size_t offset = 0;           // into the flat buffer
  std::vector<std::size_t> counts;  // (G)
  std::size_t part = 0;             // this rank's part: its offset within the block
  std::size_t mine = 0;             // ... its length
  std::size_t shard = 0;            // ... its offset within this rank's shard
  std::size_t count() const { return std::accumulate(counts.begin(), counts.end(), std::size_t(0)); }
};

Block make_block(std::size_t offset, std::vector<std::size_t> counts, int rank, std::size_t shard) {
  Block b;
  b.offset = offset;
  b.part = part_offsets(counts)[static_cast<std::size_t>(rank)];
  b.mine = counts[static_cast<std::size_t>(rank)];
  b.shard = shard;
  b.counts = std::move(counts);
  return b;
}

// Seconds and bytes of a set of communicators' collectives, summed over operation kinds.
struct Traffic {
  double seconds = 0, waited = 0, bytes = 0, bus_bytes = 0;
};

class Zero final : public Strategy {
 public:
  explicit Zero(const StrategyOptions& options) : options_(options), stage_(options.stage) {
    if (stage_ < 1 || stage_ > 3) raise("--stage {}: ZeRO stages are 1, 2 and 3", stage_);
    world_ = options.comm ? options.comm : make_world_comm();
    const int size = world_->size(), rank = world_->rank();
    if (options.workers != size) {
      raise(
          "strategy zero: --workers {} but the {} communicator has {} ranks (start one process per worker: "
          "mpirun -np {} parbench train ... --workers {})",
          options.workers, world_->name(), size, options.workers, options.workers);
    }
    if (options.hybrid < 0 || (options.hybrid > 0 && size % options.hybrid != 0)) {
      raise("--hybrid {}: the shard group size must divide the {} ranks", options.hybrid, size);
    }
    const int group = options.hybrid > 0 ? options.hybrid : size;
    comms_.push_back(world_.get());
    if (group == size) {
      group_ = world_;
    } else {
      // Groups of G consecutive ranks shard the state; ranks at the same place in every group
      // hold the same shard and sum its gradients (split is collective over the world: same order
      // on every rank).
      group_ = world_->split(rank / group, rank);
      replicas_ = world_->split(rank % group, rank);
      comms_.push_back(group_.get());
      comms_.push_back(replicas_.get());
    }
    track_ = rank;
    if (options.trace) options.trace->name_track(track_, fmt::format("rank {}", rank));

    backend_ = kernels::make_backend(options.backend, on_local_rank(options.backend_options, *world_));
    backend_->set_threads(options.threads);
    model_ = models::make_model(options.workload, *backend_, options.model);
    model_->initialize(options.seed);
    model_->allocate(options.max_batch);
    // Every rank initialised the same values from the same seed; rank 0's are broadcast anyway so
    // that a rank with a different build or seed cannot silently train another model.
    const std::size_t p = model_->parameter_count();
    world_->broadcast(model_->parameter_data(), p, 0);
    if (model_->buffer_count()) world_->broadcast(model_->buffer_data(), model_->buffer_count(), 0);

    build_sharding();
    optimizer_ = std::make_unique<models::Optimizer>(*backend_, options.optimizer, shard_count_);
    if (stage_ == 1) build_buckets();
    if (stage_ >= 2) {
      gradient_shard_ = Buffer(*backend_, shard_count_);
      for (auto& buffer : unit_gradients_) buffer = Buffer(*backend_, largest_unit_);
      model_->release_gradients();
    }
    if (stage_ == 3) {
      parameter_shard_ = Buffer(*backend_, shard_count_);
      for (const Block& b : shards_) {
        backend_->copy(parameter_shard_.data() + b.shard, model_->parameter_data() + b.offset + b.part, b.mine);
      }
      for (auto& buffer : gathered_) buffer = Buffer(*backend_, largest_unit_);
      model_->release_parameters();
    }
    scalars_ = Buffer(*backend_, 2 * static_cast<std::size_t>(size));
    units_hook_ = [this](std::size_t unit, UnitEvent event) { on_unit(unit, event); };
    ready_ = [this](std::size_t span) { on_ready(span); };
    sync_ = [this](float* values, std::size_t n) { world_->all_reduce(values, n, Reduction::sum); };
  }

  ~Zero() override {
    // After a failed step collectives may still be in flight on buffers this object owns: let them
    // finish (or fail, when a peer is gone) before the buffers are freed. Their errors are not
    // news: the exception that ended the step is already on its way.
    auto drain = [](std::unique_ptr<Request>& request) {
      if (!request) return;
      try {
        request->wait();
      } catch (const std::exception&) {
      }
      request.reset();
    };
    for (auto& slot : gathers_) drain(slot.request);
    for (auto& slot : reductions_) drain(slot.request);
    for (auto& request : pending_) drain(request);
  }

  std::string name() const override { return "zero"; }
  int process_rank() const override { return world_->rank(); }
  int process_count() const override { return world_->size(); }
  RowRange process_rows(int rows) const override {
    return batch_shards(rows, world_->size())[static_cast<std::size_t>(world_->rank())];
  }
  models::Model& model() override { return *model_; }
  kernels::Backend& backend() override { return *backend_; }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    release_evaluation_parameters();
    const RowRange mine = process_rows(rows);
    Trace* trace = options_.trace.get();
    StepResult result;
    result.samples = rows;
    const Traffic before = traffic();
    const auto start = Clock::now();
    double loss = 0;
    {
      const Trace::Scope span(trace, track_, "forward+backward");
      begin_gradients();
      loss = forward_backward(
          *model_, batch, mine.size(), mine.begin, rows, step, options_, options_.sync_bn ? &sync_ : nullptr,
          stage_ == 1 ? ready_ : models::Model::GradientsReady{}, stage_ == 1 ? nullptr : &units_hook_);
    }
    {
      const Trace::Scope span(trace, track_, "gradient reduction");
      finish_gradients();
    }
    const Traffic reduced = traffic();
    result.times.compute = seconds_since(start) - (reduced.waited - before.waited);

    const auto update = Clock::now();
    {
      const Trace::Scope span(trace, track_, "optimizer");
      const double squared = squared_gradient_norm();
      result.grad_norm = std::sqrt(squared);
      result.lr = apply_update(*optimizer_, parameter_shard(), gradient_shard(), shard_count_, squared, step);
      backend_->synchronize();
    }
    const Traffic updated = traffic();
    result.times.optimizer = seconds_since(update) - (updated.waited - reduced.waited);
    if (stage_ < 3) {
      // In place: this rank's part of the flat buffer is the shard it just updated.
      const Trace::Scope span(trace, track_, "all_gather parameters");
      group_->all_gather(model_->parameter_data(), shards_.front().counts);
    }
    result.loss_sum = sum_over(*world_, loss);

    const Traffic after = traffic();
    result.times.communication = after.seconds - before.seconds;
    result.times.exposed_communication = after.waited - before.waited;
    result.bytes = after.bytes - before.bytes;
    result.bus_bytes = after.bus_bytes - before.bus_bytes;
    return result;
  }

  models::Model& evaluation_model() override {
    // Without --sync-bn each rank's running statistics saw only its shards: evaluate (and save)
    // rank 0's everywhere, as DDP's broadcast_buffers does. With it they are identical already.
    if (!options_.sync_bn && model_->buffer_count())
      world_->broadcast(model_->buffer_data(), model_->buffer_count(), 0);
    if (stage_ == 3 && evaluation_parameters_.size() == 0) {
      // FSDP's summon_full_params: the full parameters, held until the next step.
      Buffer full(*backend_, model_->parameter_count());
      gather(parameter_shard_.data(), full.data());
      model_->share_parameters(full.data());
      evaluation_parameters_ = std::move(full);
    }
    return *model_;
  }

  FullState state() override {
    const std::size_t p = model_->parameter_count();
    FullState s;
    if (stage_ == 3) {
      s.parameters = gather_to_host(parameter_shard_.data());
    } else {
      s.parameters = download(model_->parameter_data(), p);
    }
    // Rank 0's BatchNorm statistics (identical on every rank under --sync-bn).
    s.buffers = download(model_->buffer_data(), model_->buffer_count());
    if (optimizer_->state_floats()) {
      s.m = gather_to_host(optimizer_->m());
      s.v = gather_to_host(optimizer_->v());
    }
    return s;
  }

  void load_state(const FullState& s) override {
    const std::size_t p = model_->parameter_count();
    const bool adam = optimizer_->state_floats() > 0;
    if (s.parameters.size() != p || s.buffers.size() != model_->buffer_count() ||
        (adam && (s.m.size() != p || s.v.size() != p))) {
      raise(
          "strategy zero: the state holds {} parameters, {} buffers and {}/{} Adam values; the model needs {}, {} "
          "and {}",
          s.parameters.size(), s.buffers.size(), s.m.size(), s.v.size(), p, model_->buffer_count(), adam ? p : 0);
    }
    release_evaluation_parameters();
    if (stage_ == 3) {
      upload_own(s.parameters, parameter_shard_.data());
    } else {
      backend_->upload(model_->parameter_data(), s.parameters.data(), p);
    }
    if (model_->buffer_count()) backend_->upload(model_->buffer_data(), s.buffers.data(), model_->buffer_count());
    if (adam) {
      upload_own(s.m, optimizer_->m());
      upload_own(s.v, optimizer_->v());
    }
  }

  // Sizes of the buffers this rank holds. The design's prediction (design.md §4, with N the shard
  // group size and P/N this rank's actual shard S, which is uneven when N does not divide P):
  //   stage 1: parameters 4P, gradients 4P, Adam 8S                        = 8P + 8S
  //   stage 2: parameters 4P, gradients 4S, Adam 8S                        = 4P + 12S
  //   stage 3: parameters 4S + one gathered unit 4U, gradients 4S, Adam 8S = 16S + 4U
  // What the prediction leaves out is reported under communication: stage 2 and 3's two unit-sized
  // gradient buffers (the unit being computed and the one being reduce-scattered), stage 3's
  // second gather buffer (the prefetched unit), and stage 3's full gathered copy (4P) while
  // evaluation_model() holds it (from that call to the next step).
  MemoryReport memory(int batch) const override {
    const double p = static_cast<double>(model_->parameter_count());
    const double s = static_cast<double>(shard_count_), u = static_cast<double>(largest_unit_);
    auto floats = [&](const Buffer& buffer) { return static_cast<double>(buffer.size()); };
    MemoryReport report;
    const bool full = model_->parameter_data() && evaluation_parameters_.size() == 0;
    report.parameters = 4 * ((full ? p : 0) + floats(parameter_shard_) + (stage_ == 3 ? floats(gathered_[0]) : 0));
    report.gradients = 4 * ((model_->gradient_data() ? p : 0) + floats(gradient_shard_));
    report.optimizer_state = 4.0 * static_cast<double>(optimizer_->state_floats());
    report.communication =
        4 * (floats(unit_gradients_[0]) + floats(unit_gradients_[1]) + (stage_ == 3 ? floats(gathered_[1]) : 0) +
             floats(scalars_) + floats(evaluation_parameters_));
    report.activations = 4.0 * static_cast<double>(model_->activation_floats_per_sample()) * process_rows(batch).size();
    const double adam = optimizer_->state_floats() ? 2 : 0;
    switch (stage_) {
      case 1: report.predicted_model_state = 4 * p + 4 * p + 4 * adam * s; break;
      case 2: report.predicted_model_state = 4 * p + 4 * s + 4 * adam * s; break;
      default: report.predicted_model_state = 4 * s * (2 + adam) + 4 * u; break;
    }
    report.measured_peak = peak_resident_bytes();
    report.device_peak = static_cast<double>(backend_->device_peak_bytes());
    return report;
  }

 protected:
  models::Optimizer& optimizer() override { return *optimizer_; }

 private:
  // A buffer owned by a collective until `request` completes, and which unit it holds.
  struct InFlight {
    std::size_t unit = kNone;
    std::unique_ptr<Request> request;
  };
  // Stage 1: a run of consecutive spans whose gradients are all-reduced together (ddp's buckets).
  struct Bucket {
    std::size_t offset = 0, count = 0;  // in the flat buffer
    int spans = 0, pending = 0;         // spans in it; those whose backward has not ended this step
  };

  // Stage 1 and 2 shard the flat buffer in G contiguous parts (DeepSpeed's flat partition); stage 3
  // shards every unit in G parts (FSDP's flat parameter per unit), so that gathering a unit needs
  // one all-gather. units_ say how each span's gradient is reduce-scattered: by unit for stage 3,
  // along the flat partition for stage 2 (so that the result lands in the owner's shard).
  void build_sharding() {
    const int ranks = group_->size(), me = group_->rank();
    const std::size_t p = model_->parameter_count();
    const auto& spans = model_->spans();
    largest_unit_ = 0;
    for (const auto& span : spans) largest_unit_ = std::max(largest_unit_, span.count);
    if (stage_ == 3) {
      std::size_t shard = 0;
      for (const auto& span : spans) {
        units_.push_back(make_block(span.offset, even_parts(span.count, ranks), me, shard));
        shard += units_.back().mine;
      }
      shards_ = units_;
    } else {
      shards_.push_back(make_block(0, even_parts(p, ranks), me, 0));
      const auto owners = part_offsets(shards_.front().counts);
      for (const auto& span : spans) {
        std::vector<std::size_t> counts(static_cast<std::size_t>(ranks), 0);
        for (std::size_t q = 0; q < counts.size(); ++q) {
          const std::size_t lo = std::max(span.offset, owners[q]);
          const std::size_t hi = std::min(span.offset + span.count, owners[q + 1]);
          if (hi > lo) counts[q] = hi - lo;
        }
        Block unit = make_block(span.offset, std::move(counts), me, 0);
        unit.shard = unit.mine ? span.offset + unit.part - shards_.front().part : 0;
        units_.push_back(std::move(unit));
      }
    }
    shard_count_ = 0;
    for (const Block& b : shards_) shard_count_ += b.mine;
  }

  // Buckets of at most options.bucket_bytes (at least one span each), filled in backward order.
  void build_buckets() {
    const auto& spans = model_->spans();
    bucket_of_span_.assign(spans.size(), 0);
    for (std::size_t s = spans.size(); s-- > 0;) {
      const std::size_t bytes = 4 * spans[s].count;
      if (buckets_.empty() || 4 * buckets_.back().count + bytes > options_.bucket_bytes) buckets_.emplace_back();
      Bucket& b = buckets_.back();
      b.offset = spans[s].offset;
      b.count += spans[s].count;
      ++b.spans;
      bucket_of_span_[s] = buckets_.size() - 1;
    }
  }

  float* parameter_shard() {
    return stage_ == 3 ? parameter_shard_.data() : model_->parameter_data() + shards_.front().part;
  }
  float* gradient_shard() {
    return stage_ == 1 ? model_->gradient_data() + shards_.front().part : gradient_shard_.data();
  }

  void begin_gradients() {
    if (stage_ == 1) {
      model_->zero_gradients();
      for (Bucket& b : buckets_) b.pending = b.spans;
    } else {
      reduced_.assign(units_.size(), 0);
    }
  }

  // Stage 1: a span's gradients are final; all-reduce its bucket once all of the bucket's are.
  void on_ready(std::size_t span) {
    Bucket& b = buckets_[bucket_of_span_[span]];
    PB_CHECK(b.pending > 0, "span {} reported ready twice in one backward", span);
    if (--b.pending == 0) {
      backend_->synchronize();  // the gradients are computed before the comm thread reads them
      pending_.push_back(world_->all_reduce_async(model_->gradient_data() + b.offset, b.count, Reduction::sum));
    }
  }

  void on_unit(std::size_t unit, UnitEvent event) {
    switch (event) {
      case UnitEvent::before_forward:
        if (stage_ == 3) use_parameters(unit, unit + 1 < units_.size() ? unit + 1 : kNone);
        break;
      case UnitEvent::after_forward:
        if (stage_ == 3) release_parameters(unit);
        break;
      case UnitEvent::before_backward:
        if (stage_ == 3) use_parameters(unit, unit > 0 ? unit - 1 : kNone);
        start_unit_gradients(unit);
        break;
      case UnitEvent::after_backward:
        if (stage_ == 3) release_parameters(unit);
        reduce_unit_gradients(unit);
        break;
    }
  }

  // Stage 3: binds `unit` to its gathered parameters (gathering them unless prefetched) and
  // starts gathering `next`, the unit expected after it (forward runs the units in span order,
  // backward in reverse, in both workloads; a unit that was not prefetched is gathered on demand).
  void use_parameters(std::size_t unit, std::size_t next) {
    PB_CHECK(active_ < 0, "unit {} gathered while unit {} is in use", unit, gathers_[active_].unit);
    int slot = slot_of(unit);
    if (slot < 0) {
      slot = gathers_[0].unit == kNone ? 0 : 1;
      start_gather(slot, unit);
    }
    {
      const Trace::Scope span(options_.trace.get(), track_, label("wait gather ", unit));
      gathers_[slot].request->wait();
    }
    active_ = slot;
    model_->bind_span(unit, gathered_[slot].data());
    if (next != kNone && slot_of(next) < 0) start_gather(1 - slot, next);
  }

  void release_parameters(std::size_t unit) {
    PB_CHECK(active_ >= 0 && gathers_[active_].unit == unit, "unit {} released but not in use", unit);
    model_->bind_span(unit, nullptr);
    gathers_[active_] = {};
    active_ = -1;
  }

  // A trace span's name for a unit (only built when tracing).
  std::string label(const char* what, std::size_t unit) const {
    return options_.trace ? what + model_->spans()[unit].layer : std::string();
  }

  int slot_of(std::size_t unit) const {
    for (int s = 0; s < 2; ++s) {
      if (gathers_[s].unit == unit) return s;
    }
    return -1;
  }

  // gathered_[slot] (unit's count) = the unit's parameters, all-gathered from every rank's shard.
  // A stale prefetch in the slot (a unit that was not asked for) must complete first.
  void start_gather(int slot, std::size_t unit) {
    InFlight& in = gathers_[slot];
    if (in.request) in.request->wait();
    const Block& b = units_[unit];
    float* buffer = gathered_[slot].data();
    backend_->copy(buffer + b.part, parameter_shard_.data() + b.shard, b.mine);
    backend_->synchronize();  // the copy is done before the comm thread reads it
    in.unit = unit;
    in.request = group_->all_gather_async(buffer, b.counts);
  }

  // Stages 2 and 3: the unit's backward accumulates into a zeroed unit-sized buffer, which is
  // reduce-scattered as soon as the backward ends while the next unit's backward runs in the other.
  void start_unit_gradients(std::size_t unit) {
    const int slot = next_reduction_;
    finish_reduction(slot);
    float* buffer = unit_gradients_[slot].data();
    backend_->fill(buffer, 0.0f, units_[unit].count());
    model_->bind_span_gradients(unit, buffer);
    reductions_[slot].unit = unit;
  }

  void reduce_unit_gradients(std::size_t unit) {
    const int slot = next_reduction_;
    PB_CHECK(reductions_[slot].unit == unit, "backward of unit {} ended but unit {} was started", unit,
             reductions_[slot].unit);
    model_->bind_span_gradients(unit, nullptr);
    backend_->synchronize();  // the unit's gradients are computed before the comm thread reads them
    reductions_[slot].request =
        group_->reduce_scatter_async(unit_gradients_[slot].data(), units_[unit].counts, Reduction::sum);
    next_reduction_ = 1 - slot;
  }

  // Waits for a unit's reduce-scatter and moves this rank's part into its gradient shard; with
  // --hybrid that part is then summed across the replicas (in the background).
  void finish_reduction(int slot) {
    InFlight& in = reductions_[slot];
    if (in.unit == kNone) return;
    {
      const Trace::Scope span(options_.trace.get(), track_, label("wait reduce_scatter ", in.unit));
      in.request->wait();
    }
    const Block& b = units_[in.unit];
    if (b.mine) {
      float* part = gradient_shard_.data() + b.shard;
      backend_->copy(part, unit_gradients_[slot].data() + b.part, b.mine);
      backend_->synchronize();
      if (replicas_) pending_.push_back(replicas_->all_reduce_async(part, b.mine, Reduction::sum));
    }
    ++reduced_[in.unit];
    in = {};
  }

  void finish_gradients() {
    if (stage_ >= 2) {
      finish_reduction(next_reduction_);  // the older of the two
      finish_reduction(1 - next_reduction_);
      for (std::size_t u = 0; u < units_.size(); ++u) {
        PB_CHECK(reduced_[u] == 1, "unit {} had {} gradient reductions in one step", u, reduced_[u]);
      }
    } else {
      for (const Bucket& b : buckets_) PB_CHECK(b.pending == 0, "a gradient bucket was never all-reduced");
    }
    for (auto& request : pending_) request->wait();
    pending_.clear();
  }

  // The squared global gradient norm: stage 1 has every gradient; stages 2 and 3 add up the
  // group's shards (the replicas of a hybrid group hold the same shard).
  double squared_gradient_norm() {
    if (stage_ == 1) return optimizer_->squared_norm(model_->gradient_data(), model_->parameter_count());
    return sum_over(*group_, optimizer_->squared_norm(gradient_shard_.data(), shard_count_));
  }

  // The sum over the communicator's ranks of a double, the same on every rank and as exact as
  // serial's: each rank's value travels as two floats (hi + lo, 48 significant bits; the
  // communicators move floats) and every rank adds the values up in rank order, in double. A float
  // all-reduce would round the gradient norm to 1e-7, which moves Adam's near-eps updates visibly.
  double sum_over(Comm& comm, double value) {
    const auto ranks = static_cast<std::size_t>(comm.size());
    const float hi = static_cast<float>(value);
    const float mine[2] = {hi, static_cast<float>(value - hi)};
    backend_->upload(scalars_.data() + 2 * static_cast<std::size_t>(comm.rank()), mine, 2);
    comm.all_gather(scalars_.data(), std::vector<std::size_t>(ranks, 2));
    std::vector<float> parts(2 * ranks);
    backend_->download(parts.data(), scalars_.data(), parts.size());
    double total = 0;
    for (std::size_t r = 0; r < ranks; ++r) total += static_cast<double>(parts[2 * r]) + parts[2 * r + 1];
    return total;
  }

  // full (P) = the whole flat array whose shards (in shards_' layout) every rank of the group holds.
  void gather(const float* shard, float* full) {
    std::vector<std::unique_ptr<Request>> requests;
    for (const Block& b : shards_) {
      backend_->copy(full + b.offset + b.part, shard + b.shard, b.mine);
      backend_->synchronize();
      requests.push_back(group_->all_gather_async(full + b.offset, b.counts));
    }
    for (auto& request : requests) request->wait();
  }

  std::vector<float> gather_to_host(const float* shard) {
    Buffer full(*backend_, model_->parameter_count());
    gather(shard, full.data());
    return download(full.data(), full.size());
  }

  // shard (S) = this rank's parts of `full` (P host floats).
  void upload_own(const std::vector<float>& full, float* shard) {
    for (const Block& b : shards_) backend_->upload(shard + b.shard, full.data() + b.offset + b.part, b.mine);
  }

  std::vector<float> download(const float* device, std::size_t count) {
    std::vector<float> host(count);
    if (count) backend_->download(host.data(), device, count);
    return host;
  }

  void release_evaluation_parameters() {
    if (evaluation_parameters_.size() == 0) return;
    model_->release_parameters();
    evaluation_parameters_ = Buffer();
  }

  Traffic traffic() const {
    Traffic t;
    for (const Comm* comm : comms_) {
      for (const auto& [kind, c] : comm->counters()) {
        t.seconds += c.seconds;
        t.waited += c.waited;
        t.bytes += c.bytes;
        t.bus_bytes += c.bytes * bus_factor(kind, comm->size());
      }
    }
    return t;
  }

  StrategyOptions options_;
  int stage_;
  std::shared_ptr<Comm> world_;
  std::shared_ptr<Comm> group_;     // the ranks that shard the state: world_ unless --hybrid
  std::shared_ptr<Comm> replicas_;  // --hybrid: the ranks holding the same shard; else null
  std::vector<const Comm*> comms_;  // each distinct communicator once, for the counters
  int track_ = 0;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<models::Model> model_;

  std::vector<Block> shards_;  // this rank's shard of parameters, gradients and Adam state
  std::vector<Block> units_;   // per span: its gradient's reduce-scatter (and, stage 3, its gather)
  std::size_t shard_count_ = 0;
  std::size_t largest_unit_ = 0;
  std::unique_ptr<models::Optimizer> optimizer_;  // over this rank's shard
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_span_;

  Buffer parameter_shard_;        // stage 3 (S)
  Buffer gradient_shard_;         // stages 2, 3 (S)
  Buffer gathered_[2];            // stage 3: the unit in use and the prefetched one (largest unit)
  Buffer unit_gradients_[2];      // stages 2, 3: the unit in backward and the one being reduced
  Buffer scalars_;                // (2 N): the loss and the gradient norm of every rank
  Buffer evaluation_parameters_;  // stage 3 after evaluation_model(): (P) until the next step

  kernels::ReplicaSum sync_;
  models::UnitHook units_hook_;
  models::Model::GradientsReady ready_;

  // In flight during a step (declared after the buffers they write into).
  InFlight gathers_[2], reductions_[2];
  int active_ = -1;  // the gathers_ slot bound to the layer running now
  int next_reduction_ = 0;
  std::vector<int> reduced_;  // per unit: reductions this step (exactly one)
  std::vector<std::unique_ptr<Request>> pending_;
};

}  // namespace

std::unique_ptr<Strategy> make_zero(const StrategyOptions& options) { return std::make_unique<Zero>(options); }

}  // namespace parbench::strategies
