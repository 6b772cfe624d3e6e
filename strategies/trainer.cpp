// train(): the loop around Strategy::step — data, evaluation, progress, metrics, checkpoints.
#include "strategies/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.h"
#include "core/context.h"
#include "core/devices.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/output_file.h"
#include "data/checkpoint.h"
#include "data/h5.h"
#include "data/schema.h"

namespace parbench::strategies {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Split {
  std::filesystem::path file;
  std::string group;
};

// The training split, and the validation split: --val FILE, else a /val group of the data file.
std::pair<Split, std::optional<Split>> find_splits(const TrainOptions& options) {
  auto groups_of = [](const std::filesystem::path& path) {
    h5::File file = h5::open_read(path);
    std::vector<std::string> groups = data::find_splits(file.get());
    if (groups.empty()) raise("{}: no parbench dataset (no datasets at the root, no split groups)", path.string());
    return groups;
  };
  const auto groups = groups_of(options.data);
  const bool has = [&] { return std::find(groups.begin(), groups.end(), "/train") != groups.end(); }();
  Split train{options.data, has ? "/train" : groups.front()};
  std::optional<Split> val;
  if (!options.val.empty()) {
    const auto val_groups = groups_of(options.val);
    const auto it = std::find(val_groups.begin(), val_groups.end(), "/val");
    val = Split{options.val, it != val_groups.end() ? "/val" : val_groups.front()};
  } else if (std::find(groups.begin(), groups.end(), "/val") != groups.end()) {
    val = Split{options.data, "/val"};
  }
  return {train, val};
}

std::vector<float> download(kernels::Backend& backend, const float* device, std::size_t count) {
  std::vector<float> host(count);
  backend.download(host.data(), device, count);
  return host;
}

// The named tensors of a flat host array (checkpoint layout).
std::vector<data::NamedTensor> tensors_of(const std::vector<models::Parameter>& tensors,
                                          const std::vector<float>& flat) {
  std::vector<data::NamedTensor> out;
  for (const auto& t : tensors) {
    const auto begin = flat.begin() + static_cast<std::ptrdiff_t>(t.offset);
    out.push_back({t.name, t.shape, std::vector<float>(begin, begin + static_cast<std::ptrdiff_t>(t.count))});
  }
  return out;
}

// Checkpoint tensors into a flat host array by name; names and shapes must match the model's.
std::vector<float> flatten(const std::vector<models::Parameter>& tensors, std::size_t count,
                           const std::vector<data::NamedTensor>& saved, const std::string& what,
                           const std::filesystem::path& path) {
  std::map<std::string, const data::NamedTensor*> by_name;
  for (const auto& t : saved) by_name[t.name] = &t;
  std::vector<float> flat(count);
  for (const auto& t : tensors) {
    const auto it = by_name.find(t.name);
    if (it == by_name.end()) raise("{}: checkpoint has no {} {}", path.string(), what, t.name);
    if (it->second->shape != t.shape) {
      raise("{}: {} {} has shape {}, the model needs {}", path.string(), what, t.name,
            data::shape_text(it->second->shape), data::shape_text(t.shape));
    }
    std::copy(it->second->values.begin(), it->second->values.end(),
              flat.begin() + static_cast<std::ptrdiff_t>(t.offset));
  }
  return flat;
}

std::vector<EvalResult> evaluate(Strategy& strategy, data::Loader& loader, const models::LossConfig& loss,
                                 std::uint64_t seed) {
  models::Model& model = strategy.evaluation_model();
  kernels::Backend& backend = strategy.backend();
  const auto heads = model.heads();
  std::vector<std::vector<std::int32_t>> truth(heads.size()), predicted(heads.size());
  double loss_sum = 0;
  std::int64_t samples = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const models::BatchView view = view_of(*batch);
    const int rows = static_cast<int>(batch->size());
    // The evaluation model may be one worker's replica, sized for its shard of a training batch.
    for (int begin = 0; begin < rows; begin += model.max_batch()) {
      const int part = std::min(model.max_batch(), rows - begin);
      const models::Pass pass{backend, part, false, seed, 0, begin};
      loss_sum += model.forward(pass, model.stage(view.rows_from(begin), part), loss);
      samples += part;
      for (std::size_t h = 0; h < heads.size(); ++h) {
        const auto probs =
            download(backend, model.probabilities(heads[h].name), static_cast<std::size_t>(part) * heads[h].classes);
        const auto& labels = batch->targets.at(heads[h].target);
        for (int r = 0; r < part; ++r) {
          const float* row = probs.data() + static_cast<std::size_t>(r) * heads[h].classes;
          predicted[h].push_back(static_cast<std::int32_t>(std::max_element(row, row + heads[h].classes) - row));
          truth[h].push_back(labels[static_cast<std::size_t>(begin) + r]);
        }
      }
    }
  }
  std::vector<EvalResult> results;
  for (std::size_t h = 0; h < heads.size(); ++h) {
    results.push_back(classification_metrics(heads[h].name, heads[h].classes, truth[h], predicted[h]));
    results.back().loss = samples ? loss_sum / static_cast<double>(samples) : 0.0;
  }
  return results;
}

