// Collectives of the communicators (strategies/comm.h) in the manner of nccl-tests: all-reduce,
// reduce-scatter, all-gather and broadcast of S = 4 B .. 256 MiB, reported as time per call, algbw
// and busbw, with every result checked against inputs whose exact result is known (a wrong result
// fails the benchmark with the number of wrong elements).
//   bench_collectives [--ranks=N]               # `local`: N threads of this process (default 2)
//   bench_collectives --max_bytes=S             # largest size (default 256 MiB)
//   bench_collectives --inject_error=1          # test hook: rank 0 corrupts every result
//   mpirun -np N bench_collectives              # `mpi`: the ranks of MPI_COMM_WORLD, and MPI_Allreduce
//                                               # itself as the reference (comm "mpi_raw")
//   bench_collectives --comm=mpi|local          # force one (mpi with 1 rank works too)
// Definitions (nccl-tests doc/PERFORMANCE.md): algbw = S / t with S the whole buffer (all-reduce,
// broadcast) or the gathered buffer (reduce-scatter, all-gather); busbw = algbw * factor, the
// bandwidth of the busiest link in an optimal ring, so it is comparable across rank counts:
// all-reduce 2(n-1)/n, reduce-scatter and all-gather (n-1)/n, broadcast 1.
// Timing: every iteration starts together (barrier) and counts the slowest rank (MAX), so all
// ranks agree on the time and thus on Google Benchmark's iteration count; only rank 0 reports.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "bench/common.h"
#include "core/context.h"
#include "core/error.h"
#include "strategies/comm.h"

#if PARBENCH_HAVE_MPI
#include <mpi.h>
#endif

namespace {

using namespace parbench;
using strategies::Comm;
using strategies::Reduction;
using Clock = std::chrono::steady_clock;

// raw_all_reduce is MPI_Allreduce called directly on MPI_COMM_WORLD (comm "mpi_raw", with --comm=mpi):
// the reference that shows what the mpi communicator's thread and duplicate communicator cost.
enum class Op { all_reduce, reduce_scatter, all_gather, broadcast, raw_all_reduce };

struct OpInfo {
  Op op;
  const char* name;
};
constexpr OpInfo kOps[] = {{Op::all_reduce, "all_reduce"},
                           {Op::reduce_scatter, "reduce_scatter"},
                           {Op::all_gather, "all_gather"},
                           {Op::broadcast, "broadcast"}};

// The nccl-tests name (and so the bus factor) of an op; the raw reference is an all-reduce.
const char* op_name(Op op) { return op == Op::raw_all_reduce ? "all_reduce" : kOps[static_cast<int>(op)].name; }

// How the ranks of one benchmark meet and agree on a time: threads (local) or processes (mpi).
class Ranks {
 public:
  virtual ~Ranks() = default;
  virtual Comm& comm(int thread_index) = 0;
  virtual void start_together() = 0;
  // The maximum over ranks of `seconds`; every rank gets the same value.
  virtual double max_over_ranks(double seconds, int rank) = 0;
  // True on every rank when `ok` is true on every rank.
  virtual bool all_ok(bool ok, int rank) = 0;
};

// `local`: Google Benchmark runs the function on N threads (->Threads(N)), thread i being rank i.
class LocalRanks final : public Ranks {
 public:
  explicit LocalRanks(int n)
      : comms_(strategies::make_local_comms(n)), start_(n), done_(n, Reduce{this}),
        seconds_(static_cast<std::size_t>(n)), ok_(static_cast<std::size_t>(n)) {}
  Comm& comm(int thread_index) override { return *comms_[static_cast<std::size_t>(thread_index)]; }
  void start_together() override { start_.arrive_and_wait(); }
  double max_over_ranks(double seconds, int rank) override {
    seconds_[static_cast<std::size_t>(rank)] = seconds;
    done_.arrive_and_wait();  // the completion step computes max_ once every rank has written
    return max_;
  }
  bool all_ok(bool ok, int rank) override {
    ok_[static_cast<std::size_t>(rank)] = static_cast<char>(ok);
    done_.arrive_and_wait();
    return all_ok_;
  }

