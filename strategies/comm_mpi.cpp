// `mpi` communicator (design.md §4): the processes of MPI_COMM_WORLD (or a split of it). Each
// communicator owns a duplicate of its MPI communicator, so its collectives never interleave with
// MPI calls made elsewhere on the same ranks (the benchmark's timing all-reduce, for instance),
// and runs blocking MPI collectives on its communication thread: that thread is what overlaps
// them with the caller's compute.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "core/check.h"
#include "core/error.h"
#include "strategies/comm.h"
#include "strategies/comm_thread.h"

#if PARBENCH_HAVE_MPI
#include <mpi.h>
#endif

namespace parbench::strategies {

int launched_world_size() {
  // OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE; MPICH's hydra and srun --mpi=pmi2 set PMI_SIZE;
  // srun (any plugin) sets SLURM_STEP_NUM_TASKS for the tasks of a job step (not in the batch
  // script itself, which sees SLURM_NTASKS only).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    if (const char* value = std::getenv(var)) return std::max(1, std::atoi(value));
  }
  return 1;
}

bool launched_with_mpi() { return launched_world_size() > 1; }

#if PARBENCH_HAVE_MPI

namespace {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

// A failed MPI call becomes a parbench::Error naming the call, the collective and the rank.
void mpi_call(int code, const char* call, std::string_view what, int rank) {
  if (code != MPI_SUCCESS) raise("{} failed on rank {} ({}): {}", call, rank, what, mpi_error_string(code));
}

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI_THREAD_MULTIPLE: every communicator calls MPI from its own communication thread.
void ensure_mpi() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    if (initialized) {
      MPI_Query_thread(&provided);
    } else {
      // OpenMPI busy-polls inside blocking calls. Our communication thread shares the cores with
      // the rank's compute (on this 2-core machine, one core per rank), so let it yield while it
      // waits for the peers; an explicit setting by the user wins. Once, before MPI_Init: no thread of
      // ours reads the environment then (the signal thread never does, OpenMP only at load).
      ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);  // NOLINT(concurrency-mt-unsafe)
      mpi_call(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread", "startup",
               process_rank());
      std::atexit(finalize_mpi);  // only when we initialised it
    }
    if (provided < MPI_THREAD_MULTIPLE) {
      raise(
          "the MPI library provides thread level {} but the mpi communicator needs MPI_THREAD_MULTIPLE ({}): "
          "use an MPI built with thread support",
          provided, MPI_THREAD_MULTIPLE);
    }
  });
}

std::vector<int> int_counts(std::span<const std::size_t> counts, std::string_view what, int rank) {
  std::vector<int> out;
  out.reserve(counts.size());
  for (std::size_t c : counts) {
    if (c > static_cast<std::size_t>(INT_MAX))
      raise("mpi {} on rank {}: part of {} floats is too large for MPI", what, rank, c);
    out.push_back(static_cast<int>(c));
  }
  return out;
}

