// Tests for data/prefetch.h: strict item order for any thread count, the memory bound, error
// propagation, and shutdown with work outstanding. Producers sleep for random short times so that
// workers finish out of order, which is what the ordering and the bound must survive.
#include "data/prefetch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace parbench::data {
namespace {

using namespace std::chrono_literals;

// A sleep of up to max_us that differs per item, so that later items often finish first.
void jitter(std::int64_t item, int max_us) {
  std::mt19937 rng(static_cast<std::uint32_t>(item) * 2654435761U + 1);
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<std::uint32_t>(max_us)));
}

// Runs body on its own thread and reports whether it finished in time. On a timeout the thread is
// left behind (detached) so that the failure is reported instead of hanging the whole test binary.
bool finishes_within(std::chrono::seconds limit, std::function<void()> body) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([done, body = std::move(body)] {
    body();
    done->set_value();
  }).detach();
  return finished.wait_for(limit) == std::future_status::ready;
}

TEST(Prefetch, DeliversInOrderForAnyThreadCount) {
  for (int threads : {0, 1, 2, 4, 8}) {
    for (int depth : {1, 3, 8}) {
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " depth=" << depth);
      const std::int64_t count = 150;
      OrderedPrefetcher<std::int64_t> prefetcher(
          [](std::int64_t item) {
            jitter(item, 300);
            return item * 10;
          },
          count, threads, depth);
      std::int64_t expected = 0;
      while (std::optional<std::int64_t> value = prefetcher.next()) {
        ASSERT_EQ(*value, expected * 10);
        ++expected;
      }
      EXPECT_EQ(expected, count);
      EXPECT_EQ(prefetcher.next(), std::nullopt);
    }
  }
}

TEST(Prefetch, ZeroItems) {
  for (int threads : {0, 2}) {
    OrderedPrefetcher<int> prefetcher([](std::int64_t) { return 1; }, 0, threads, 2);
    EXPECT_EQ(prefetcher.next(), std::nullopt);
  }
}

// Counts live items: created inside produce, released when the consumer drops the item.
struct Live {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};

  void add() {
    const int value = ++now;
    int seen = peak.load();
    while (value > seen && !peak.compare_exchange_weak(seen, value)) {
    }
  }
};

struct Release {
  void operator()(Live* live) const { --live->now; }
};

struct Tracked {
  std::int64_t item;
  std::unique_ptr<Live, Release> guard;
};

TEST(Prefetch, NeverMoreThanDepthItemsAlive) {
  for (int threads : {1, 2, 4, 8}) {
    for (int depth : {1, 2, 3, 5}) {
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " depth=" << depth);
      Live live;
      {
        OrderedPrefetcher<Tracked> prefetcher(
            [&live](std::int64_t item) {
              live.add();
              Tracked tracked{item, std::unique_ptr<Live, Release>(&live)};
              jitter(item, 200);
              return tracked;
            },
            40, threads, depth);
        std::int64_t expected = 0;
        while (std::optional<Tracked> tracked = prefetcher.next()) {
          ASSERT_EQ(tracked->item, expected++);
          // A slow consumer lets the workers fill the whole window.
          std::this_thread::sleep_for(2ms);
        }
        EXPECT_EQ(expected, 40);
      }
      EXPECT_EQ(live.now.load(), 0);
      EXPECT_LE(live.peak.load(), depth);
      EXPECT_EQ(live.peak.load(), depth) << "the window was never filled";
    }
  }
}

TEST(Prefetch, ProducerExceptionReachesConsumerInOrder) {
  for (int threads : {0, 1, 2, 4}) {
    SCOPED_TRACE(testing::Message() << "threads=" << threads);
    std::atomic<int> calls{0};
    OrderedPrefetcher<std::int64_t> prefetcher(
        [&calls](std::int64_t item) -> std::int64_t {
          ++calls;
          // Earlier items are slow so that item 7 fails before they are done.
          if (item < 7) std::this_thread::sleep_for(std::chrono::milliseconds(7 - item));
          if (item == 7) throw std::runtime_error("bad record 7");
          return item;
        },
        1000, threads, 4);
    for (std::int64_t item = 0; item < 7; ++item) ASSERT_EQ(prefetcher.next(), item);
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        prefetcher.next();
        ADD_FAILURE() << "next() did not rethrow";
      } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "bad record 7");
      }
    }
    // Workers stop after the failure: nothing past the window of the failed item is produced.
    std::this_thread::sleep_for(20ms);
    EXPECT_LE(calls.load(), 7 + 4);
  }
}

