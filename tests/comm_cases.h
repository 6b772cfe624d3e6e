// Collective cases with exactly known results (small integers stored in floats, so every sum is
// exact whatever the order), shared by the `local` tests (tests/test_comm.cpp, ranks as threads)
// and the `mpi` test program (tests/mpi_comm_test.cpp, ranks as processes). Each rank runs the
// same cases on its own Comm; a case returns the mismatches it saw on this rank.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strategies/comm.h"

namespace parbench::test {

using strategies::Comm;
using strategies::Reduction;

// Buffer sizes around the rank count: empty, one element, fewer elements than ranks,
// non-multiples of it, and one larger than the local reduction block (2048 floats).
inline std::vector<std::size_t> comm_case_sizes(int ranks) {
  const auto n = static_cast<std::size_t>(ranks);
  return {0, 1, n - 1 + (n == 1), n + 1, 3 * n + 2, 1000, 4099};
}

// Part sizes for reduce_scatter / all_gather: even splits of odd totals plus hand-made uneven
// ones with empty parts.
inline std::vector<std::vector<std::size_t>> comm_case_counts(int ranks) {
  std::vector<std::vector<std::size_t>> cases;
  for (std::size_t total : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4099}}) {
    cases.push_back(strategies::even_parts(total, ranks));
  }
  std::vector<std::size_t> uneven(static_cast<std::size_t>(ranks));
  for (std::size_t r = 0; r < uneven.size(); ++r) uneven[r] = (r % 3 == 0) ? 0 : 2 * r + 1;  // 0, 3, 5, 0, ...
  cases.push_back(uneven);
  std::vector<std::size_t> last_only(static_cast<std::size_t>(ranks), 0);
  last_only.back() = 2050;
  cases.push_back(last_only);
  return cases;
}

class CaseErrors {
 public:
  CaseErrors(const Comm& comm, std::string what) : rank_(comm.rank()), what_(std::move(what)) {}
  // Records data[i] != expected (at most a few per case, to keep messages short).
  void expect(const std::vector<float>& data, std::size_t i, float expected) {
    if (data[i] == expected) return;
    if (++count_ <= 3) {
      messages_.push_back(fmt::format("{} rank {}: element {} is {}, expected {}", what_, rank_, i, data[i], expected));
    }
  }
  void append_to(std::vector<std::string>& out) const {
    out.insert(out.end(), messages_.begin(), messages_.end());
    if (count_ > 3) out.push_back(fmt::format("{} rank {}: {} mismatches in total", what_, rank_, count_));
  }

 private:
  int rank_;
  std::string what_;
  int count_ = 0;
  std::vector<std::string> messages_;
};

