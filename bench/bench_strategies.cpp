// Training steps of every strategy on the same model and the same in-memory batches: samples/s,
// the step split into compute, communication (total and exposed) and optimizer, the bytes moved
// and their bus bandwidth (nccl-tests definitions), and memory per worker (measured model state
// next to design.md §4's prediction).
//   bench_strategies [--workload=violence] [--batch=64[,128...]] [--mode=strong|weak]
//                    [--backend=cpu|cuda|cuda_emulated]
//                    [--strategies=serial,thread_pool,...] [--workers=1,2,3,4,8] [--stage=1]
//                    [--sync_bn=0|1] [--overlap=1|0] [--bucket_mb=25] [--data=FILE [--split=/train]]
//                    [--peak_gflops=X | --peak_reps=3]
//                    [google benchmark flags]
//   mpirun -np N bench_strategies --strategies=ddp,zero [...]   # the multi-process strategies
// Names: step/<workload>/<strategy>/workers:<N>/batch:<B> in strong scaling (B the global batch),
// .../batch_per_worker:<b> in weak scaling (global batch N*b). In-process strategies (thread_pool,
// task_graph, dp) are registered for every --workers value, serial with that many intra-op
// threads; ddp and zero take the world size from the launcher (or run as one rank without mpirun
// when only they are asked for), and a --workers list given under mpirun must include it. A configuration that cannot
// run (more workers than samples, a backend that was not built, a strategy started with the wrong launcher) is reported
// with SkipWithError, never dropped. Under MPI every iteration reports the slowest rank's time (UseManualTime with the
// maximum over ranks), so that all ranks agree on the iteration count; only rank 0 prints and writes --benchmark_out.
// On the cuda backend only workers:1 runs, every strategy on one GPU: more workers need a GPU each
// (multi-GPU with NCCL, issue 13), and serial's workers:N are CPU threads the GPU does not use; those
// configurations are skipped with that reason, as every one is when the backend cannot start here
// (no GPU, not built). "% of peak" there refers to the GPU's measured SGEMM peak (--peak_gflops
// then gives that peak).
// The batch is synthetic (bench/synthetic_batch.h) unless --data names an HDF5 dataset of the
// workload (design.md §5): then its first samples, read once before any timing.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/common.h"
#include "bench/synthetic_batch.h"
#include "core/check.h"
#include "core/context.h"
#include "core/error.h"
#include "data/loader.h"
#include "strategies/comm.h"
#include "strategies/strategy.h"

namespace {

using namespace parbench;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string workload = "violence";
  int batch = 64;     // global batch (strong) or per-worker batch (weak)
  bool weak = false;  // weak scaling: the global batch grows with the workers
  std::string backend = "cpu";
  std::string backend_error;  // why the backend cannot start here: every configuration is skipped with it
  bool on_gpu = false;        // bench::HarnessBackend::on_gpu()
  int stage = 1;
  bool sync_bn = false;
  bool overlap = true;
  double bucket_mb = 25;
  std::string data, split = "/";  // an HDF5 dataset to take the batch from, and its split
  double peak_gflops = 0;         // one core's (or on a GPU, the device's) measured sgemm peak, GFLOP/s
};

// The first `rows` samples of an HDF5 dataset, in memory: what every benchmark of the run steps on
// (the largest global batch of the run; smaller ones use its first rows).
struct FileBatch {
  data::Batch batch;

  FileBatch(const Config& config, std::int64_t rows) {
    data::LoaderOptions options;
    options.group = config.split;
    options.workload = config.workload;
    options.batch = rows;
    options.shuffle = false;
    options.threads = 0;
    batch = data::Loader(config.data, options).read(0, 0);  // the loader refuses a split smaller than `rows`
  }
  models::BatchView view() const {
    models::BatchView v;
    for (const auto& [name, tensor] : batch.inputs) {
      v.inputs[name] = tensor.values.data();
      v.sample_floats[name] = static_cast<std::int64_t>(tensor.values.size()) / batch.size();
    }
    for (const auto& [name, labels] : batch.targets) v.targets[name] = labels.data();
    return v;
  }
};

