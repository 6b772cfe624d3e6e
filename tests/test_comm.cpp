// The `local` communicator (ranks as threads): exact results of every collective for N = 1..4 on
// odd sizes (tests/comm_cases.h, shared with the MPI test program), counters, bitwise
// determinism, and failures that end every rank's collective instead of hanging.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "comm_cases.h"
#include "core/error.h"
#include "core/rng.h"
#include "strategies/comm.h"
#include "test_util.h"

namespace parbench::strategies {
namespace {

// Runs fn(comm) on one thread per rank of `comms`; rethrows the first rank's exception.
void run_ranks(std::vector<std::unique_ptr<Comm>>& comms, const std::function<void(Comm&)>& fn) {
  std::vector<std::exception_ptr> errors(comms.size());
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < comms.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        fn(*comms[r]);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

class LocalComm : public ::testing::TestWithParam<int> {};

TEST_P(LocalComm, ExactResults) {
  auto comms = make_local_comms(GetParam());
  std::vector<std::vector<std::string>> failures(comms.size());
  run_ranks(comms,
            [&](Comm& comm) { failures[static_cast<std::size_t>(comm.rank())] = test::run_exact_comm_cases(comm); });
  for (const auto& rank_failures : failures) {
    for (const auto& f : rank_failures) ADD_FAILURE() << f;
  }
}

TEST_P(LocalComm, RankAndSize) {
  auto comms = make_local_comms(GetParam());
  ASSERT_EQ(comms.size(), static_cast<std::size_t>(GetParam()));
  for (std::size_t r = 0; r < comms.size(); ++r) {
    EXPECT_EQ(comms[r]->rank(), static_cast<int>(r));
    EXPECT_EQ(comms[r]->size(), GetParam());
    EXPECT_EQ(comms[r]->name(), "local");
  }
}

// Random floats summed in a fixed rank order: two runs agree bitwise, every rank holds the same
// values, and they equal the sequential sum ((x0 + x1) + x2) + ... .
TEST_P(LocalComm, AllReduceIsBitwiseDeterministic) {
  const int ranks = GetParam();
  constexpr std::size_t n = 10007;
  auto input = [](int rank, std::size_t i) { return rng::normal(rng::hash(3, static_cast<std::uint64_t>(rank), i)); };
  std::vector<float> expected(n);
  for (std::size_t i = 0; i < n; ++i) {
    float acc = input(0, i);
    for (int r = 1; r < ranks; ++r) acc += input(r, i);
    expected[i] = acc;
  }
  auto comms = make_local_comms(ranks);
  for (int repeat = 0; repeat < 2; ++repeat) {
    std::vector<std::vector<float>> data(static_cast<std::size_t>(ranks), std::vector<float>(n));
    run_ranks(comms, [&](Comm& comm) {
      auto& mine = data[static_cast<std::size_t>(comm.rank())];
      for (std::size_t i = 0; i < n; ++i) mine[i] = input(comm.rank(), i);
      comm.all_reduce(mine.data(), n, Reduction::sum);
    });
    // Bitwise, not by value: every rank must hold the very same bits.
    for (const auto& mine : data) {
      // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
      EXPECT_EQ(std::memcmp(mine.data(), expected.data(), n * sizeof(float)), 0);
    }
  }
}

TEST_P(LocalComm, CountsCallsAndBytes) {
  const int ranks = GetParam();
  auto comms = make_local_comms(ranks);
  const auto counts = even_parts(10, ranks);
  run_ranks(comms, [&](Comm& comm) {
    std::vector<float> data(10, 1.0f);
    comm.all_reduce(data.data(), 10, Reduction::sum);
    comm.all_reduce(data.data(), 3, Reduction::average);
    comm.broadcast(data.data(), 5, 0);
    comm.reduce_scatter(data.data(), counts, Reduction::sum);
    comm.all_gather(data.data(), counts);
    comm.barrier();
  });
  for (const auto& comm : comms) {
    const auto c = comm->counters();
    ASSERT_EQ(c.count("all_reduce"), 1u);
    EXPECT_EQ(c.at("all_reduce").calls, 2);
    EXPECT_EQ(c.at("all_reduce").bytes, 4.0 * 13);  // nccl-tests size: the whole buffer
    EXPECT_GT(c.at("all_reduce").seconds, 0.0);
    EXPECT_GE(c.at("all_reduce").waited, 0.0);
    EXPECT_EQ(c.at("broadcast").bytes, 4.0 * 5);
    EXPECT_EQ(c.at("reduce_scatter").bytes, 4.0 * 10);  // the gathered (input) buffer
    EXPECT_EQ(c.at("all_gather").bytes, 4.0 * 10);
    EXPECT_EQ(c.at("barrier").calls, 1);
    EXPECT_EQ(c.at("barrier").bytes, 0.0);
    comm->reset_counters();
    EXPECT_TRUE(comm->counters().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, LocalComm, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return fmt::format("n{}", info.param); });

// A communicator whose collectives do nothing, posing as one rank of 2: the exact cases must
// notice (they are what the MPI test program relies on).
class NoOpComm final : public Comm {
 public:
  explicit NoOpComm(int rank) : rank_(rank) {}
  struct Done final : Request {
    void wait() override {}
  };
  std::string name() const override { return "noop"; }
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  std::unique_ptr<Request> all_reduce_async(float*, std::size_t, Reduction) override { return done(); }
  std::unique_ptr<Request> broadcast_async(float*, std::size_t, int) override { return done(); }
  std::unique_ptr<Request> reduce_async(float*, std::size_t, int) override { return done(); }
  std::unique_ptr<Request> reduce_scatter_async(float*, std::span<const std::size_t>, Reduction) override {
    return done();
  }
  std::unique_ptr<Request> all_gather_async(float*, std::span<const std::size_t>) override { return done(); }
  std::unique_ptr<Request> barrier_async() override { return done(); }
  std::unique_ptr<Comm> split(int, int) override { return std::make_unique<NoOpComm>(rank_); }
  std::map<std::string, CommCounters> counters() const override { return {}; }
  void reset_counters() override {}

 private:
  static std::unique_ptr<Request> done() { return std::make_unique<Done>(); }
  int rank_;
};

TEST(CommCases, DetectABrokenCommunicator) {
  // Rank 0 is not the root of the reduce and rank 1 is the root of the broadcast: each alone
  // would see a correct buffer there.
  std::vector<std::string> failures;
  for (int rank : {0, 1}) {
    NoOpComm comm(rank);
    const auto mine = test::run_exact_comm_cases(comm);
    failures.insert(failures.end(), mine.begin(), mine.end());
  }
  auto mentions = [&](const std::string& what) {
    return std::any_of(failures.begin(), failures.end(),
                       [&](const auto& f) { return f.find(what) != std::string::npos; });
  };
  for (const char* what : {"all_reduce sum", "all_reduce average", "broadcast", "reduce root", "reduce_scatter sum",
                           "reduce_scatter average", "all_gather", "async all_reduce", "split rank"}) {
    EXPECT_TRUE(mentions(what)) << what;
  }
}

// A wait() that blocks on a collective the other ranks have not issued yet counts as waited.
TEST(LocalCommCounters, WaitedIsTheBlockedTime) {
  auto comms = make_local_comms(2);
  run_ranks(comms, [](Comm& comm) {
    if (comm.rank() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    comm.barrier();
  });
  EXPECT_GE(comms[0]->counters().at("barrier").waited, 0.04);
  EXPECT_LT(comms[1]->counters().at("barrier").waited, 0.04);
}

// Ranks that issue different collectives all fail with a message naming both, none hangs.
TEST(LocalCommErrors, MismatchedCollectivesFailOnEveryRank) {
  auto comms = make_local_comms(3);
  std::vector<std::string> messages(3);
  run_ranks(comms, [&](Comm& comm) {
    std::vector<float> data(8, 1.0f);
    const std::size_t n = comm.rank() == 2 ? 7 : 8;
    messages[static_cast<std::size_t>(comm.rank())] =
        test::error_of([&] { comm.all_reduce(data.data(), n, Reduction::sum); });
  });
  for (const auto& m : messages) EXPECT_NE(m.find("ranks issued different collectives"), std::string::npos) << m;
}

// A rank whose communicator is destroyed (its thread failed) makes the others' collectives fail.
TEST(LocalCommErrors, DestroyedRankFailsTheOthers) {
  auto comms = make_local_comms(2);
  std::string message;
  std::thread survivor([&] {
    std::vector<float> data(4, 1.0f);
    message = test::error_of([&] { comms[0]->all_reduce(data.data(), 4, Reduction::sum); });
  });
  comms[1].reset();
  survivor.join();
  EXPECT_NE(message.find("rank 1 of 2 was destroyed"), std::string::npos) << message;
}

TEST(LocalCommErrors, BadArguments) {
  EXPECT_NE(test::error_of([] { make_local_comms(0); }).find("size must be >= 1"), std::string::npos);
  auto comms = make_local_comms(1);
  std::vector<float> data(2);
  EXPECT_NE(test::error_of([&] { comms[0]->broadcast(data.data(), 2, 1); }).find("root 1 is not a rank"),
            std::string::npos);
  const std::vector<std::size_t> counts{1, 1};
  EXPECT_NE(test::error_of([&] { comms[0]->all_gather(data.data(), counts); }).find("2 counts for 1 ranks"),
            std::string::npos);
}

// The launcher's environment decides; one rank is not "launched with MPI".
TEST(WorldComm, LaunchedWithMpiReadsTheLauncherEnvironment) {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    if (std::getenv(var)) GTEST_SKIP() << "running under a launcher (" << var << " is set)";
  }
  EXPECT_FALSE(launched_with_mpi());
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    ::setenv(var, "1", 1);
    EXPECT_FALSE(launched_with_mpi()) << var;
    ::setenv(var, "3", 1);
    EXPECT_TRUE(launched_with_mpi()) << var;
    ::unsetenv(var);
  }
}

#if !PARBENCH_HAVE_MPI
TEST(WorldComm, WithoutMpiSaysHowToGetIt) {
  EXPECT_NE(test::error_of([] { make_world_comm(); }).find("-DPARBENCH_MPI=ON"), std::string::npos);
}
#endif

}  // namespace
}  // namespace parbench::strategies