 private:
  struct Reduce {
    LocalRanks* self;
    void operator()() noexcept {
      self->max_ = *std::max_element(self->seconds_.begin(), self->seconds_.end());
      self->all_ok_ = std::all_of(self->ok_.begin(), self->ok_.end(), [](char v) { return v != 0; });
    }
  };
  std::vector<std::unique_ptr<Comm>> comms_;
  std::barrier<> start_;
  std::barrier<Reduce> done_;
  std::vector<double> seconds_;
  std::vector<char> ok_;
  double max_ = 0;
  bool all_ok_ = true;
};

#if PARBENCH_HAVE_MPI
// `mpi`: one process per rank. The timing calls use MPI_COMM_WORLD from the main thread; the
// communicator under test works on its own duplicate from its communication thread.
class MpiRanks final : public Ranks {
 public:
  MpiRanks() : comm_(strategies::make_world_comm()) {}
  Comm& comm(int) override { return *comm_; }
  void start_together() override { MPI_Barrier(MPI_COMM_WORLD); }
  double max_over_ranks(double seconds, int) override {
    double max = 0;
    MPI_Allreduce(&seconds, &max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return max;
  }
  bool all_ok(bool ok, int) override {
    int mine = ok ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all == 1;
  }

 private:
  std::unique_ptr<Comm> comm_;
};
#endif

std::unique_ptr<Ranks> g_ranks;

void run_op(Comm& comm, Op op, std::vector<float>& data, const std::vector<std::size_t>& counts) {
  switch (op) {
    case Op::raw_all_reduce:
#if PARBENCH_HAVE_MPI
      MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
#endif
      break;
    case Op::all_reduce: comm.all_reduce(data.data(), data.size(), Reduction::sum); break;
    case Op::reduce_scatter: comm.reduce_scatter(data.data(), counts, Reduction::sum); break;
    case Op::all_gather: comm.all_gather(data.data(), counts); break;
    case Op::broadcast: comm.broadcast(data.data(), data.size(), 0); break;
  }
}

// What check_op found on this rank: how many elements are wrong, and the first of them.
struct Check {
  std::size_t wrong = 0, first = 0;
  float got = 0, expected = 0;
};

// --inject_error=1: rank 0 corrupts one element of every result before it is checked, so that a
// test can see a wrong collective reported (the check's own test hook).
bool g_inject_error = false;

// One call on inputs whose exact result is known (small integers), then every element of this
// rank's result compared with it. Sums stay below 2^24, so they are exact in float.
Check check_op(Comm& comm, Op op, std::vector<float>& data, const std::vector<std::size_t>& counts) {
  const int rank = comm.rank();
  const auto n = static_cast<float>(comm.size());
  const auto offsets = strategies::part_offsets(counts);
  auto value = [&](std::size_t i) { return static_cast<float>(i % 7 + 1); };
  for (std::size_t i = 0; i < data.size(); ++i) {
    switch (op) {
      case Op::all_reduce:
      case Op::raw_all_reduce:
      case Op::reduce_scatter: data[i] = static_cast<float>(rank + 1) * value(i); break;
      case Op::all_gather: data[i] = static_cast<float>(rank * 1000) + value(i); break;
      case Op::broadcast: data[i] = rank == 0 ? value(i) : -1.0f; break;
    }
  }
  run_op(comm, op, data, counts);
  if (g_inject_error && rank == 0 && !data.empty()) {
    const std::size_t at = op == Op::reduce_scatter ? 0 : data.size() / 2;
    if (op != Op::reduce_scatter || counts.front() > 0) data[at] += 1.0f;
  }
  Check check;
  const std::size_t mine_begin = offsets[static_cast<std::size_t>(rank)];
  const std::size_t mine_end = offsets[static_cast<std::size_t>(rank) + 1];
  for (std::size_t i = 0; i < data.size(); ++i) {
    float expected = 0;
    switch (op) {
      case Op::all_reduce:
      case Op::raw_all_reduce: expected = n * (n + 1) / 2 * value(i); break;
      case Op::reduce_scatter:
        if (i < mine_begin || i >= mine_end) continue;
        expected = n * (n + 1) / 2 * value(i);
        break;
      case Op::all_gather: {
        const auto owner = std::upper_bound(offsets.begin(), offsets.end(), i) - offsets.begin() - 1;
        expected = static_cast<float>(owner * 1000) + value(i);
        break;
      }
      case Op::broadcast: expected = value(i); break;
    }
    if (data[i] != expected) {
      if (check.wrong++ == 0) check = {1, i, data[i], expected};
    }
  }
  return check;
}

// S bytes of `op` per iteration. The timed buffers hold zeros, so repeated sums stay zero.
void BM_Collective(benchmark::State& state, Op op, std::size_t bytes) {
  const int rank = state.thread_index();
  Comm& comm = g_ranks->comm(rank);
  const std::size_t count = bytes / sizeof(float);
  const auto counts = strategies::even_parts(count, comm.size());
  std::vector<float> data(count, 0.0f);
  run_op(comm, op, data, counts);  // warm-up: first touch of the pages, the comm thread's caches

  double total = 0;
  for (auto _ : state) {
    g_ranks->start_together();
    const auto start = Clock::now();
    run_op(comm, op, data, counts);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double slowest = g_ranks->max_over_ranks(seconds, comm.rank());
    state.SetIterationTime(slowest);
    total += slowest;
  }

  const Check check = check_op(comm, op, data, counts);
  const bool ok = g_ranks->all_ok(check.wrong == 0, comm.rank());
  if (!ok) {
    // Under MPI only rank 0 reports: its own count, or that another rank's result was wrong. With
    // local ranks (threads of one benchmark) the ranks that found wrong elements report them.
    if (check.wrong == 0 && state.threads() > 1) return;
    const std::string where =
        check.wrong ? fmt::format("{} of {} elements wrong on rank {} (first: element {} is {}, expected {})",
                                  check.wrong, count, comm.rank(), check.first, check.got, check.expected)
                    : std::string("wrong elements on another rank");
    state.SkipWithError(
        fmt::format("{} of {} bytes on {} ranks gave a wrong result: {}", op_name(op), bytes, comm.size(), where)
            .c_str());
    return;
  }
  const double algbw = static_cast<double>(bytes) * static_cast<double>(state.iterations()) / total / 1e9;
  // Every rank thread reports the same values: average them rather than sum (local runs N threads).
  state.counters["bytes"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kAvgThreads);
  state.counters["algbw_GBps"] = benchmark::Counter(algbw, benchmark::Counter::kAvgThreads);
  state.counters["busbw_GBps"] =
      benchmark::Counter(algbw * strategies::bus_factor(op_name(op), comm.size()), benchmark::Counter::kAvgThreads);
}

// Sizes 4 B, 16 B, ..., up to max_bytes (x4).
std::vector<std::size_t> sizes(std::size_t max_bytes) {
  std::vector<std::size_t> out;
  for (std::size_t s = 4; s <= max_bytes; s *= 4) out.push_back(s);
  return out;
}

void register_benchmarks(const std::string& comm_name, int ranks, bool threads, std::size_t max_bytes) {
  const auto add = [&](Op op, const std::string& comm_label, std::size_t bytes) {
    const std::string name = fmt::format("{}/{}/ranks:{}/bytes:{}", op_name(op), comm_label, ranks, bytes);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Collective, op, bytes)
                  ->UseManualTime()
                  ->Unit(benchmark::kMicrosecond);
    if (threads) b->Threads(ranks);
  };
  for (const OpInfo& info : kOps) {
    for (const std::size_t bytes : sizes(max_bytes)) add(info.op, comm_name, bytes);
  }
  if (comm_name == "mpi") {
    for (const std::size_t bytes : sizes(max_bytes)) add(Op::raw_all_reduce, "mpi_raw", bytes);
  }
}

int run(int argc, char** argv) {
  const std::string comm_name =
      bench::take_string_flag(argc, argv, "comm", strategies::launched_with_mpi() ? "mpi" : "local");
  const long long local_ranks = bench::take_int_flag(argc, argv, "ranks", 2, 1, 64);
  const long long max_bytes = bench::take_int_flag(argc, argv, "max_bytes", 256LL << 20, 4);
  g_inject_error = bench::take_int_flag(argc, argv, "inject_error", 0, 0, 1) != 0;
  int rank = 0, ranks = 1;
  if (comm_name == "local") {
    ranks = static_cast<int>(local_ranks);
    g_ranks = std::make_unique<LocalRanks>(ranks);
  } else if (comm_name == "mpi") {
#if PARBENCH_HAVE_MPI
    g_ranks = std::make_unique<MpiRanks>();
    rank = g_ranks->comm(0).rank();
    ranks = g_ranks->comm(0).size();
#else
    strategies::make_world_comm();  // throws, saying how to build with MPI
#endif
  } else {
    raise("--comm={}: expected local or mpi", comm_name);
  }
  if (rank != 0) {
    // Every rank would otherwise truncate and write the same --benchmark_out file.
    bench::take_string_flag(argc, argv, "benchmark_out", "");
    bench::take_string_flag(argc, argv, "benchmark_out_format", "");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::add_run_context();
  benchmark::AddCustomContext("comm", comm_name);
  benchmark::AddCustomContext("ranks", std::to_string(ranks));
  // Ranks are processes or threads of this host (a one-node run): more than cores share them.
  benchmark::AddCustomContext("oversubscribed", ranks > cpu_info().physical_cores ? "true" : "false");
  register_benchmarks(comm_name, ranks, comm_name == "local", static_cast<std::size_t>(max_bytes));
  if (rank == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    bench::SilentReporter silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  g_ranks.reset();  // communicators end before MPI is finalised at exit
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const parbench::Error& error) {
    fmt::print(stderr, "bench_collectives: {}\n", error.what());
    return 1;
  }
}