nlohmann::json eval_json(const std::vector<EvalResult>& results) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& r : results) {
    out[r.head] = {{"samples", r.samples},     {"loss", r.loss},
                   {"accuracy", r.accuracy},   {"class_accuracy", r.class_accuracy},
                   {"confusion", r.confusion}, {"f1_positive", r.f1_positive}};
  }
  return out;
}

std::string duration_text(double seconds) {
  const long long s = std::llround(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}

// Processes of this job on this host: what the launcher says (OpenMPI, MPICH/Hydra), else all.
int processes_on_this_host(int processes) {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* value = std::getenv(name)) return std::max(1, std::atoi(value));
  }
  return processes;
}

bool oversubscribed(int compute_threads) {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 && static_cast<unsigned>(compute_threads) > cores;
}

void write_json(const std::filesystem::path& path, const nlohmann::json& json) {
  write_text_file(path, json.dump(2) + "\n", true);
}

}  // namespace

EvalResult classification_metrics(const std::string& head, int classes, const std::vector<std::int32_t>& truth,
                                  const std::vector<std::int32_t>& predicted) {
  EvalResult r;
  r.head = head;
  r.samples = static_cast<std::int64_t>(truth.size());
  r.confusion.assign(static_cast<std::size_t>(classes),
                     std::vector<std::int64_t>(static_cast<std::size_t>(classes), 0));
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    ++r.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
    correct += truth[i] == predicted[i];
  }
  r.accuracy = truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
  for (int c = 0; c < classes; ++c) {
    const auto& row = r.confusion[static_cast<std::size_t>(c)];
    std::int64_t total = 0;
    for (auto v : row) total += v;
    r.class_accuracy.push_back(
        total ? static_cast<double>(row[static_cast<std::size_t>(c)]) / static_cast<double>(total) : 0.0);
  }
  if (classes >= 2) {
    const double tp = static_cast<double>(r.confusion[1][1]);
    double predicted_positive = 0, actual_positive = 0;
    for (int c = 0; c < classes; ++c) {
      predicted_positive += static_cast<double>(r.confusion[static_cast<std::size_t>(c)][1]);
      actual_positive += static_cast<double>(r.confusion[1][static_cast<std::size_t>(c)]);
    }
    r.f1_positive = predicted_positive + actual_positive > 0 ? 2.0 * tp / (predicted_positive + actual_positive) : 0.0;
  }
  return r;
}

std::vector<float> balanced_class_weights(const std::vector<std::int64_t>& counts) {
  std::int64_t total = 0;
  for (auto c : counts) total += c;
  std::vector<float> weights;
  weights.reserve(counts.size());
  for (auto c : counts) {
    weights.push_back(c > 0 ? static_cast<float>(static_cast<double>(total) / (static_cast<double>(counts.size()) * c))
                            : 1.0f);
  }
  return weights;
}

