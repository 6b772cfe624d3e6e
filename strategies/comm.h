// Communicators (design.md §4): the collectives the data-parallel strategies are built from, on
// float32 device buffers, with the bytes and time of every call counted. `local` connects threads
// of one process through shared memory; `mpi` connects processes (OpenMPI); `nccl` comes with the
// CUDA backend. Every implementation runs its collectives on one communication thread per
// communicator, in the order they were issued: a non-blocking call returns at once and overlaps
// the caller's compute, a blocking call is the same call followed by wait(). On a GPU, "issued"
// will mean "ordered after the compute already queued on the stream", which this contract allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::strategies {

enum class Reduction { sum, average };

// One outstanding collective.
class Request {
 public:
  virtual ~Request() = default;
  // Blocks until the collective has completed on this rank; rethrows its failure. Idempotent.
  virtual void wait() = 0;
};

// Per operation kind ("all_reduce", "reduce_scatter", ...): calls, bytes and seconds.
// `bytes` is the message size S of nccl-tests (the full buffer of an all-reduce, the gathered
// buffer of an all-gather or reduce-scatter); `seconds` is the time the communication thread
// spent in the call; `waited` is the time callers spent blocked in wait() (the exposed part).
struct CommCounters {
  std::int64_t calls = 0;
  double bytes = 0;
  double seconds = 0;
  double waited = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;
  Comm() = default;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  virtual std::string name() const = 0;  // "local", "mpi"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank among the communicator's ranks on the same host, and their number: what a rank binds
  // its device by (core/devices.h). The default fits ranks that are threads of one process.
  virtual int local_rank() const { return rank(); }
  virtual int local_size() const { return size(); }

  // Collectives. Every rank of the communicator issues the same collectives in the same order,
  // with the same sizes. Buffers belong to the collective until its Request completes.
  //
  // data (n): the element-wise sum (or average) over ranks, on every rank.
  virtual std::unique_ptr<Request> all_reduce_async(float* data, std::size_t n, Reduction op) = 0;
  // data (n): root's values, on every rank.
  virtual std::unique_ptr<Request> broadcast_async(float* data, std::size_t n, int root) = 0;
  // data (n): the sum over ranks, on root only; the other ranks' buffers are left unchanged.
  virtual std::unique_ptr<Request> reduce_async(float* data, std::size_t n, int root) = 0;
  // data (sum(counts)): rank r owns the part at offset counts[0] + ... + counts[r - 1] of length
  // counts[r] (uneven parts allowed, zero too). Afterwards this rank's own part holds the sum (or
  // average) over ranks of that part; the rest of its buffer is unspecified.
  virtual std::unique_ptr<Request> reduce_scatter_async(float* data, std::span<const std::size_t> counts,
                                                        Reduction op) = 0;
  // data (sum(counts)), parts as for reduce_scatter: every rank's part, from its owner, on every rank.
  virtual std::unique_ptr<Request> all_gather_async(float* data, std::span<const std::size_t> counts) = 0;
  virtual std::unique_ptr<Request> barrier_async() = 0;

  void all_reduce(float* data, std::size_t n, Reduction op) { all_reduce_async(data, n, op)->wait(); }
  void broadcast(float* data, std::size_t n, int root) { broadcast_async(data, n, root)->wait(); }
  void reduce(float* data, std::size_t n, int root) { reduce_async(data, n, root)->wait(); }
  void reduce_scatter(float* data, std::span<const std::size_t> counts, Reduction op) {
    reduce_scatter_async(data, counts, op)->wait();
  }
  void all_gather(float* data, std::span<const std::size_t> counts) { all_gather_async(data, counts)->wait(); }
  void barrier() { barrier_async()->wait(); }

  // A communicator over the ranks that pass the same color, ordered by key (MPI_Comm_split).
  // Collective over this communicator. Used for hybrid sharding (groups and replicas).
  virtual std::unique_ptr<Comm> split(int color, int key) = 0;

  // Counters since construction (or the last reset), by operation kind. Thread-safe.
  virtual std::map<std::string, CommCounters> counters() const = 0;
  virtual void reset_counters() = 0;
};

// nccl-tests' bus bandwidth factor (PERFORMANCE.md there) of an operation kind ("all_reduce",
// "reduce_scatter", "all_gather", "broadcast", "reduce", "scatter", "barrier", "split") over n ranks:
// busBw = algBw * factor is the bandwidth of the busiest link of an optimal ring, comparable
// across rank counts and with the hardware's link speed. 0 for a barrier or split (no payload).
double bus_factor(std::string_view kind, int n);

// Offsets of the parts of a reduce_scatter / all_gather buffer: (counts.size() + 1) values.
std::vector<std::size_t> part_offsets(std::span<const std::size_t> counts);

// n items split into `parts` contiguous parts as evenly as possible, the first n % parts one
// larger (the shards of ZeRO and the batch shards of every strategy).
std::vector<std::size_t> even_parts(std::size_t n, int parts);

// `local`: `size` communicators for `size` threads of this process (one per thread, rank i at
// index i). A collective completes when every thread has issued it.
std::vector<std::unique_ptr<Comm>> make_local_comms(int size);

// `mpi`: the processes of MPI_COMM_WORLD. Initialises MPI on first use (MPI_THREAD_MULTIPLE) and
// finalises it at exit. Throws parbench::Error when parbench was built without MPI.
std::unique_ptr<Comm> make_world_comm();
// True when this process was started by an MPI launcher (mpirun, srun) with more than one rank.
bool launched_with_mpi();
// The number of ranks the launcher started (the variables launched_with_mpi() reads); 1 without one.
int launched_world_size();

}  // namespace parbench::strategies
