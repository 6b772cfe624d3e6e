// The communication thread every Comm implementation runs its collectives on (comm.h): a queue
// executed in issue order by one std::thread, a Request per queued collective, and the counters.
// Private to the communicator implementations (comm_local.cpp, comm_mpi.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "strategies/comm.h"

namespace parbench::strategies::detail {

// Counters by operation kind, shared by a communicator and the Requests it handed out (a Request
// may be waited after its communicator is gone).
class CounterTable {
 public:
  void add_call(const std::string& kind, double bytes, double seconds);
  void add_wait(const std::string& kind, double seconds);
  std::map<std::string, CommCounters> snapshot() const;
  void reset();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, CommCounters> counters_;
};

class CommThread {
 public:
  CommThread();
  // Runs what was issued before, then joins the thread.
  ~CommThread();
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  // Queues `work` behind everything issued before; `kind` and `bytes` (nccl-tests size S) go to
  // the counters with the time `work` took. A throw from `work` is rethrown by Request::wait().
  std::unique_ptr<Request> submit(std::string kind, double bytes, std::function<void()> work);

  std::map<std::string, CommCounters> counters() const { return counters_->snapshot(); }
  void reset_counters() { counters_->reset(); }

  struct Item;  // one queued collective (comm.cpp)

 private:
  void run();

  std::shared_ptr<CounterTable> counters_ = std::make_shared<CounterTable>();
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<Item>> queue_;
  std::atomic<std::size_t> queued_{0};  // queue_.size(), read without the lock while spinning
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace parbench::strategies::detail