TEST(Prefetch, WorkersStopAfterAFailure) {
  std::atomic<int> calls{0};
  OrderedPrefetcher<int> prefetcher(
      [&calls](std::int64_t) -> int {
        ++calls;
        throw std::runtime_error("unreadable");
      },
      100, 1, 4);
  std::this_thread::sleep_for(20ms);
  EXPECT_THROW(prefetcher.next(), std::runtime_error);
  // The window would allow items 1..3, but one failure is enough to end the epoch.
  EXPECT_EQ(calls.load(), 1);
}

TEST(Prefetch, EarliestFailureWinsWhenSeveralItemsFail) {
  // While the consumer waits for slow item 6, item 7 fails and then item 8 (already in production)
  // fails too: the consumer must get item 7's error, not wait forever for item 7's empty slot.
  auto message = std::make_shared<std::string>();  // shared: a hung body outlives the test
  ASSERT_TRUE(finishes_within(5s, [message] {
    OrderedPrefetcher<std::int64_t> prefetcher(
        [](std::int64_t item) -> std::int64_t {
          if (item == 6) std::this_thread::sleep_for(100ms);
          if (item == 7) {
            std::this_thread::sleep_for(10ms);
            throw std::runtime_error("seven");
          }
          if (item == 8) {
            std::this_thread::sleep_for(50ms);
            throw std::runtime_error("eight");
          }
          return item;
        },
        20, 3, 4);
    for (std::int64_t item = 0; item < 7; ++item) EXPECT_EQ(prefetcher.next(), item);
    try {
      prefetcher.next();
    } catch (const std::runtime_error& e) {
      *message = e.what();
    }
  }));
  EXPECT_EQ(*message, "seven");
}

TEST(Prefetch, EarlyDestructionDoesNotHang) {
  for (int threads : {1, 2, 4, 8}) {
    SCOPED_TRACE(testing::Message() << "threads=" << threads);
    // Consumer stops after a few items while workers wait for window space.
    ASSERT_TRUE(finishes_within(5s, [threads] {
      OrderedPrefetcher<std::vector<char>> prefetcher(
          [](std::int64_t item) {
            jitter(item, 200);
            return std::vector<char>(1000, 'x');
          },
          1'000'000, threads, 3);
      for (int i = 0; i < 5; ++i) prefetcher.next();
    }));
    // Destroyed before any next(), with workers still inside produce.
    ASSERT_TRUE(finishes_within(5s, [threads] {
      OrderedPrefetcher<int> prefetcher(
          [](std::int64_t) {
            std::this_thread::sleep_for(50ms);
            return 0;
          },
          100, threads, 4);
    }));
    // Destroyed after a failure.
    ASSERT_TRUE(finishes_within(5s, [threads] {
      OrderedPrefetcher<int> prefetcher([](std::int64_t) -> int { throw std::runtime_error("boom"); }, 100, threads, 2);
      EXPECT_THROW(prefetcher.next(), std::runtime_error);
    }));
  }
}

TEST(Prefetch, CountsConsumerWaitTime) {
  for (int threads : {0, 1}) {
    SCOPED_TRACE(testing::Message() << "threads=" << threads);
    OrderedPrefetcher<int> prefetcher(
        [](std::int64_t) {
          std::this_thread::sleep_for(20ms);
          return 0;
        },
        3, threads, 1);
    EXPECT_EQ(prefetcher.wait_ns(), 0);
    while (prefetcher.next()) {
    }
    // Depth 1 leaves no overlap after the first item: the worker starts item k + 1 only when the
    // consumer takes item k, so the consumer waits the whole 20 ms of items 1 and 2. Item 0 may
    // have started before the first next() (by the time the checks above took: 1.4 ms under TSan).
    EXPECT_GE(prefetcher.wait_ns(), std::chrono::nanoseconds(40ms).count());
  }
}

TEST(Prefetch, HidesProducerTimeBehindASlowConsumer) {
  std::atomic<int> produced{0};
  OrderedPrefetcher<int> prefetcher(
      [&produced](std::int64_t) {
        std::this_thread::sleep_for(50ms);
        ++produced;
        return 0;
      },
      10, 2, 4);
  // Play a consumer busy elsewhere until the workers have filled the window (polling rather than
  // a fixed sleep keeps this independent of machine load).
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (produced.load() < 4 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(prefetcher.next());
  EXPECT_LT(prefetcher.wait_ns(), std::chrono::nanoseconds(25ms).count());
}

TEST(Prefetch, RejectsBadArguments) {
  const auto produce = [](std::int64_t) { return 0; };
  EXPECT_THROW(OrderedPrefetcher<int>(produce, -1, 1, 1), Error);
  EXPECT_THROW(OrderedPrefetcher<int>(produce, 10, -1, 1), Error);
  EXPECT_THROW(OrderedPrefetcher<int>(produce, 10, 1, 0), Error);
}

}  // namespace
}  // namespace parbench::data