class MpiComm final : public Comm {
 public:
  // Takes ownership of `comm` (freed in the destructor).
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {
    mpi_call(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", "setup", process_rank());
    mpi_call(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank", "setup", process_rank());
    mpi_call(MPI_Comm_size(comm_, &size_), "MPI_Comm_size", "setup", rank_);
    // The node-local rank from MPI itself: under mpirun inside a SLURM allocation SLURM_LOCALID is
    // 0 on every rank, and launchers name their local-rank variables differently.
    MPI_Comm node = MPI_COMM_NULL;
    mpi_call(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type",
             "setup", rank_);
    mpi_call(MPI_Comm_rank(node, &local_rank_), "MPI_Comm_rank", "setup", rank_);
    mpi_call(MPI_Comm_size(node, &local_size_), "MPI_Comm_size", "setup", rank_);
    MPI_Comm_free(&node);
    thread_ = std::make_unique<detail::CommThread>();
  }

  ~MpiComm() override {
    thread_.reset();  // runs what was issued before
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  std::unique_ptr<Request> all_reduce_async(float* data, std::size_t n, Reduction op) override {
    const int count = int_count(n, "all_reduce");
    return thread_->submit("all_reduce", 4.0 * static_cast<double>(n), [this, data, n, count, op] {
      mpi_call(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce", "all_reduce",
               rank_);
      if (op == Reduction::average) scale(data, n);
    });
  }

  std::unique_ptr<Request> broadcast_async(float* data, std::size_t n, int root) override {
    const int count = int_count(n, "broadcast");
    check_root(root, "broadcast");
    return thread_->submit("broadcast", 4.0 * static_cast<double>(n), [this, data, count, root] {
      mpi_call(MPI_Bcast(data, count, MPI_FLOAT, root, comm_), "MPI_Bcast", "broadcast", rank_);
    });
  }

  std::unique_ptr<Request> reduce_async(float* data, std::size_t n, int root) override {
    const int count = int_count(n, "reduce");
    check_root(root, "reduce");
    return thread_->submit("reduce", 4.0 * static_cast<double>(n), [this, data, count, root] {
      // Non-root ranks only send: their buffers stay as they were.
      const void* send = rank_ == root ? MPI_IN_PLACE : data;
      void* receive = rank_ == root ? data : nullptr;
      mpi_call(MPI_Reduce(send, receive, count, MPI_FLOAT, MPI_SUM, root, comm_), "MPI_Reduce", "reduce", rank_);
    });
  }

  std::unique_ptr<Request> reduce_scatter_async(float* data, std::span<const std::size_t> counts,
                                                Reduction op) override {
    check_counts(counts, "reduce_scatter");
    const auto offsets = part_offsets(counts);
    auto receive_counts = int_counts(counts, "reduce_scatter", rank_);
    return thread_->submit(
        "reduce_scatter", 4.0 * static_cast<double>(offsets.back()), [this, data, offsets, receive_counts, op] {
          const auto mine = static_cast<std::size_t>(rank_);
          mpi_call(MPI_Reduce_scatter(MPI_IN_PLACE, data, receive_counts.data(), MPI_FLOAT, MPI_SUM, comm_),
                   "MPI_Reduce_scatter", "reduce_scatter", rank_);
          // In place, MPI leaves this rank's part at the start of the buffer.
          const std::size_t length = offsets[mine + 1] - offsets[mine];
          if (length > 0 && offsets[mine] > 0) {
            std::memmove(data + offsets[mine], data, length * sizeof(float));
          }
          if (op == Reduction::average) scale(data + offsets[mine], length);
        });
  }

  std::unique_ptr<Request> all_gather_async(float* data, std::span<const std::size_t> counts) override {
    check_counts(counts, "all_gather");
    const auto offsets = part_offsets(counts);
    auto receive_counts = int_counts(counts, "all_gather", rank_);
    auto displacements = int_counts(std::span(offsets).first(counts.size()), "all_gather", rank_);
    return thread_->submit("all_gather", 4.0 * static_cast<double>(offsets.back()),
                           [this, data, receive_counts, displacements] {
                             mpi_call(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, receive_counts.data(),
                                                     displacements.data(), MPI_FLOAT, comm_),
                                      "MPI_Allgatherv", "all_gather", rank_);
                           });
  }

  std::unique_ptr<Request> barrier_async() override {
    return thread_->submit("barrier", 0.0, [this] { mpi_call(MPI_Barrier(comm_), "MPI_Barrier", "barrier", rank_); });
  }

  std::unique_ptr<Comm> split(int color, int key) override {
    if (color < 0) raise("mpi communicator split: color must be >= 0, got {}", color);
    MPI_Comm part = MPI_COMM_NULL;
    // On the communication thread, so the split is ordered after the collectives issued before.
    thread_
        ->submit("split", 0.0,
                 [this, color, key, &part] {
                   mpi_call(MPI_Comm_split(comm_, color, key, &part), "MPI_Comm_split", "split", rank_);
                 })
        ->wait();
    return std::make_unique<MpiComm>(part);
  }

  std::map<std::string, CommCounters> counters() const override { return thread_->counters(); }
  void reset_counters() override { thread_->reset_counters(); }

 private:
  int int_count(std::size_t n, std::string_view what) const {
    if (n > static_cast<std::size_t>(INT_MAX))
      raise("mpi {} on rank {}: {} floats is too many for MPI", what, rank_, n);
    return static_cast<int>(n);
  }
  void check_root(int root, std::string_view what) const {
    if (root < 0 || root >= size_) raise("mpi {}: root {} is not a rank of {}", what, root, size_);
  }
  void check_counts(std::span<const std::size_t> counts, std::string_view what) const {
    if (counts.size() != static_cast<std::size_t>(size_))
      raise("mpi {}: {} counts for {} ranks", what, counts.size(), size_);
  }
  // The average is the sum divided by N, as in the local communicator, so both give the same bits.
  void scale(float* data, std::size_t n) const {
    const auto parts = static_cast<float>(size_);
    for (std::size_t i = 0; i < n; ++i) data[i] /= parts;
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  int local_rank_ = 0, local_size_ = 1;
  std::unique_ptr<detail::CommThread> thread_;
};

}  // namespace

std::unique_ptr<Comm> make_world_comm() {
  ensure_mpi();
  MPI_Comm world = MPI_COMM_NULL;
  mpi_call(MPI_Comm_dup(MPI_COMM_WORLD, &world), "MPI_Comm_dup", "make_world_comm", process_rank());
  return std::make_unique<MpiComm>(world);
}

#else

std::unique_ptr<Comm> make_world_comm() {
  raise("the mpi communicator is not available: parbench was built without MPI (configure with -DPARBENCH_MPI=ON)");
}

#endif

}  // namespace parbench::strategies
