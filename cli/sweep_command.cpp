// `parbench sweep` (design.md §6, §9): the main job. Runs the Google Benchmark harnesses over
// workloads x strategies x worker counts, one harness process per configuration (MPI strategies
// under `mpirun -np N`, or `srun` inside a SLURM allocation), with repetitions, into one run
// folder, then `parbench report` over it. A configuration that crashes or hangs does not end the
// sweep: it is written as an errored benchmark entry, so the report lists it with its reason.
// One that cannot run here (SkipWithError: no GPU, too few rows per worker) is counted as skipped;
// the sweep fails when a run failed, or when it measured no step at all (e.g. --backend cuda on a
// machine without a GPU): a job that measured nothing must not look like a result.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/context.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/output_file.h"
#include "kernels/backend.h"
#include "models/model.h"
#include "results/gbench_json.h"
#include "strategies/strategy.h"

extern char** environ;

namespace parbench::cli {

namespace fs = std::filesystem;

namespace {

struct SweepArgs {
  std::vector<std::string> workloads{"violence", "shoplifting"};
  std::vector<std::string> strategies{"serial", "thread_pool", "task_graph", "dp", "ddp", "zero1", "zero2", "zero3"};
  std::vector<int> workers{1, 2, 3, 4};
  std::vector<std::string> batch;  // "B" for every workload, or "workload=B"
  std::string mode = "strong";
  std::string backend = "cpu";
  int repetitions = 3;
  double min_time = 0.3;
  bool no_collectives = false;
  int max_mib = 64;
  std::string out, launcher = "mpirun", bench_dir;
  std::string data, split = "/";  // an HDF5 dataset for the batches instead of synthetic ones
  bool plan_only = false, no_report = false, no_plots = false, force = false;
  int only = -1;
  double timeout = 900;
};

// The batch each workload's seed pipeline trained with (seeds.md): violence 64, shoplifting 256.
int default_batch(const std::string& workload) { return workload == "shoplifting" ? 256 : 64; }

// One harness process.
struct Run {
  std::string title;     // "violence ddp workers:2" for the console
  std::string workload;  // empty for collectives
  std::string strategy;  // label as in the benchmark name: zero2, ddp_no_overlap, ...
  int workers = 1;
  int processes = 1;      // MPI ranks the launcher starts
  std::string benchmark;  // the name the harness gives it (what an errored entry is called)
  std::vector<std::string> harness_args;
  std::string file;  // output JSON, relative to the run folder
};

bool is_mpi_label(const std::string& label) { return label.rfind("ddp", 0) == 0 || label.rfind("zero", 0) == 0; }

// A strategy label -> bench_strategies flags: zero1..3 are zero with a stage, ddp_no_overlap is
// ddp without overlap; the rest are registry names.
std::vector<std::string> strategy_flags(const std::string& label) {
  if (label.size() == 5 && label.rfind("zero", 0) == 0 && label[4] >= '1' && label[4] <= '3') {
    return {"--strategies=zero", fmt::format("--stage={}", label[4])};
  }
  if (label == "ddp_no_overlap") return {"--strategies=ddp", "--overlap=0"};
  const auto names = strategies::strategy_names();
  if (label == "zero" || std::find(names.begin(), names.end(), label) == names.end()) {
    raise(
        "--strategies: unknown strategy \"{}\"; valid: serial, thread_pool, task_graph, dp, ddp, ddp_no_overlap, "
        "zero1, zero2, zero3",
        label);
  }
  return {"--strategies=" + label};
}

std::map<std::string, int> batches(const SweepArgs& args) {
  std::map<std::string, int> out;
  for (const auto& w : args.workloads) out[w] = default_batch(w);
  for (const auto& item : args.batch) {
    const auto eq = item.find('=');
    const std::string workload = eq == std::string::npos ? "" : item.substr(0, eq);
    const std::string number = eq == std::string::npos ? item : item.substr(eq + 1);
    int value = 0;
    try {
      std::size_t used = 0;
      value = std::stoi(number, &used);
      if (used != number.size()) throw std::invalid_argument(number);
    } catch (const std::exception&) {
      raise("--batch {}: expected B or WORKLOAD=B with B a positive integer", item);
    }
    if (value < 1) raise("--batch {}: the batch must be at least 1", item);
    if (workload.empty()) {
      for (auto& [w, b] : out) b = value;
    } else if (!out.count(workload)) {
      raise("--batch {}: workload {} is not among --workloads", item, workload);
    } else {
      out[workload] = value;
    }
  }
  return out;
}

std::vector<Run> plan(const SweepArgs& args) {
  const auto models = models::model_names();
  for (const auto& w : args.workloads) {
    if (std::find(models.begin(), models.end(), w) == models.end()) {
      raise("--workloads: unknown workload \"{}\"; valid: {}", w, fmt::join(models, ", "));
    }
  }
  for (const int n : args.workers) {
    if (n < 1 || n > 256) raise("--workers: {} is not a worker count in 1..256", n);
  }
  if (args.mode != "strong" && args.mode != "weak") raise("--mode must be strong or weak, not \"{}\"", args.mode);
  const auto backends = kernels::backend_names();
  if (std::find(backends.begin(), backends.end(), args.backend) == backends.end()) {
    raise("--backend: unknown backend \"{}\"; valid: {}", args.backend, fmt::join(backends, ", "));
  }
  if (args.repetitions < 1) raise("--repetitions must be at least 1 (got {})", args.repetitions);
  if (!(args.min_time > 0)) raise("--min-time must be a positive number of seconds (got {})", args.min_time);
  if (!args.data.empty() && args.workloads.size() != 1) {
    raise("--data {} holds one workload's samples: give --workloads with exactly one workload", args.data);
  }
  const auto batch = batches(args);
  std::vector<Run> runs;
  const std::vector<std::string> timing{fmt::format("--benchmark_repetitions={}", args.repetitions),
                                        fmt::format("--benchmark_min_time={}", args.min_time)};
  for (const auto& workload : args.workloads) {
    for (const auto& label : args.strategies) {
      const auto flags = strategy_flags(label);
      for (const int n : args.workers) {
        Run run;
        run.workload = workload;
        run.strategy = label;
        run.workers = n;
        run.processes = is_mpi_label(label) ? n : 1;
        run.title = fmt::format("{} {} workers:{}", workload, label, n);
        run.benchmark = fmt::format("step/{}/{}/workers:{}/{}:{}/manual_time", workload, label, n,
                                    args.mode == "weak" ? "batch_per_worker" : "batch", batch.at(workload));
        run.harness_args = {
            "bench_strategies",    "--workload=" + workload,    fmt::format("--batch={}", batch.at(workload)),
            "--mode=" + args.mode, "--backend=" + args.backend, fmt::format("--workers={}", n)};
        run.harness_args.insert(run.harness_args.end(), flags.begin(), flags.end());
        if (!args.data.empty()) {
          run.harness_args.push_back("--data=" + fs::absolute(args.data).string());
          run.harness_args.push_back("--split=" + args.split);
        }
        run.harness_args.insert(run.harness_args.end(), timing.begin(), timing.end());
        run.file = fmt::format("step-{}-{}-w{}.json", workload, label, n);
        runs.push_back(run);
      }
    }
  }
  if (!args.no_collectives) {
    // The collectives the MPI strategies use, at every worker count of the sweep above one rank.
    std::set<int> ranks;
    for (const int n : args.workers) {
      if (n > 1) ranks.insert(n);
    }
    for (const int n : ranks) {
      Run run;
      run.strategy = "collectives";
      run.workers = run.processes = n;
      run.title = fmt::format("collectives mpi ranks:{}", n);
      run.benchmark = fmt::format("all_reduce/mpi/ranks:{}/bytes:4/manual_time", n);
      run.harness_args = {"bench_collectives", "--comm=mpi",
                          fmt::format("--max_bytes={}", static_cast<long long>(args.max_mib) << 20),
                          "--benchmark_min_time=0.05"};
      run.file = fmt::format("collectives-mpi-r{}.json", n);
      runs.push_back(run);
    }
  }
  return runs;
}

fs::path self_exe() { return fs::read_symlink("/proc/self/exe"); }

// The harness binaries: --bench-dir, $PARBENCH_BENCH_DIR, the build tree's bench/ (next to cli/),
// or beside parbench when installed.
fs::path find_bench_dir(const std::string& flag) {
  std::vector<fs::path> candidates;
  if (!flag.empty()) {
    candidates = {flag};
  } else {
    if (const char* env = std::getenv("PARBENCH_BENCH_DIR")) candidates.emplace_back(env);
    const fs::path exe_dir = self_exe().parent_path();
    candidates.push_back(exe_dir.parent_path() / "bench");
    candidates.push_back(exe_dir);
  }
  for (const auto& dir : candidates) {
    std::error_code ec;
    if (fs::exists(dir / "bench_strategies", ec) && fs::exists(dir / "bench_collectives", ec)) return dir;
  }
  std::vector<std::string> tried;
  tried.reserve(candidates.size());
  for (const auto& dir : candidates) tried.push_back(dir.string());
  raise(
      "bench_strategies and bench_collectives not found in {}; build with -DPARBENCH_BENCHMARKS=ON (the default) "
      "or pass --bench-dir",
      fmt::join(tried, ", "));
}

// The full command of a run: the launcher for MPI strategies and collectives, the harness, its
// output flags.
// `peak_gflops`: one core's GEMM peak measured by an earlier run of this sweep, so that the others
// need not measure it again (0: the harness measures it).
std::vector<std::string> command_of(const Run& run, const SweepArgs& args, const fs::path& bench_dir,
                                    const fs::path& json, double peak_gflops = 0) {
  std::vector<std::string> argv;
  const bool mpi = run.strategy == "collectives" || is_mpi_label(run.strategy);
  if (mpi && args.launcher == "srun") {
    // Each rank on its own cores; GPUs are bound per task by --gpus-per-task, or chosen by local rank.
    argv = {"srun", "--mpi=pmix", "--cpu-bind=cores", "-n", std::to_string(run.processes)};
  } else if (mpi) {
    argv = {PARBENCH_MPIEXEC, "-np", std::to_string(run.processes)};
  }
  argv.push_back((bench_dir / run.harness_args.front()).string());
  argv.insert(argv.end(), run.harness_args.begin() + 1, run.harness_args.end());
  if (peak_gflops > 0 && run.strategy != "collectives")
    argv.push_back(fmt::format("--peak_gflops={:.1f}", peak_gflops));
  argv.push_back("--benchmark_out=" + json.string());
  argv.push_back("--benchmark_out_format=json");
  return argv;
}

// What OpenMPI needs to start here: root is refused unless allowed, and more ranks than cores
// (3, 4, 8 on a 2-core machine) are refused unless oversubscription is allowed. The user's own
// settings are kept. setenv races with getenv in other threads; no thread that reads the
// environment runs yet.
void prepare_mpi_environment() {  // NOLINTBEGIN(concurrency-mt-unsafe)
  if (geteuid() == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
}  // NOLINTEND(concurrency-mt-unsafe)

struct Outcome {
  int status = 0;  // exit status, or 128 + signal
  bool timed_out = false;
  double seconds = 0;
};

// Runs argv with stdout and stderr appended to `log`; a run past `timeout` seconds gets SIGTERM,
// then SIGKILL 10 s later (mpirun passes SIGTERM on to its ranks).
Outcome run_process(const std::vector<std::string>& argv, const fs::path& log, double timeout) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  interrupt::set_spawn_signal_mask(&attributes);  // the harness must not inherit our blocked signals
  pid_t pid = 0;
  const auto start = std::chrono::steady_clock::now();
  const int spawned = posix_spawnp(&pid, c_argv[0], &actions, &attributes, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) raise("cannot start {}: {}", argv[0], std::generic_category().message(spawned));
  Outcome outcome;
  bool terminated = false;
  double terminated_at = 0;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == pid) {
      outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return outcome;
    }
    // Past the timeout, or the sweep itself was interrupted (the caller then removes the partial
    // JSON and stops): SIGTERM, then SIGKILL 10 s later.
    const bool interrupted = interrupt::stop_requested();
    if ((outcome.seconds > timeout || interrupted) && !terminated) {
      kill(pid, SIGTERM);
      terminated = true;
      outcome.timed_out = !interrupted;
      terminated_at = outcome.seconds;
    } else if (terminated && outcome.seconds > terminated_at + 10) {
      kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The line of a failed run's log that says why: the harness's own message (under mpirun it comes
// before the launcher's abort notices), else the last line.
std::string failure_line(const fs::path& log) {
  std::ifstream stream(log);
  std::string line, last;
  while (std::getline(stream, line)) {
    if (line.rfind("bench_", 0) == 0 || line.find("error") != std::string::npos) return line;
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

void write_json(const fs::path& path, const nlohmann::json& json) { write_text_file(path, json.dump(2) + "\n", true); }

struct Measured {
  std::string line;      // for the console
  bool skipped = false;  // every benchmark of the run reported an error (SkipWithError): nothing measured
};

// What a finished run measured, for the console: the median step time over the repetitions, or the
// reason it was skipped (SkipWithError), or how many benchmarks it ran (collectives); the report
// has the rest.
Measured outcome_line(const fs::path& json, double seconds) {
  const nlohmann::json results = results::read_gbench_json(json);
  std::set<std::string> names;
  std::vector<double> times;
  std::string unit = "ms";
  std::optional<std::string> error;  // the message of the first benchmark that reported one
  bool measured = false;
  for (const auto& entry : results["benchmarks"]) {
    if (entry.value("error_occurred", false)) {
      if (!error) error = entry.value("error_message", std::string("?"));
      continue;
    }
    measured = true;
    names.insert(entry.value("run_name", std::string()));
    if (entry.value("run_type", "") != "iteration" || !entry["real_time"].is_number()) continue;
    times.push_back(entry["real_time"].get<double>());
    unit = entry.value("time_unit", unit);
  }
  if (!measured) return {"skipped: " + error.value_or("the harness ran no benchmark"), true};
  // A run of several benchmarks of which some were skipped (collectives) still measured something.
  if (error) return {fmt::format("done in {:.1f} s: {} benchmarks, some skipped: {}", seconds, names.size(), *error)};
  if (names.size() != 1 || times.empty())
    return {fmt::format("done in {:.1f} s: {} benchmarks", seconds, names.size())};
  std::sort(times.begin(), times.end());
  return {fmt::format("done in {:.1f} s: {:.4g} {} per step (median of {})", seconds, times[times.size() / 2], unit,
                      times.size())};
}

// The single-core GEMM peak a strategy harness measured (its context), or 0.
double measured_peak(const fs::path& json) {
  const nlohmann::json context = results::read_gbench_json(json).value("context", nlohmann::json::object());
  const auto it = context.find("gemm_peak_gflops_1core");
  if (it == context.end() || !it->is_string()) return 0;
  try {
    return std::stod(it->get<std::string>());
  } catch (const std::exception&) {
    return 0;
  }
}

// A run that left no result: Google Benchmark JSON with one errored entry under the name the
// harness would have used, so that `parbench report` and `compare` list it with the reason.
void write_failure(const fs::path& path, const Run& run, const std::string& reason) {
  // Google Benchmark's context holds strings only; parbench's nested entries become JSON text.
  const nlohmann::json full = run_context();
  nlohmann::json context = nlohmann::json::object();
  for (const auto& [key, value] : full.items()) {
    context[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  context["workload"] = run.workload;
  nlohmann::json entry{{"name", run.benchmark},   {"run_name", run.benchmark},
                       {"run_type", "iteration"}, {"repetitions", 1},
                       {"repetition_index", 0},   {"threads", 1},
                       {"iterations", 0},         {"real_time", 0},
                       {"cpu_time", 0},           {"time_unit", "ms"},
                       {"error_occurred", true},  {"error_message", reason}};
  write_json(path, {{"context", context}, {"benchmarks", nlohmann::json::array({entry})}});
}

std::string clock_text(double seconds) {
  const long long s = std::llround(seconds);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

fs::path default_out() {
  std::string id;
  if (const char* job = std::getenv("SLURM_JOB_ID")) {
    id = job;
  } else {
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::tm local{};
    std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", localtime_r(&now, &local));
    id = text;
  }
  return fs::path("results") / "runs" / id;
}

nlohmann::json plan_json(const std::vector<Run>& runs, const SweepArgs& args, const fs::path& bench_dir,
                         const fs::path& out) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Run& run = runs[i];
    list.push_back({{"index", i},
                    {"title", run.title},
                    {"workload", run.workload},
                    {"strategy", run.strategy},
                    {"workers", run.workers},
                    {"processes", run.processes},
                    {"file", run.file},
                    {"command", command_of(run, args, bench_dir, out / run.file)}});
  }
  return {{"schema", "parbench.sweep_plan/1"}, {"out", out.string()}, {"runs", list}};
}

// How the runs of a sweep ended.
struct Tally {
  int measured = 0, skipped = 0, failed = 0;
  int steps = 0, steps_measured = 0;  // strategy step runs (not collectives), and those that measured

  // A whole sweep whose step runs were all skipped or failed. One element of an array (--only) that
  // was skipped is no failure: the report after the array lists it.
  bool no_step_measured(bool whole_sweep) const { return whole_sweep && steps > 0 && steps_measured == 0; }
  bool sweep_failed(bool whole_sweep) const { return failed > 0 || no_step_measured(whole_sweep); }
};

void run_sweep(const SweepArgs& args, Tally& tally) {
  if (args.launcher != "mpirun" && args.launcher != "srun") {
    raise("--launcher must be mpirun or srun, not \"{}\"", args.launcher);
  }
  const std::vector<Run> runs = plan(args);
  if (args.only >= static_cast<int>(runs.size())) {
    raise("--only {}: the sweep has {} configurations (0..{}); see --plan", args.only, runs.size(), runs.size() - 1);
  }
  const fs::path bench_dir = find_bench_dir(args.bench_dir);
  const fs::path out = args.out.empty() ? default_out() : fs::path(args.out);
  if (args.plan_only) {
    fmt::print("{}\n", plan_json(runs, args, bench_dir, out).dump(2));
    return;
  }
  // A whole sweep starts a fresh folder; --only (one element of a SLURM array) adds to a shared one.
  std::error_code ec;
  if (args.only < 0 && fs::exists(out / "report.md", ec) && !args.force) {
    raise("{} already holds a sweep (report.md); choose another --out or pass --force", out.string());
  }
  fs::create_directories(out / "logs", ec);
  if (ec) raise("cannot create {}: {}", (out / "logs").string(), ec.message());
  prepare_mpi_environment();

  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (args.only < 0 || static_cast<int>(i) == args.only) todo.push_back(i);
  }
  if (args.only < 0) write_json(out / "plan.json", plan_json(runs, args, bench_dir, out));
  fmt::print("parbench sweep: {} configuration(s) into {} ({} repetition(s) of >= {} s each)\n", todo.size(),
             out.string(), args.repetitions, args.min_time);
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, std::pair<double, int>> spent;  // per workload (or collectives): seconds, runs
  double peak_gflops = 0;
  for (std::size_t k = 0; k < todo.size(); ++k) {
    const Run& run = runs[todo[k]];
    const fs::path json = out / run.file;
    const fs::path log = out / "logs" / (fs::path(run.file).stem().string() + ".log");
    fs::remove(json, ec);
    fs::remove(log, ec);
    // ETA: the mean time of finished runs of the same kind, else of all finished runs.
    double eta = 0;
    double all_seconds = 0;
    int all_runs = 0;
    for (const auto& [kind, sum] : spent) {
      all_seconds += sum.first;
      all_runs += sum.second;
    }
    for (std::size_t j = k; j < todo.size(); ++j) {
      const auto it = spent.find(runs[todo[j]].workload);
      eta += it != spent.end() ? it->second.first / it->second.second : all_runs ? all_seconds / all_runs : 0;
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("[{:>3}/{}] {:<40} elapsed {}  ETA {}\n", k + 1, todo.size(), run.title, clock_text(elapsed),
               all_runs ? clock_text(eta) : std::string("?"));
    std::fflush(stdout);
    // The harness writes under a temporary name (Google Benchmark writes its file as it goes): an
    // interrupted run leaves no truncated JSON for the report to trip on.
    fs::path partial = json;
    partial += fmt::format(".tmp.{}", ::getpid());
    const Outcome outcome = run_process(command_of(run, args, bench_dir, partial, peak_gflops), log, args.timeout);
    if (interrupt::stop_requested()) {
      fs::remove(partial, ec);
      interrupt::throw_if_interrupted();
    }
    auto& sum = spent[run.workload];
    sum.first += outcome.seconds;
    sum.second += 1;
    std::string reason;
    Measured measured;
    if (outcome.timed_out) {
      reason = fmt::format("timed out after {:.0f} s (--timeout)", args.timeout);
    } else if (outcome.status != 0) {
      reason = fmt::format("exit status {}: {}", outcome.status, failure_line(log));
    } else if (!fs::exists(partial, ec)) {
      reason = "the harness exited without writing its JSON";
    } else {
      try {
        measured = outcome_line(partial, outcome.seconds);
        if (peak_gflops <= 0) peak_gflops = measured_peak(partial);
        fs::rename(partial, json);
      } catch (const std::exception& error) {
        reason = error.what();
      }
    }
    fs::remove(partial, ec);
    const bool step = run.strategy != "collectives";
    tally.steps += step ? 1 : 0;
    if (!reason.empty()) {
      ++tally.failed;
      reason += fmt::format(" (log: {})", (fs::path("logs") / log.filename()).string());
      write_failure(json, run, reason);
      fmt::print("          FAILED: {}\n", reason);
    } else {
      ++(measured.skipped ? tally.skipped : tally.measured);
      tally.steps_measured += step && !measured.skipped ? 1 : 0;
      fmt::print("          {}\n", measured.line);
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool nothing = tally.no_step_measured(args.only < 0);
  fmt::print("parbench sweep: {} run(s) in {}: {} measured, {} skipped, {} failed{}\n", todo.size(),
             clock_text(elapsed), tally.measured, tally.skipped, tally.failed,
             nothing ? "; no step was measured: every step configuration was skipped or failed (reasons above)" : "");
  if (args.only >= 0 || args.no_report) return;
  std::vector<std::string> report{self_exe().string(), "report", out.string(), "--out", out.string(), "--force"};
  if (args.no_plots) report.push_back("--no-plots");
  std::vector<char*> c_argv;
  c_argv.reserve(report.size() + 1);
  for (auto& a : report) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::fflush(stdout);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  interrupt::set_spawn_signal_mask(&attributes);
  pid_t pid = 0;
  const int e = posix_spawn(&pid, c_argv[0], nullptr, &attributes, c_argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (e != 0) raise("cannot start parbench report: {}", std::generic_category().message(e));
  int status = 0;
  waitpid(pid, &status, 0);
  interrupt::throw_if_interrupted();  // a stop while the (quick) report ran: still exit 128 + signal
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) raise("parbench report {} failed (see above)", out.string());
}

}  // namespace

void add_sweep_command(CLI::App& app, bool& failed) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Benchmark strategies x worker counts (and the collectives) into one run folder, then report on it");
  sweep->add_option("--workload,--workloads", args->workloads, "Workloads")->delimiter(',')->capture_default_str();
  sweep
      ->add_option("--strategies", args->strategies,
                   "Strategies: serial, thread_pool, task_graph, dp, ddp, ddp_no_overlap, zero1, zero2, zero3")
      ->delimiter(',')
      ->capture_default_str();
  sweep->add_option("--workers", args->workers, "Worker counts (serial: intra-op threads; ddp/zero: MPI ranks)")
      ->delimiter(',')
      ->check(integer_in(1, 256))
      ->capture_default_str();
  sweep
      ->add_option("--batch", args->batch,
                   "Global batch (strong) or per-worker batch (weak): B, or WORKLOAD=B; default violence=64, "
                   "shoplifting=256")
      ->delimiter(',');
  sweep->add_option("--data", args->data,
                    "HDF5 dataset (parbench data synth|import) whose first samples are the batches; default: "
                    "synthetic batches");
  sweep->add_option("--split", args->split, "Split of --data, e.g. /train")->capture_default_str();
  sweep->add_option("--mode", args->mode, "strong (fixed global batch) or weak (fixed batch per worker)")
      ->capture_default_str();
  sweep
      ->add_option("--backend", args->backend,
                   "Kernel backend: cpu; cuda (workers:1 only, on one GPU; where it cannot start every step is "
                   "skipped and the sweep fails); cuda_emulated (the CUDA kernels on the CPU: slow, for tests)")
      ->capture_default_str();
  sweep->add_option("--repetitions", args->repetitions, "Google Benchmark repetitions per configuration")
      ->check(integer_at_least(1))
      ->capture_default_str();
  sweep->add_option("--min-time", args->min_time, "Seconds each repetition runs at least")
      ->check(positive_number())
      ->capture_default_str();
  sweep->add_flag("--no-collectives", args->no_collectives, "Skip the collective benchmarks");
  sweep->add_option("--max-mib", args->max_mib, "Largest collective message, MiB")
      ->check(integer_at_least(1))
      ->capture_default_str();
  sweep->add_option("--out", args->out, "Run folder (default results/runs/<SLURM job id or timestamp>)");
  sweep->add_option("--launcher", args->launcher, "How MPI strategies start: mpirun, or srun inside an allocation")
      ->capture_default_str();
  sweep->add_option("--bench-dir", args->bench_dir, "Folder of the harness binaries (default: found beside parbench)");
  sweep->add_option("--timeout", args->timeout, "Seconds one configuration may take before it is stopped")
      ->check(positive_number())
      ->capture_default_str();
  sweep->add_flag("--plan", args->plan_only, "Print the configurations as JSON (with their commands) and exit");
  sweep
      ->add_option("--only", args->only,
                   "Run only configuration K (from 0) of --plan (one SLURM array element); no report")
      ->check(integer_at_least(0));
  sweep->add_flag("--no-report", args->no_report, "Do not run parbench report at the end");
  sweep->add_flag("--no-plots", args->no_plots, "Report without plots");
  sweep->add_flag("--force", args->force, "Reuse a --out folder that already holds a sweep");
  sweep->callback([args, &failed] {
    Tally tally;
    run_sweep(*args, tally);
    failed = tally.sweep_failed(args->only < 0);
  });
}

}  // namespace parbench::cli