bool multi_process(const std::string& strategy) { return strategies::one_process_per_worker(strategy); }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

// serial at "N workers" is serial with N intra-op threads: the baseline PyTorch gives by default.
int global_batch(const Config& config, int workers) { return config.weak ? config.batch * workers : config.batch; }

strategies::StrategyOptions options_for(const Config& config, const std::string& strategy, int workers) {
  strategies::StrategyOptions o;
  o.workload = config.workload;
  o.backend = config.backend;
  o.workers = strategy == "serial" ? 1 : workers;
  o.threads = strategy == "serial" ? workers : 1;
  o.loss.spec = models::default_loss(config.workload);
  o.seed = 1;
  o.max_batch = global_batch(config, workers);
  o.sync_bn = config.sync_bn;
  o.stage = strategy == "zero" ? config.stage : 0;
  o.overlap = config.overlap;
  o.bucket_bytes = static_cast<std::size_t>(config.bucket_mb * (1 << 20));
  // A constant learning rate: the default cosine over total_steps = 1 would drop to min_lr at once.
  o.optimizer.schedule = "constant";
  return o;
}

// The slowest rank's value (every rank passes its own; a sum of one-hot vectors keeps to the
// Comm interface's sum).
double max_over(strategies::Comm* comm, double value) {
  if (!comm || comm->size() == 1) return value;
  std::vector<float> slots(static_cast<std::size_t>(comm->size()), 0.0f);
  slots[static_cast<std::size_t>(comm->rank())] = static_cast<float>(value);
  comm->all_reduce(slots.data(), slots.size(), strategies::Reduction::sum);
  return *std::max_element(slots.begin(), slots.end());
}

// Compute threads this configuration runs on this host: what decides whether it is oversubscribed.
int compute_threads(const std::string& strategy, int workers, int processes) {
  return strategy == "serial" ? workers : multi_process(strategy) ? processes : workers;
}

// Why a configuration cannot run on this backend, or an empty string. Decided before any
// collective: on cuda every multi-rank configuration is skipped here on every rank, so a rank
// whose GPU fails to start cannot leave the others waiting.
std::string backend_obstacle(const Config& config, const std::string& name, int workers) {
  if (!config.backend_error.empty()) return config.backend_error;
  // Not registered-and-dropped: design.md §6 wants every configuration in the JSON with its reason.
  if (config.on_gpu && workers > 1 && name == "serial") {
    return fmt::format(
        "serial at workers:{} is {} intra-op CPU threads, which the {} backend's kernels do not use: its "
        "workers:1 is the measurement",
        workers, workers, config.backend);
  }
  if (config.on_gpu && workers > 1) {
    return fmt::format(
        "{} workers on the {} backend need one GPU per worker, not placed yet (multi-GPU with NCCL: issue 13); "
        "workers:1 runs",
        workers, config.backend);
  }
  return {};
}

