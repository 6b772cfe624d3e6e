// `local` communicator (design.md §4): ranks are threads of one process and collectives work on
// each other's buffers directly. Every rank posts its buffer, then each rank reduces or copies its
// own chunk across all ranks, so the work is spread over the ranks like a reduce-scatter +
// all-gather, and each element is summed in rank order 0..N-1: results repeat bitwise and are the
// same on every rank.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "strategies/comm.h"
#include "strategies/comm_thread.h"

namespace parbench::strategies {

namespace {

using detail::CommThread;

// A reusable barrier for the communication threads of one group. When a rank fails inside a
// collective (or leaves), the barrier fails: every rank waiting in it, or arriving later, throws
// that rank's message instead of waiting forever.
class GroupBarrier {
 public:
  explicit GroupBarrier(int size) : size_(size) {}

  void arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (failed_) throw Error(failure_);
    const std::uint64_t generation = generation_.load();
    if (++arrived_ == size_) {
      arrived_ = 0;
      generation_.store(generation + 1);
      lock.unlock();
      released_.notify_all();
      return;
    }
    lock.unlock();
    // Collectives of small buffers are a few microseconds: yield a while before sleeping on the
    // condition variable, whose wake-up costs more than that.
    for (int i = 0; i < 200 && !failed_flag_.load(std::memory_order_relaxed); ++i) {
      if (generation_.load() != generation) return;
      std::this_thread::yield();
    }
    lock.lock();
    released_.wait(lock, [&] { return generation_.load() != generation || failed_; });
    // A barrier completed by every rank counts even when a rank failed right after it.
    if (generation_.load() != generation) return;
    throw Error(failure_);
  }

  void fail(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      if (!failed_) failure_ = why;
      failed_ = true;
      failed_flag_.store(true);
    }
    released_.notify_all();
  }

 private:
  const int size_;
  std::mutex mutex_;
  std::condition_variable released_;
  int arrived_ = 0;
  std::atomic<std::uint64_t> generation_{0};
  bool failed_ = false;
  std::atomic<bool> failed_flag_{false};
  std::string failure_;
};

// What a rank passes to the collective it is in; all ranks' posts must agree (except `data`,
// and `color`/`key` of split).
struct Post {
  std::string_view kind;
  float* data = nullptr;
  std::size_t n = 0;
  int root = 0;
  Reduction op = Reduction::sum;
  const std::vector<std::size_t>* counts = nullptr;
  int color = 0, key = 0;
};

struct LocalGroup {
  explicit LocalGroup(int size)
      : size(size), barrier(size), posts(static_cast<std::size_t>(size)), made(static_cast<std::size_t>(size)) {}
  const int size;
  GroupBarrier barrier;
  std::vector<Post> posts;                        // (size): one per rank, rewritten by each collective
  std::vector<std::shared_ptr<LocalGroup>> made;  // (size): split(): the group a rank created
};

const char* op_name(Reduction op) { return op == Reduction::sum ? "sum" : "average"; }

// The sum over q in 0..N-1 of posts[q].data[b, e), in that order, divided by N for an average;
// written to [b, e) of every rank's buffer (to_all) or of rank `target`'s only. The targets are
// sources too: each block is summed into a local accumulator first.
void reduce_range(const std::vector<Post>& posts, std::size_t b, std::size_t e, Reduction op, bool to_all, int target) {
  constexpr std::size_t block = 2048;
  std::array<float, block> acc;  // NOLINT(cppcoreguidelines-pro-type-member-init): memcpy fills it first
  const float parts = static_cast<float>(posts.size());
  for (std::size_t lo = b; lo < e; lo += block) {
    const std::size_t len = std::min(block, e - lo);
    std::memcpy(acc.data(), posts[0].data + lo, len * sizeof(float));
    for (std::size_t q = 1; q < posts.size(); ++q) {
      const float* src = posts[q].data + lo;
      for (std::size_t i = 0; i < len; ++i) acc[i] += src[i];
    }
    if (op == Reduction::average) {
      for (std::size_t i = 0; i < len; ++i) acc[i] /= parts;
    }
    for (std::size_t q = 0; q < posts.size(); ++q) {
      if (to_all || q == static_cast<std::size_t>(target))
        std::memcpy(posts[q].data + lo, acc.data(), len * sizeof(float));
    }
  }
}

class LocalComm final : public Comm {
 public:
  LocalComm(std::shared_ptr<LocalGroup> group, int rank)
      : group_(std::move(group)), rank_(rank), thread_(std::make_unique<CommThread>()) {}

