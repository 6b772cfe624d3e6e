// Ordered, bounded prefetching: K threads produce items 0..count-1 ahead of one consumer, which
// receives them strictly in item order. The HDF5 loader uses it to overlap reading and decoding
// batches with training while keeping the number of batches in memory fixed.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"

namespace parbench::data {

// `depth` bounds every item that exists at once: in production, produced and waiting, and the one
// the consumer got from the previous next(). A call to next() counts as releasing that previous
// item, so a consumer that keeps items longer holds more than `depth`. With depth = 1 there is no
// overlap; depth = 2 is double buffering.
//
// threads = 0 runs produce on the consumer's thread inside next(). produce must be safe to call
// concurrently. When produce throws, next() delivers every earlier item and then rethrows, for the
// failed item and on every later call; workers stop taking new items.
//
// next() and wait_ns() belong to the consumer's thread.
template <typename T>
class OrderedPrefetcher {
 public:
  OrderedPrefetcher(std::function<T(std::int64_t)> produce, std::int64_t count, int threads, int depth)
      : produce_(std::move(produce)), count_(count), depth_(depth), synchronous_(threads == 0) {
    if (count < 0) raise("prefetch: item count must be non-negative, got {}", count);
    if (threads < 0) raise("prefetch: thread count must be non-negative, got {}", threads);
    if (depth < 1) raise("prefetch: depth must be at least 1, got {}", depth);
    if (synchronous_) return;
    slots_.resize(static_cast<std::size_t>(depth));
    // More threads than depth or items would only ever wait.
    const auto workers = std::min<std::int64_t>({threads, depth, count});
    try {
      for (std::int64_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
    } catch (...) {
      stop_and_join();
      throw;
    }
  }

  OrderedPrefetcher(const OrderedPrefetcher&) = delete;
  OrderedPrefetcher& operator=(const OrderedPrefetcher&) = delete;

  ~OrderedPrefetcher() { stop_and_join(); }

  // The next item in order, or std::nullopt after the last one.
  std::optional<T> next() {
    // A destructor, so that the wait before a rethrown producer error is counted too.
    struct AddWait {
      std::int64_t& total;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~AddWait() {
        total += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
      }
    } add_wait{wait_ns_};
    return synchronous_ ? next_synchronous() : next_prefetched();
  }

  // Total time the consumer spent inside next(), i.e. waiting for data.
  std::int64_t wait_ns() const { return wait_ns_; }

 private:
  std::optional<T> next_synchronous() {
    if (error_) std::rethrow_exception(error_);
    if (delivered_ >= count_) return std::nullopt;
    try {
      return produce_(delivered_++);
    } catch (...) {
      error_ = std::current_exception();
      throw;
    }
  }

  std::optional<T> next_prefetched() {
    std::unique_lock lock(mutex_);
    if (delivered_ >= count_) return std::nullopt;
    released_ = delivered_;
    space_.notify_all();
    std::optional<T>& slot = slot_of(delivered_);
    ready_.wait(lock, [&] { return slot.has_value() || (error_ && error_item_ == delivered_); });
    if (!slot.has_value()) std::rethrow_exception(error_);
    std::optional<T> item = std::exchange(slot, std::nullopt);
    ++delivered_;
    return item;
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      space_.wait(lock, [&] { return stop_ || next_item_ >= count_ || next_item_ < released_ + depth_; });
      if (stop_ || next_item_ >= count_) return;
      const std::int64_t item = next_item_++;
      lock.unlock();
      std::optional<T> value;
      std::exception_ptr error;
      try {
        value.emplace(produce_(item));
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error) {
        // Items are taken in order, so every earlier item is already in production and will be
        // delivered; only the earliest failure can reach the consumer.
        if (!error_ || item < error_item_) {
          error_ = error;
          error_item_ = item;
        }
        stop_ = true;
        space_.notify_all();
      } else {
        slot_of(item) = std::move(value);
      }
      ready_.notify_all();
    }
  }

  // Items alive lie in [released_, released_ + depth_), so their slots never collide.
  std::optional<T>& slot_of(std::int64_t item) { return slots_[static_cast<std::size_t>(item % depth_)]; }

  void stop_and_join() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
  }

  std::function<T(std::int64_t)> produce_;
  std::int64_t count_;
  std::int64_t depth_;
  bool synchronous_;
  std::int64_t wait_ns_ = 0;

  std::mutex mutex_;
  std::condition_variable space_;  // workers wait for the window to move
  std::condition_variable ready_;  // the consumer waits for its item
  std::vector<std::optional<T>> slots_;
  std::int64_t next_item_ = 0;  // next item a worker will take
  std::int64_t released_ = 0;   // items before this one are gone from memory
  std::int64_t delivered_ = 0;  // items handed to the consumer
  bool stop_ = false;
  std::exception_ptr error_;
  std::int64_t error_item_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace parbench::data