void BM_Strategy(benchmark::State& state, const Config& config, const FileBatch* file, const std::string& name,
                 int workers, strategies::Comm* timing) {
  if (const std::string obstacle = backend_obstacle(config, name, workers); !obstacle.empty()) {
    state.SkipWithError(obstacle.c_str());
    return;
  }
  const int batch = global_batch(config, workers);
  if (name != "serial" && batch < workers) {  // serial's "workers" are threads over the whole batch
    state.SkipWithError(fmt::format("more workers ({}) than samples in the global batch ({})", workers, batch).c_str());
    return;
  }
  // Both models normalise per-sample features with BatchNorm, which needs two rows per replica
  // unless it is synchronised. Decided here, identically on every rank: a rank failing inside the
  // step would leave the others waiting in a collective.
  const int smallest_shard = name == "serial" ? batch : batch / workers;
  if (smallest_shard < 2 && !config.sync_bn) {
    state.SkipWithError(fmt::format("BatchNorm needs 2 rows per worker, and a global batch of {} over {} workers gives "
                                    "{}: use a larger batch or --sync_bn=1",
                                    batch, workers, smallest_shard)
                            .c_str());
    return;
  }
  std::unique_ptr<strategies::Strategy> strategy;
  try {
    strategy = strategies::make_strategy(name, options_for(config, name, workers));
  } catch (const Error& error) {
    state.SkipWithError(error.what());
    return;
  }
  std::optional<bench::SyntheticBatch> synthetic;
  if (!file) synthetic.emplace(strategy->model(), batch);
  const strategies::RowRange rows = strategy->process_rows(batch);
  const models::BatchView view = (file ? file->view() : synthetic->view()).rows_from(rows.begin);
  std::int64_t step = 0;
  try {
    strategy->step(view, batch, step++);  // first touch of activations and optimizer state, untimed
  } catch (const Error& error) {
    // Under MPI every rank meets the same error here (same rows, same checks) before any collective.
    state.SkipWithError(error.what());
    return;
  }
  strategies::StepTimes sum;
  double bytes = 0, bus_bytes = 0, seconds = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    const strategies::StepResult r = strategy->step(view, batch, step++);
    const double elapsed = max_over(timing, std::chrono::duration<double>(Clock::now() - start).count());
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    sum.compute += r.times.compute;
    sum.communication += r.times.communication;
    sum.exposed_communication += r.times.exposed_communication;
    sum.optimizer += r.times.optimizer;
    bytes += r.bytes;
    bus_bytes += r.bus_bytes;
  }
  using benchmark::Counter;
  const double samples = static_cast<double>(state.iterations()) * batch;
  const int processes = timing ? timing->size() : 1;
  state.counters["samples_per_s"] = samples / seconds;
  state.counters["workers"] = workers;
  state.counters["threads_per_worker"] = name == "serial" ? workers : 1;
  const auto cores = static_cast<unsigned>(cpu_info().physical_cores);
  state.counters["oversubscribed"] =
      cores > 0 && static_cast<unsigned>(compute_threads(name, workers, processes)) > cores ? 1 : 0;
  state.counters["compute_ms"] = Counter(1e3 * sum.compute, Counter::kAvgIterations);
  state.counters["comm_ms"] = Counter(1e3 * sum.communication, Counter::kAvgIterations);
  state.counters["exposed_comm_ms"] = Counter(1e3 * sum.exposed_communication, Counter::kAvgIterations);
  state.counters["optimizer_ms"] = Counter(1e3 * sum.optimizer, Counter::kAvgIterations);
  state.counters["data_wait_ms"] = 0;  // batches are in memory: the loader has its own harness
  state.counters["bytes_per_step"] = Counter(bytes, Counter::kAvgIterations);
  state.counters["algbw_GBps"] = sum.communication > 0 ? 1e-9 * bytes / sum.communication : 0.0;
  state.counters["busbw_GBps"] = sum.communication > 0 ? 1e-9 * bus_bytes / sum.communication : 0.0;
  const strategies::MemoryReport memory = strategy->memory(batch);
  const double model_state = memory.parameters + memory.gradients + memory.optimizer_state;
  state.counters["model_state_MB"] = 1e-6 * model_state;
  state.counters["predicted_model_state_MB"] = 1e-6 * memory.predicted_model_state;
  state.counters["activations_MB"] = 1e-6 * memory.activations;
  state.counters["comm_buffers_MB"] = 1e-6 * memory.communication;
  state.counters["memory_per_worker_MB"] = 1e-6 * (model_state + memory.activations + memory.communication);
  state.counters["rss_peak_MB"] = 1e-6 * strategies::peak_resident_bytes();
  // The whole job's training FLOPs against the peak of what it computes on: a core's measured GEMM
  // peak times min(compute threads, cores), or on a GPU the one device's.
  const double gflops = 1e-9 * strategy->model().training_flops() * samples / seconds;
  state.counters["gflops"] = gflops;
  const int used_units =
      config.on_gpu ? 1 : std::min(compute_threads(name, workers, processes), static_cast<int>(std::max(1u, cores)));
  state.counters["pct_peak"] = config.peak_gflops > 0 ? 100 * gflops / (config.peak_gflops * used_units) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.workload = bench::take_string_flag(argc, argv, "workload", config.workload);
  const std::string batch_list = bench::take_string_flag(argc, argv, "batch", std::to_string(config.batch));
  const std::vector<int> batches = bench::int_list_flag(argv[0], "batch", batch_list, 1);
  const std::string mode = bench::take_string_flag(argc, argv, "mode", "strong");
  if (mode != "strong" && mode != "weak") {
    std::fprintf(stderr, "bench_strategies: --mode must be strong or weak, not \"%s\"\n", mode.c_str());
    return 2;
  }
  config.weak = mode == "weak";
  config.backend = bench::take_backend_flag(argc, argv);
  config.stage = static_cast<int>(bench::take_int_flag(argc, argv, "stage", config.stage, 1, 3));
  config.sync_bn = bench::take_int_flag(argc, argv, "sync_bn", 0, 0, 1) != 0;
  config.overlap = bench::take_int_flag(argc, argv, "overlap", 1, 0, 1) != 0;
  config.bucket_mb = bench::take_number_flag(argc, argv, "bucket_mb", config.bucket_mb, 0, true);
  config.peak_gflops = bench::take_number_flag(argc, argv, "peak_gflops", 0, 0, false);  // 0: measure it
  const int peak_reps = static_cast<int>(bench::take_int_flag(argc, argv, "peak_reps", 3, 1));
  config.data = bench::take_string_flag(argc, argv, "data", "");
  config.split = bench::take_string_flag(argc, argv, "split", config.split);
  const auto names = split_list(bench::take_string_flag(argc, argv, "strategies", "serial,thread_pool,task_graph,dp"));
  // Given or not: under mpirun the multi-process strategies default to the world size (design.md §9).
  const std::string absent = "\x01";  // no command line holds this
  const std::string workers_text = bench::take_string_flag(argc, argv, "workers", absent);
  const bool workers_given = workers_text != absent;
  const std::vector<int> workers =
      bench::int_list_flag(argv[0], "workers", workers_given ? workers_text : "1,2,3,4,8", 1);
  // ddp and zero run under mpirun, or alone as one rank (MPI initialises as a singleton).
  const bool mpi = strategies::launched_with_mpi() || std::all_of(names.begin(), names.end(), multi_process);
  std::unique_ptr<strategies::Comm> world = mpi ? strategies::make_world_comm() : nullptr;
  const bool root = !world || world->rank() == 0;
  // A --workers list that leaves out the world size asks for runs this launch cannot make.
  if (world && workers_given && std::any_of(names.begin(), names.end(), multi_process) &&
      std::find(workers.begin(), workers.end(), world->size()) == workers.end()) {
    if (root) {
      std::fprintf(stderr,
                   "bench_strategies: --workers=%s but the MPI world has %d ranks: the multi-process strategies run "
                   "one rank per worker (start with mpirun -np N for --workers=N, or leave --workers out)\n",
                   workers_text.c_str(), world->size());
    }
    return 2;  // every rank decides the same, from the same flags: no abort needed
  }
  if (!root) {
    bench::take_string_flag(argc, argv, "benchmark_out", "");
    bench::take_string_flag(argc, argv, "benchmark_out_format", "");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::add_run_context();
  benchmark::AddCustomContext("workload", config.workload);
  benchmark::AddCustomContext("batch", batch_list);
  benchmark::AddCustomContext("mode", mode);
  benchmark::AddCustomContext("precision", "fp32");
  // Made here for the context and the peak only: each strategy makes its own backends.
  kernels::BackendOptions backend_options;
  backend_options.local_rank = world ? world->local_rank() : 0;
  bench::HarnessBackend backend = bench::start_backend(config.backend, backend_options);
  bench::add_backend_context(backend);
  config.backend_error = backend.error;
  config.on_gpu = backend.on_gpu();
  benchmark::AddCustomContext("processes", std::to_string(world ? world->size() : 1));
  // "% of peak" needs one core's (on a GPU, the device's) GEMM peak: given (--peak_gflops, e.g.
  // measured once by a sweep) or measured here by rank 0 alone while the other ranks wait, then
  // shared. None where the backend cannot start: nothing runs.
  const char* peak_key = config.on_gpu ? "gemm_peak_gflops_device" : "gemm_peak_gflops_1core";
  if (config.peak_gflops > 0) {
    benchmark::AddCustomContext(peak_key, fmt::format("{:.1f}", config.peak_gflops));
  } else {
    if (root && backend.backend) {  // each records its context entry
      config.peak_gflops = config.on_gpu ? bench::measure_gemm_peak_device(*backend.backend, peak_reps)
                                         : bench::measure_gemm_peak_1core(peak_reps);
    }
    if (world) config.peak_gflops = max_over(world.get(), root ? config.peak_gflops : 0.0);
  }
  backend.backend.reset();  // its device memory is the strategies' from here
  benchmark::AddCustomContext("sync_bn", config.sync_bn ? "true" : "false");
  benchmark::AddCustomContext("bucket_mb", std::to_string(config.bucket_mb));
  benchmark::AddCustomContext("data", config.data.empty() ? "synthetic" : config.data + ":" + config.split);
  std::unique_ptr<FileBatch> file;
  if (!config.data.empty()) {
    Config largest = config;
    largest.batch = *std::max_element(batches.begin(), batches.end());
    const int most = mpi ? world->size() : *std::max_element(workers.begin(), workers.end());
    try {
      file = std::make_unique<FileBatch>(config, global_batch(largest, most));
    } catch (const Error& error) {
      std::fprintf(stderr, "bench_strategies: %s\n", error.what());
      end_job_after_error(1);
      return 1;
    }
  }
  // One Config per batch size, at stable addresses for the registered lambdas.
  std::deque<Config> configs;
  for (const int b : batches) {
    configs.push_back(config);
    configs.back().batch = b;
  }
  for (const Config& c : configs) {
    for (const auto& name : names) {
      // A strategy started the wrong way is reported as skipped, never dropped.
      std::string wrong_launch;
      if (multi_process(name) && !mpi) {
        wrong_launch = name + " runs one MPI rank per worker: start it with mpirun -np N";
      }
      if (!multi_process(name) && mpi) wrong_launch = name + " runs in one process: start it without mpirun";
      const bool world_size = multi_process(name) && mpi;
      for (const int n : world_size ? std::vector<int>{world->size()} : workers) {
        const std::string label =
            name + (name == "zero" ? std::to_string(c.stage) : "") + (name == "ddp" && !c.overlap ? "_no_overlap" : "");
        const std::string benchmark_name = fmt::format("step/{}/{}/workers:{}/{}:{}", c.workload, label, n,
                                                       c.weak ? "batch_per_worker" : "batch", c.batch);
        benchmark::RegisterBenchmark(
            benchmark_name.c_str(),
            [&c, name, n, wrong_launch, file = file.get(), timing = world.get()](benchmark::State& state) {
              if (!wrong_launch.empty()) {
                state.SkipWithError(wrong_launch.c_str());
                return;
              }
              BM_Strategy(state, c, file, name, n, timing);
            })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  if (root) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    bench::SilentReporter display;
    benchmark::RunSpecifiedBenchmarks(&display);
  }
  benchmark::Shutdown();
  return 0;
}