  ~LocalComm() override {
    thread_.reset();  // runs what this rank issued before
    // Peers that issue collectives after this rank is gone fail instead of waiting for it.
    group_->barrier.fail(
        fmt::format("local communicator: rank {} of {} was destroyed while other ranks still "
                    "issue collectives (did it fail?)",
                    rank_, group_->size));
  }

  std::string name() const override { return "local"; }
  int rank() const override { return rank_; }
  int size() const override { return group_->size; }

  std::unique_ptr<Request> all_reduce_async(float* data, std::size_t n, Reduction op) override {
    Post post{.kind = "all_reduce", .data = data, .n = n, .op = op};
    return submit(post, 4.0 * static_cast<double>(n), [this, n, op] {
      // Rank r reduces chunk r (even split of n) and writes it to every rank's buffer at once:
      // only rank r touches chunk r anywhere, so one barrier at the end suffices.
      const auto offsets = part_offsets(even_parts(n, group_->size));
      const std::size_t b = offsets[static_cast<std::size_t>(rank_)];
      const std::size_t e = offsets[static_cast<std::size_t>(rank_) + 1];
      reduce_range(group_->posts, b, e, op, /*to_all=*/true, 0);
      group_->barrier.arrive_and_wait();
    });
  }

  std::unique_ptr<Request> broadcast_async(float* data, std::size_t n, int root) override {
    check_root(root, "broadcast");
    Post post{.kind = "broadcast", .data = data, .n = n, .root = root};
    return submit(post, 4.0 * static_cast<double>(n), [this, n, root] {
      const auto& posts = group_->posts;
      if (rank_ != root && n > 0) {
        std::memcpy(posts[static_cast<std::size_t>(rank_)].data, posts[static_cast<std::size_t>(root)].data,
                    n * sizeof(float));
      }
      group_->barrier.arrive_and_wait();
    });
  }

  std::unique_ptr<Request> reduce_async(float* data, std::size_t n, int root) override {
    check_root(root, "reduce");
    Post post{.kind = "reduce", .data = data, .n = n, .root = root};
    return submit(post, 4.0 * static_cast<double>(n), [this, n, root] {
      // Rank r reduces chunk r straight into root's buffer: only rank r touches chunk r anywhere.
      const auto offsets = part_offsets(even_parts(n, group_->size));
      const std::size_t b = offsets[static_cast<std::size_t>(rank_)];
      const std::size_t e = offsets[static_cast<std::size_t>(rank_) + 1];
      const auto& posts = group_->posts;
      reduce_range(posts, b, e, Reduction::sum, /*to_all=*/false, root);
      group_->barrier.arrive_and_wait();
    });
  }

  std::unique_ptr<Request> reduce_scatter_async(float* data, std::span<const std::size_t> counts,
                                                Reduction op) override {
    auto owned = check_counts(counts, "reduce_scatter");
    const auto offsets = part_offsets(*owned);
    Post post{.kind = "reduce_scatter", .data = data, .n = offsets.back(), .op = op, .counts = owned.get()};
    return submit(post, 4.0 * static_cast<double>(offsets.back()), [this, offsets, op, owned] {
      const std::size_t b = offsets[static_cast<std::size_t>(rank_)];
      const std::size_t e = offsets[static_cast<std::size_t>(rank_) + 1];
      const auto& posts = group_->posts;
      reduce_range(posts, b, e, op, /*to_all=*/false, rank_);
      group_->barrier.arrive_and_wait();
    });
  }

  std::unique_ptr<Request> all_gather_async(float* data, std::span<const std::size_t> counts) override {
    auto owned = check_counts(counts, "all_gather");
    const auto offsets = part_offsets(*owned);
    Post post{.kind = "all_gather", .data = data, .n = offsets.back(), .counts = owned.get()};
    return submit(post, 4.0 * static_cast<double>(offsets.back()), [this, offsets, owned] {
      // Each rank pulls the other parts into its own buffer; owners' parts are only read.
      const auto& posts = group_->posts;
      float* mine = posts[static_cast<std::size_t>(rank_)].data;
      for (std::size_t q = 0; q < posts.size(); ++q) {
        const std::size_t len = offsets[q + 1] - offsets[q];
        if (q != static_cast<std::size_t>(rank_) && len > 0) {
          std::memcpy(mine + offsets[q], posts[q].data + offsets[q], len * sizeof(float));
        }
      }
      group_->barrier.arrive_and_wait();
    });
  }

