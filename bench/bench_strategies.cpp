// Training steps of every strategy on the same model and the same in-memory batches: samples/s,
// the step split into compute, communication (total and exposed) and optimizer, the bytes moved
// and their bus bandwidth (nccl-tests definitions), and memory per worker (measured model state
// next to design.md §4's prediction).
//   bench_strategies [--workload=violence] [--batch=64] [--strategies=serial,thread_pool,...]
//                    [--workers=1,2] [--stage=1] [--sync_bn=0|1] [--overlap=1|0] [--bucket_mb=25]
//                    [google benchmark flags]
//   mpirun -np N bench_strategies --strategies=ddp,zero [...]   # the multi-process strategies
// In-process strategies (thread_pool, task_graph, dp) run for every --workers value, serial with
// that many intra-op threads; ddp and zero run under mpirun with the world size as the worker
// count (or as one rank without mpirun when only they are asked for). Under MPI every
// iteration reports the slowest rank's time (UseManualTime with the maximum over ranks), so that
// all ranks agree on the iteration count; only rank 0 prints and writes --benchmark_out.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common.h"
#include "bench/synthetic_batch.h"
#include "strategies/comm.h"
#include "strategies/strategy.h"

namespace {

using namespace parbench;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string workload = "violence";
  int batch = 64;
  int stage = 1;
  bool sync_bn = false;
  bool overlap = true;
  double bucket_mb = 25;
};

bool multi_process(const std::string& strategy) { return strategy == "ddp" || strategy == "zero"; }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

// serial at "N workers" is serial with N intra-op threads: the baseline PyTorch gives by default.
strategies::StrategyOptions options_for(const Config& config, const std::string& strategy, int workers) {
  strategies::StrategyOptions o;
  o.workload = config.workload;
  o.workers = strategy == "serial" ? 1 : workers;
  o.threads = strategy == "serial" ? workers : 1;
  o.loss.spec = models::default_loss(config.workload);
  o.seed = 1;
  o.max_batch = config.batch;
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

void BM_Strategy(benchmark::State& state, const Config& config, const std::string& name, int workers,
                 strategies::Comm* timing) {
  const auto strategy = strategies::make_strategy(name, options_for(config, name, workers));
  const bench::SyntheticBatch data(strategy->model(), config.batch);
  const strategies::RowRange rows = strategy->process_rows(config.batch);
  const models::BatchView view = data.view().rows_from(rows.begin);
  std::int64_t step = 0;
  strategy->step(view, config.batch, step++);  // first touch of activations and optimizer state, untimed
  strategies::StepTimes sum;
  double bytes = 0, bus_bytes = 0, seconds = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    const strategies::StepResult r = strategy->step(view, config.batch, step++);
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
  const double samples = static_cast<double>(state.iterations()) * config.batch;
  state.counters["samples_per_s"] = samples / seconds;
  state.counters["workers"] = workers;
  const unsigned cores = std::thread::hardware_concurrency();
  state.counters["oversubscribed"] = cores > 0 && static_cast<unsigned>(workers) > cores ? 1 : 0;
  state.counters["compute_ms"] = Counter(1e3 * sum.compute, Counter::kAvgIterations);
  state.counters["comm_ms"] = Counter(1e3 * sum.communication, Counter::kAvgIterations);
  state.counters["exposed_comm_ms"] = Counter(1e3 * sum.exposed_communication, Counter::kAvgIterations);
  state.counters["optimizer_ms"] = Counter(1e3 * sum.optimizer, Counter::kAvgIterations);
  state.counters["bytes_per_step"] = Counter(bytes, Counter::kAvgIterations);
  state.counters["busbw_GBps"] = sum.communication > 0 ? 1e-9 * bus_bytes / sum.communication : 0.0;
  const strategies::MemoryReport memory = strategy->memory(config.batch);
  state.counters["model_state_MB"] = 1e-6 * (memory.parameters + memory.gradients + memory.optimizer_state);
  state.counters["predicted_model_state_MB"] = 1e-6 * memory.predicted_model_state;
  state.counters["activations_MB"] = 1e-6 * memory.activations;
  state.counters["comm_buffers_MB"] = 1e-6 * memory.communication;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.workload = bench::take_string_flag(argc, argv, "workload", config.workload);
  config.batch = static_cast<int>(bench::take_int_flag(argc, argv, "batch", config.batch));
  config.stage = static_cast<int>(bench::take_int_flag(argc, argv, "stage", config.stage));
  config.sync_bn = bench::take_int_flag(argc, argv, "sync_bn", 0) != 0;
  config.overlap = bench::take_int_flag(argc, argv, "overlap", 1) != 0;
  config.bucket_mb = std::stod(bench::take_string_flag(argc, argv, "bucket_mb", "25"));
  const auto names = split_list(bench::take_string_flag(argc, argv, "strategies", "serial,thread_pool,task_graph,dp"));
  std::vector<int> workers;
  for (const auto& w : split_list(bench::take_string_flag(argc, argv, "workers", "1,2"))) workers.push_back(std::stoi(w));
  // ddp and zero run under mpirun, or alone as one rank (MPI initialises as a singleton).
  const bool mpi = strategies::launched_with_mpi() || std::all_of(names.begin(), names.end(), multi_process);
  std::unique_ptr<strategies::Comm> world = mpi ? strategies::make_world_comm() : nullptr;
  const bool root = !world || world->rank() == 0;
  if (!root) {
    bench::take_string_flag(argc, argv, "benchmark_out", "");
    bench::take_string_flag(argc, argv, "benchmark_out_format", "");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::add_run_context();
  benchmark::AddCustomContext("workload", config.workload);
  benchmark::AddCustomContext("batch", std::to_string(config.batch));
  benchmark::AddCustomContext("sync_bn", config.sync_bn ? "true" : "false");
  benchmark::AddCustomContext("bucket_mb", std::to_string(config.bucket_mb));
  for (const auto& name : names) {
    if (multi_process(name) != mpi) continue;  // ddp/zero only under mpirun; the others only without
    for (const int n : mpi ? std::vector<int>{world->size()} : workers) {
      std::string label = name + (name == "zero" ? std::to_string(config.stage) : "") +
                          (name == "ddp" && !config.overlap ? "_no_overlap" : "");
      benchmark::RegisterBenchmark(("strategy/" + config.workload + "/" + label + (name == "serial" ? "/threads:" : "/workers:") +
                                    std::to_string(n))
                                       .c_str(),
                                   [&config, name, n, timing = world.get()](benchmark::State& state) {
                                     BM_Strategy(state, config, name, n, timing);
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
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