// All the exact cases on `comm`; every rank of it must call this. Returns this rank's mismatches.
inline std::vector<std::string> run_exact_comm_cases(Comm& comm) {
  const int ranks = comm.size();
  const int rank = comm.rank();
  const auto fr = static_cast<float>(rank);
  const auto fn = static_cast<float>(ranks);
  std::vector<std::string> failures;

  for (std::size_t n : comm_case_sizes(ranks)) {
    // all_reduce sum: data[i] = 100 r + i % 13, so the sum is 100 N(N-1)/2 + N (i % 13).
    std::vector<float> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = 100 * fr + static_cast<float>(i % 13);
    comm.all_reduce(data.data(), n, Reduction::sum);
    CaseErrors sum(comm, fmt::format("all_reduce sum n={}", n));
    for (std::size_t i = 0; i < n; ++i) sum.expect(data, i, 50 * fn * (fn - 1) + fn * static_cast<float>(i % 13));
    sum.append_to(failures);

    // all_reduce average: data[i] = N (r + i % 5), so the average N(N-1)/2 + N (i % 5) is exact.
    for (std::size_t i = 0; i < n; ++i) data[i] = fn * (fr + static_cast<float>(i % 5));
    comm.all_reduce(data.data(), n, Reduction::average);
    CaseErrors avg(comm, fmt::format("all_reduce average n={}", n));
    for (std::size_t i = 0; i < n; ++i) avg.expect(data, i, fn * (fn - 1) / 2 + fn * static_cast<float>(i % 5));
    avg.append_to(failures);

    // broadcast from the last rank (non-zero when N > 1): root holds 3 i + 1, the others -1.
    const int root = ranks - 1;
    for (std::size_t i = 0; i < n; ++i) data[i] = rank == root ? 3 * static_cast<float>(i) + 1 : -1;
    comm.broadcast(data.data(), n, root);
    CaseErrors bcast(comm, fmt::format("broadcast root={} n={}", root, n));
    for (std::size_t i = 0; i < n; ++i) bcast.expect(data, i, 3 * static_cast<float>(i) + 1);
    bcast.append_to(failures);

    // reduce to rank 1 % N: data[i] = r + 1 + i % 3; root gets N(N+1)/2 + N (i % 3), the others
    // keep their input.
    const int reduce_root = 1 % ranks;
    for (std::size_t i = 0; i < n; ++i) data[i] = fr + 1 + static_cast<float>(i % 3);
    comm.reduce(data.data(), n, reduce_root);
    CaseErrors red(comm, fmt::format("reduce root={} n={}", reduce_root, n));
    for (std::size_t i = 0; i < n; ++i) {
      const float expected =
          rank == reduce_root ? fn * (fn + 1) / 2 + fn * static_cast<float>(i % 3) : fr + 1 + static_cast<float>(i % 3);
      red.expect(data, i, expected);
    }
    red.append_to(failures);
  }

  for (const auto& counts : comm_case_counts(ranks)) {
    const auto offsets = strategies::part_offsets(counts);
    const std::size_t total = offsets.back();
    const std::size_t b = offsets[static_cast<std::size_t>(rank)], e = offsets[static_cast<std::size_t>(rank) + 1];
    std::vector<float> data(total);

    // reduce_scatter sum: data[j] = r + j % 11; my part gets N(N-1)/2 + N (j % 11).
    for (std::size_t j = 0; j < total; ++j) data[j] = fr + static_cast<float>(j % 11);
    comm.reduce_scatter(data.data(), counts, Reduction::sum);
    CaseErrors rs(comm, fmt::format("reduce_scatter sum counts=[{}]", fmt::join(counts, ",")));
    for (std::size_t j = b; j < e; ++j) rs.expect(data, j, fn * (fn - 1) / 2 + fn * static_cast<float>(j % 11));
    rs.append_to(failures);

    // reduce_scatter average: data[j] = N (r + j % 11); my part gets N(N-1)/2 + N (j % 11).
    for (std::size_t j = 0; j < total; ++j) data[j] = fn * (fr + static_cast<float>(j % 11));
    comm.reduce_scatter(data.data(), counts, Reduction::average);
    CaseErrors rsa(comm, fmt::format("reduce_scatter average counts=[{}]", fmt::join(counts, ",")));
    for (std::size_t j = b; j < e; ++j) rsa.expect(data, j, fn * (fn - 1) / 2 + fn * static_cast<float>(j % 11));
    rsa.append_to(failures);

    // all_gather: part q holds 1000 q + j on its owner and -7 elsewhere.
    for (std::size_t q = 0; q < counts.size(); ++q) {
      for (std::size_t j = offsets[q]; j < offsets[q + 1]; ++j) {
        data[j] = q == static_cast<std::size_t>(rank) ? 1000 * static_cast<float>(q) + static_cast<float>(j) : -7;
      }
    }
    comm.all_gather(data.data(), counts);
    CaseErrors ag(comm, fmt::format("all_gather counts=[{}]", fmt::join(counts, ",")));
    for (std::size_t q = 0; q < counts.size(); ++q) {
      for (std::size_t j = offsets[q]; j < offsets[q + 1]; ++j) {
        ag.expect(data, j, 1000 * static_cast<float>(q) + static_cast<float>(j));
      }
    }
    ag.append_to(failures);
  }

  // Several requests in flight at once, waited in reverse order: each completes with its result.
  {
    constexpr int in_flight = 4;
    constexpr std::size_t n = 777;
    std::vector<std::vector<float>> buffers(in_flight, std::vector<float>(n));
    std::vector<std::unique_ptr<strategies::Request>> requests;
    for (int k = 0; k < in_flight; ++k) {
      for (std::size_t i = 0; i < n; ++i)
        buffers[static_cast<std::size_t>(k)][i] = fr + static_cast<float>(k * (i % 4));
      requests.push_back(comm.all_reduce_async(buffers[static_cast<std::size_t>(k)].data(), n, Reduction::sum));
    }
    std::vector<float> bcast(n, rank == 0 ? 5.0f : 0.0f);
    requests.push_back(comm.broadcast_async(bcast.data(), n, 0));
    requests.push_back(comm.barrier_async());
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) (*it)->wait();
    for (int k = 0; k < in_flight; ++k) {
      CaseErrors async(comm, fmt::format("async all_reduce {} of {}", k, in_flight));
      for (std::size_t i = 0; i < n; ++i) {
        async.expect(buffers[static_cast<std::size_t>(k)], i, fn * (fn - 1) / 2 + fn * static_cast<float>(k * (i % 4)));
      }
      async.append_to(failures);
    }
    CaseErrors async_bcast(comm, "async broadcast");
    for (std::size_t i = 0; i < n; ++i) async_bcast.expect(bcast, i, 5.0f);
    async_bcast.append_to(failures);
  }

  // split into even and odd ranks, ordered by descending old rank (key = -rank): the group sums
  // only its own members' ranks, and the new rank counts from the highest old rank down.
  {
    auto group = comm.split(rank % 2, -rank);
    std::vector<int> members;
    for (int q = ranks - 1; q >= 0; --q) {
      if (q % 2 == rank % 2) members.push_back(q);
    }
    const int expected_rank = static_cast<int>(std::find(members.begin(), members.end(), rank) - members.begin());
    if (group->size() != static_cast<int>(members.size()) || group->rank() != expected_rank) {
      failures.push_back(fmt::format("split rank {}: got rank {} of {}, expected {} of {}", rank, group->rank(),
                                     group->size(), expected_rank, members.size()));
    }
    std::vector<float> data(5, fr);
    group->all_reduce(data.data(), data.size(), Reduction::sum);
    float expected = 0;
    for (int q : members) expected += static_cast<float>(q);
    CaseErrors sub(comm, fmt::format("all_reduce in split group {}", rank % 2));
    for (std::size_t i = 0; i < data.size(); ++i) sub.expect(data, i, expected);
    sub.append_to(failures);
  }
  return failures;
}

}  // namespace parbench::test