  std::unique_ptr<Request> barrier_async() override {
    // The posts are checked after the first barrier; the second keeps them until every rank has.
    return submit(Post{.kind = "barrier"}, 0.0, [this] { group_->barrier.arrive_and_wait(); });
  }

  std::unique_ptr<Comm> split(int color, int key) override {
    if (color < 0) raise("local communicator split: color must be >= 0, got {}", color);
    std::unique_ptr<Comm> result;
    Post post{.kind = "split", .color = color, .key = key};
    submit(post, 0.0, [this, &result] {
      const auto& posts = group_->posts;
      // Members of my color ordered by (key, old rank), as MPI_Comm_split orders them.
      std::vector<int> members;
      for (int q = 0; q < group_->size; ++q) {
        if (posts[static_cast<std::size_t>(q)].color == posts[static_cast<std::size_t>(rank_)].color)
          members.push_back(q);
      }
      std::stable_sort(members.begin(), members.end(), [&](int a, int b) {
        return posts[static_cast<std::size_t>(a)].key < posts[static_cast<std::size_t>(b)].key;
      });
      const int new_rank = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
      if (new_rank == 0) {
        group_->made[static_cast<std::size_t>(rank_)] = std::make_shared<LocalGroup>(static_cast<int>(members.size()));
      }
      group_->barrier.arrive_and_wait();
      auto group = group_->made[static_cast<std::size_t>(members.front())];
      group_->barrier.arrive_and_wait();  // every rank has its group before the slots are reused
      if (new_rank == 0) group_->made[static_cast<std::size_t>(rank_)].reset();
      result = std::make_unique<LocalComm>(std::move(group), new_rank);
    })->wait();
    return result;
  }

  std::map<std::string, CommCounters> counters() const override { return thread_->counters(); }
  void reset_counters() override { thread_->reset_counters(); }

 private:
  void check_root(int root, const char* kind) const {
    if (root < 0 || root >= group_->size) raise("local {}: root {} is not a rank of {}", kind, root, group_->size);
  }

  std::shared_ptr<const std::vector<std::size_t>> check_counts(std::span<const std::size_t> counts,
                                                               const char* kind) const {
    if (counts.size() != static_cast<std::size_t>(group_->size)) {
      raise("local {}: {} counts for {} ranks", kind, counts.size(), group_->size);
    }
    return std::make_shared<const std::vector<std::size_t>>(counts.begin(), counts.end());
  }

  // Queues: post my arguments, meet every rank, check that all ranks issued the same collective,
  // run `body` (which ends with a barrier once no rank reads another's buffer any more).
  template <typename Body>
  std::unique_ptr<Request> submit(Post post, double bytes, Body body) {
    std::string kind(post.kind);
    return thread_->submit(std::move(kind), bytes, [this, post, body = std::move(body)] {
      try {
        group_->posts[static_cast<std::size_t>(rank_)] = post;
        group_->barrier.arrive_and_wait();
        check_posts();
        body();
      } catch (const std::exception& error) {
        group_->barrier.fail(fmt::format("local {} failed on rank {}: {}", post.kind, rank_, error.what()));
        throw;
      }
    });
  }

  // Every rank checks every post, so either all ranks throw or none does.
  void check_posts() const {
    const auto& posts = group_->posts;
    const Post& first = posts[0];
    for (int q = 1; q < group_->size; ++q) {
      const Post& p = posts[static_cast<std::size_t>(q)];
      const bool same = p.kind == first.kind && p.n == first.n && p.root == first.root && p.op == first.op &&
                        (p.counts == nullptr) == (first.counts == nullptr) &&
                        (p.counts == nullptr || *p.counts == *first.counts);
      if (!same) {
        raise(
            "local communicator: ranks issued different collectives: rank 0 {}(n={}, root={}, op={}), rank {} "
            "{}(n={}, root={}, op={})",
            first.kind, first.n, first.root, op_name(first.op), q, p.kind, p.n, p.root, op_name(p.op));
      }
    }
  }

  std::shared_ptr<LocalGroup> group_;
  int rank_;
  std::unique_ptr<CommThread> thread_;
};

}  // namespace

std::vector<std::unique_ptr<Comm>> make_local_comms(int size) {
  if (size < 1) raise("local communicator: size must be >= 1, got {}", size);
  auto group = std::make_shared<LocalGroup>(size);
  std::vector<std::unique_ptr<Comm>> comms;
  comms.reserve(size);
  for (int r = 0; r < size; ++r) comms.push_back(std::make_unique<LocalComm>(group, r));
  return comms;
}

}  // namespace parbench::strategies