TrainResult train(const TrainOptions& options) {
  // References, not a structured binding: lambdas below capture them, which clang before 16
  // (clang-tidy-14) does not accept for bindings.
  const auto splits = find_splits(options);
  const Split& train_split = splits.first;
  const std::optional<Split>& val_split = splits.second;
  const std::string& workload = options.strategy.workload;
  if (options.batch < 1) raise("--batch must be at least 1 (got {})", options.batch);
  // Outputs are checked before any work: their folders exist, and an existing file is replaced
  // only with --force (a checkpoint that is also the --resume file is continued, not replaced).
  if (!options.metrics.empty()) OutputFile check(options.metrics, options.force);
  if (!options.checkpoint.empty()) {
    std::error_code ec;
    const bool continuing =
        !options.resume.empty() && std::filesystem::equivalent(options.checkpoint, options.resume, ec);
    OutputFile check(options.checkpoint, options.force || continuing);
  }
  const data::SplitInfo info = [&] {
    const h5::File file = h5::open_read(train_split.file);
    return data::validate_split(file.get(), train_split.group, {.workload = workload, .scan_values = false});
  }();
  // A last batch of one row cannot train BatchNorm; PyTorch users drop it too
  // (DataLoader(drop_last=True)).
  const data::ShardSpec epoch_shape{
      .samples = info.samples, .batch = options.batch, .seed = options.strategy.seed, .drop_last = true};
  data::validate(epoch_shape);

  StrategyOptions strategy_options = options.strategy;
  if (workload == "violence") {
    strategy_options.model.steps = info.fields.at("features").shape[1];
    strategy_options.model.features = info.fields.at("features").shape[2];
  } else if (workload == "shoplifting") {
    strategy_options.model.steps = info.fields.at("pose").shape[1];
  }
  strategy_options.max_batch = options.batch;
  const std::int64_t steps_per_epoch = data::batches_per_epoch(epoch_shape);
  const std::int64_t total_steps = options.steps > 0 ? options.steps : steps_per_epoch * options.epochs;
  strategy_options.optimizer.total_steps = total_steps;
  if (strategy_options.optimizer.warmup_steps < 0) strategy_options.optimizer.warmup_steps = total_steps / 20;
  if (options.class_weights) {
    auto backend = kernels::make_backend("cpu");
    for (const auto& head : models::make_model(workload, *backend, strategy_options.model)->heads()) {
      strategy_options.loss.class_weights[head.name] = balanced_class_weights(info.fields.at(head.target).class_counts);
    }
  }
  if (!options.trace.empty()) strategy_options.trace = std::make_shared<Trace>(process_rank());
  auto strategy = make_strategy(options.strategy_name, strategy_options);
  const int processes = strategy->process_count();
  if (processes == 1 && launched_with_mpi()) {
    raise(
        "strategy {} runs in one process, but this job was started with several MPI ranks; start it without "
        "mpirun/srun, or use a multi-process strategy (ddp, zero)",
        strategy->name());
  }
  const bool lead = strategy->process_rank() == 0;  // prints, writes metrics and checkpoints
  // A signal may reach the processes after different steps, or reach only one of them: they agree
  // on where to stop by summing their stop flags after every step. On a communicator of its own, so
  // that this never interleaves with the strategy's collectives nor counts in its traffic.
  std::unique_ptr<Comm> control;
  if (processes > 1) {
    control = strategy_options.comm ? strategy_options.comm->split(0, strategy->process_rank()) : make_world_comm();
  }
  const bool quiet = options.quiet || !lead;
  models::Model& model = strategy->model();
  kernels::Backend& backend = strategy->backend();

  // Every process reads the same global batches and keeps its rows of each.
  const RowRange rows = strategy->process_rows(options.batch);
  data::Loader train_loader(train_split.file, {.group = train_split.group,
                                               .workload = workload,
                                               .batch = options.batch,
                                               .rows_begin = rows.begin,
                                               .rows_end = rows.end,
                                               .seed = options.strategy.seed,
                                               .shuffle = options.shuffle,
                                               .drop_last = true,
                                               .threads = options.loader_threads,
                                               .check_finite = options.check_finite});
  std::unique_ptr<data::Loader> val_loader;
  if (val_split) {
    const h5::File file = h5::open_read(val_split->file);
    const auto val_info = data::validate_split(file.get(), val_split->group, {.workload = workload});
    val_loader = std::make_unique<data::Loader>(
        val_split->file, data::LoaderOptions{.group = val_split->group,
                                             .workload = workload,
                                             .batch = std::min<std::int64_t>(options.batch, val_info.samples),
                                             .shuffle = false,
                                             .threads = 1,
                                             .check_finite = options.check_finite});
  }

  std::int64_t step = 0, epoch = 0, first_batch = 0;
  if (!options.resume.empty()) {
    const data::Checkpoint saved = data::load_checkpoint(options.resume, workload);
    if (saved.optimizer != strategy_options.optimizer.kind) {
      raise("{}: checkpoint optimizer is {}, this run uses {}", options.resume.string(), saved.optimizer,
            strategy_options.optimizer.kind);
    }
    FullState state;
    state.parameters = flatten(model.parameters(), model.parameter_count(), saved.params, "parameter", options.resume);
    state.buffers = flatten(model.buffers(), model.buffer_count(), saved.buffers, "buffer", options.resume);
    if (saved.optimizer == "adam") {
      state.m = flatten(model.parameters(), model.parameter_count(), saved.adam_m, "Adam m of", options.resume);
      state.v = flatten(model.parameters(), model.parameter_count(), saved.adam_v, "Adam v of", options.resume);
    }
    strategy->load_state(state);
    step = saved.step;
    epoch = saved.rng.at("epoch");
    first_batch = saved.rng.at("batch");
  }

  auto save = [&](std::int64_t at_epoch, std::int64_t next_batch) {
    if (options.checkpoint.empty()) return;
    const FullState state = strategy->state();  // collective: every process takes part
    if (strategy->process_rank() != 0) return;
    data::Checkpoint c;
    c.workload = workload;
    c.strategy = strategy->name();
    c.step = step;
    c.epoch = at_epoch;
    c.seed = strategy_options.seed;
    c.params = tensors_of(model.parameters(), state.parameters);
    c.buffers = tensors_of(model.buffers(), state.buffers);
    c.optimizer = strategy_options.optimizer.kind;
    c.optimizer_step = step;
    if (c.optimizer == "adam") {
      c.adam_m = tensors_of(model.parameters(), state.m);
      c.adam_v = tensors_of(model.parameters(), state.v);
    }
    c.rng = {{"seed", static_cast<std::int64_t>(strategy_options.seed)}, {"epoch", at_epoch}, {"batch", next_batch}};
    data::save_checkpoint(options.checkpoint, c, true);
  };

  nlohmann::json metrics;
  metrics["schema"] = "parbench.train/1";
  metrics["context"] = run_context();
  metrics["context"]["libraries"]["hdf5"] = h5::library_version();
  metrics["context"]["backend"] = backend.describe();
  {
    // Device count 0: the cpu backend has none; CUDA_VISIBLE_DEVICES (SLURM's fake or real GPUs)
    // still decides which device a CUDA backend would bind this rank to.
    const int local_rank = control ? control->local_rank() : 0;
    const int visible = visible_devices(0);
    metrics["context"]["placement"] = {
        {"rank", strategy->process_rank()}, {"processes", processes},
        {"local_rank", local_rank},         {"local_size", control ? control->local_size() : 1},
        {"visible_devices", visible},       {"device", device_for(local_rank, visible)}};
  }
  metrics["config"] = {
      {"workload", workload},
      {"strategy", strategy->name()},
      {"workers", strategy_options.workers},
      {"processes", processes},
      {"threads", strategy_options.threads},
      // More compute threads than cores: the figures of such a run measure
      // time-slicing as much as the strategy.
      {"cores", static_cast<int>(std::thread::hardware_concurrency())},
      {"oversubscribed", oversubscribed(strategy_options.threads * (processes > 1 ? processes_on_this_host(processes)
                                                                                  : strategy_options.workers))},
      {"backend", strategy_options.backend},
      {"tf32", strategy_options.backend_options.tf32},
      {"lstm", strategy_options.backend_options.cudnn_lstm ? "cudnn" : "native"},
      {"sync_bn", strategy_options.sync_bn},
      {"deterministic", strategy_options.deterministic},
      {"stage", strategy_options.stage},
      {"hybrid", strategy_options.hybrid},
      {"bucket_bytes", strategy_options.bucket_bytes},
      {"overlap", strategy_options.overlap},
      {"batch", options.batch},
      {"epochs", options.epochs},
      {"steps", total_steps},
      {"optimizer", strategy_options.optimizer.kind},
      {"lr", strategy_options.optimizer.lr},
      {"schedule", strategy_options.optimizer.schedule},
      {"warmup_steps", strategy_options.optimizer.warmup_steps},
      {"clip", strategy_options.optimizer.clip},
      {"seed", strategy_options.seed},
      {"shuffle", options.shuffle},
      {"class_weights", strategy_options.loss.class_weights},
      {"data", train_split.file.string() + ":" + train_split.group},
      {"val", val_split ? val_split->file.string() + ":" + val_split->group : ""}};
  metrics["epochs"] = nlohmann::json::array();

  TrainResult result;
  const auto run_start = Clock::now();
  const std::int64_t epochs =
      options.steps > 0 ? (total_steps + steps_per_epoch - 1) / steps_per_epoch : options.epochs;
  const std::int64_t start_step = step;
  // Collective over the processes: every one calls it after every step. Without `stop` (a run
  // without a checkpoint, a benchmark) the steps are not burdened with the all-reduce.
  auto stop_requested = [&] {
    if (!options.stop) return false;
    const bool mine = options.stop->load() || (options.stop_after_step > 0 && step == options.stop_after_step);
    float any = mine ? 1.0f : 0.0f;
    if (control) control->all_reduce(&any, 1, Reduction::sum);
    return any > 0;
  };
  for (; epoch < epochs && step < total_steps; ++epoch) {
    train_loader.start_epoch(epoch, first_batch);
    std::int64_t batch_index = first_batch;
    first_batch = 0;
    double loss_sum = 0, norm_sum = 0, bytes = 0, bus_bytes = 0;
    std::int64_t samples = 0, steps_done = 0;
    StepTimes times;
    const std::int64_t wait_before = train_loader.wait_ns();
    const auto epoch_start = Clock::now();
    auto last_print = Clock::now();
    float lr = 0;
    while (step < total_steps) {
      auto batch = train_loader.next();
      if (!batch) break;
      // Training batches are whole (drop_last): the global batch is options.batch rows, of which
      // this process holds `rows`.
      const StepResult r = strategy->step(view_of(*batch), options.batch, step);
      ++step;
      ++batch_index;
      ++steps_done;
      loss_sum += r.loss_sum;
      samples += r.samples;
      norm_sum += r.grad_norm;
      lr = r.lr;
      times.compute += r.times.compute;
      times.communication += r.times.communication;
      times.exposed_communication += r.times.exposed_communication;
      times.optimizer += r.times.optimizer;
      bytes += r.bytes;
      bus_bytes += r.bus_bytes;
      if (!quiet && (seconds_since(last_print) > 2.0 || step == total_steps)) {
        last_print = Clock::now();
        const double elapsed = seconds_since(run_start);
        const double eta = elapsed / static_cast<double>(step - start_step) * static_cast<double>(total_steps - step);
        std::fprintf(stderr, "epoch %lld/%lld step %lld/%lld loss %.4f lr %.2e |g| %.3f %.0f samples/s ETA %s\n",
                     static_cast<long long>(epoch) + 1, static_cast<long long>(epochs), static_cast<long long>(step),
                     static_cast<long long>(total_steps), loss_sum / static_cast<double>(samples), r.lr, r.grad_norm,
                     static_cast<double>(samples) / seconds_since(epoch_start), duration_text(eta).c_str());
      }
      // Ctrl-C: end here (main() exits 130); under MPI the others are ended by the error path's abort.
      interrupt::throw_if_interrupted();
      // A stop after the last step is no preemption: the run is complete.
      if (stop_requested() && step < total_steps) {
        result.preempted = true;
        break;
      }
    }
    const double epoch_seconds = seconds_since(epoch_start);
    const bool epoch_complete = batch_index == steps_per_epoch;
    result.last_loss = samples ? loss_sum / static_cast<double>(samples) : 0.0;
    nlohmann::json record = {
        {"epoch", epoch + 1},
        {"steps", step},
        {"steps_this_epoch", steps_done},  // fewer than an epoch's batches when resumed mid-epoch
        {"samples", samples},
        {"train_loss", result.last_loss},
        {"lr", lr},
        {"grad_norm_mean", steps_done ? norm_sum / static_cast<double>(steps_done) : 0.0},
        {"samples_per_s", static_cast<double>(samples) / epoch_seconds},
        {"seconds", epoch_seconds},
        {"step_ms",
         {{"total", 1e3 * epoch_seconds / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"compute", 1e3 * times.compute / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"communication", 1e3 * times.communication / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"exposed_communication",
           1e3 * times.exposed_communication / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"optimizer", 1e3 * times.optimizer / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"data_wait", 1e-6 * static_cast<double>(train_loader.wait_ns() - wait_before) /
                            std::max<double>(1.0, static_cast<double>(steps_done))}}},
        // nccl-tests: algorithm bandwidth = bytes / time, bus bandwidth = bytes * factor / time,
        // over the time spent in collectives.
        {"communication",
         {{"bytes_per_step", bytes / std::max<double>(1.0, static_cast<double>(steps_done))},
          {"algbw_GBps", times.communication > 0 ? 1e-9 * bytes / times.communication : 0.0},
          {"busbw_GBps", times.communication > 0 ? 1e-9 * bus_bytes / times.communication : 0.0}}}};
    result.last_epoch = epoch + 1;
    // A preempted run saves its checkpoint at once; the evaluation comes with the epoch's end.
    if (val_loader && !result.preempted) {
      result.last_eval = evaluate(*strategy, *val_loader, strategy_options.loss, strategy_options.seed);
      record["eval"] = eval_json(result.last_eval);
      if (!quiet) {
        for (const auto& e : result.last_eval) {
          std::fprintf(stderr, "epoch %lld: train loss %.4f; %s: val loss %.4f accuracy %.4f (per class %s) F1 %.4f\n",
                       static_cast<long long>(epoch) + 1, result.last_loss, e.head.c_str(), e.loss, e.accuracy,
                       fmt::format("{:.3f}", fmt::join(e.class_accuracy, " ")).c_str(), e.f1_positive);
        }
      }
    }
    metrics["epochs"].push_back(record);
    save(epoch_complete ? epoch + 1 : epoch, epoch_complete ? 0 : batch_index);
    if (lead && !options.metrics.empty()) write_json(options.metrics, metrics);
    if (result.preempted) {
      if (epoch_complete) ++epoch;
      break;
    }
  }
  const MemoryReport memory = strategy->memory(options.batch);
  metrics["memory_per_worker_bytes"] = {{"parameters", memory.parameters},
                                        {"gradients", memory.gradients},
                                        {"optimizer_state", memory.optimizer_state},
                                        {"activations", memory.activations},
                                        {"communication", memory.communication},
                                        {"model_state", memory.parameters + memory.gradients + memory.optimizer_state},
                                        {"predicted_model_state", memory.predicted_model_state},
                                        {"measured_peak", memory.measured_peak},
                                        {"measured_device_peak", memory.device_peak}};
  result.steps = step;
  result.epochs = epoch;
  result.lead = lead;
  metrics["result"] = {
      {"steps", step}, {"epochs", epoch}, {"seconds", seconds_since(run_start)}, {"preempted", result.preempted}};
  if (lead && !options.metrics.empty()) write_json(options.metrics, metrics);
  if (strategy_options.trace) {
    // One file per process: Perfetto opens several at once and lines their clocks up by rank.
    std::filesystem::path path = options.trace;
    if (processes > 1)
      path.replace_extension(fmt::format(".rank{}{}", strategy->process_rank(), path.extension().string()));
    strategy_options.trace->write(path, options.force);
  }
  result.metrics = metrics;
  return result;
}

}  // namespace parbench::strategies
