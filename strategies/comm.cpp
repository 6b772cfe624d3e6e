// Communicator helpers shared by every implementation: part offsets, even splits, and the
// communication thread (comm_thread.h) that runs each communicator's collectives in issue order.
#include "strategies/comm.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "strategies/comm_thread.h"

namespace parbench::strategies {

std::vector<std::size_t> part_offsets(std::span<const std::size_t> counts) {
  std::vector<std::size_t> offsets(counts.size() + 1, 0);
  for (std::size_t i = 0; i < counts.size(); ++i) offsets[i + 1] = offsets[i] + counts[i];
  return offsets;
}

double bus_factor(std::string_view kind, int n) {
  const double ranks = n;
  if (kind == "all_reduce") return 2 * (ranks - 1) / ranks;
  if (kind == "reduce_scatter" || kind == "all_gather" || kind == "scatter") return (ranks - 1) / ranks;
  if (kind == "broadcast" || kind == "reduce") return 1;
  if (kind == "barrier" || kind == "split") return 0;  // no payload
  raise("no bus bandwidth factor for collective '{}'", kind);
}

std::vector<std::size_t> even_parts(std::size_t n, int parts) {
  if (parts < 1) raise("cannot split {} items into {} parts", n, parts);
  const auto p = static_cast<std::size_t>(parts);
  std::vector<std::size_t> sizes(p, n / p);
  for (std::size_t i = 0; i < n % p; ++i) ++sizes[i];
  return sizes;
}

namespace detail {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

void CounterTable::add_call(const std::string& kind, double bytes, double seconds) {
  std::lock_guard lock(mutex_);
  CommCounters& c = counters_[kind];
  ++c.calls;
  c.bytes += bytes;
  c.seconds += seconds;
}

void CounterTable::add_wait(const std::string& kind, double seconds) {
  std::lock_guard lock(mutex_);
  counters_[kind].waited += seconds;
}

std::map<std::string, CommCounters> CounterTable::snapshot() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void CounterTable::reset() {
  std::lock_guard lock(mutex_);
  counters_.clear();
}

// One queued collective and its completion, shared by the queue and the caller's Request.
struct CommThread::Item {
  std::string kind;
  double bytes = 0;
  std::function<void()> work;

  std::mutex mutex;
  std::condition_variable completed;
  bool done = false;                  // under mutex
  std::atomic<bool> finished{false};  // the same, for the wait's short spin
  std::exception_ptr error;
};

namespace {

// Collectives of small buffers take a few microseconds, less than a condition variable's wake-up:
// both ends yield a little while before they sleep. Bounded, and yielding, so that a waiting
// thread does not keep the core from the compute that runs next to it.
constexpr int kSpins = 100;

template <typename Ready>
bool spin_until(Ready ready) {
  for (int i = 0; i < kSpins; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return false;
}

class ItemRequest final : public Request {
 public:
  ItemRequest(std::shared_ptr<CommThread::Item> item, std::shared_ptr<CounterTable> counters)
      : item_(std::move(item)), counters_(std::move(counters)) {}

  void wait() override {
    const auto start = Clock::now();
    if (!spin_until([&] { return item_->finished.load(); })) {
      std::unique_lock lock(item_->mutex);
      item_->completed.wait(lock, [&] { return item_->done; });
    }
    // Only the time the caller was actually blocked counts as exposed communication.
    counters_->add_wait(item_->kind, seconds_since(start));
    if (item_->error) std::rethrow_exception(item_->error);
  }

 private:
  std::shared_ptr<CommThread::Item> item_;
  std::shared_ptr<CounterTable> counters_;
};

}  // namespace

CommThread::CommThread() : thread_([this] { run(); }) {}

CommThread::~CommThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

std::unique_ptr<Request> CommThread::submit(std::string kind, double bytes, std::function<void()> work) {
  auto item = std::make_shared<Item>();
  item->kind = std::move(kind);
  item->bytes = bytes;
  item->work = std::move(work);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(item);
    queued_.store(queue_.size());
  }
  ready_.notify_one();
  return std::make_unique<ItemRequest>(std::move(item), counters_);
}

void CommThread::run() {
  for (;;) {
    std::shared_ptr<Item> item;
    spin_until([&] { return queued_.load() > 0; });
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything issued has run
      item = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size());
    }
    const auto start = Clock::now();
    std::exception_ptr error;
    try {
      item->work();
    } catch (...) {
      error = std::current_exception();
    }
    counters_->add_call(item->kind, item->bytes, seconds_since(start));
    item->work = nullptr;  // release captured buffers' owners before the caller sees completion
    {
      std::lock_guard lock(item->mutex);
      item->done = true;
      item->error = error;
      item->finished.store(true);
    }
    item->completed.notify_all();
  }
}

}  // namespace detail

}  // namespace parbench::strategies
