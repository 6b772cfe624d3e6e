// Synchronised BatchNorm (kernels' `across` hook): replicas in threads, each holding some rows of
// one batch, must compute exactly what one BatchNorm over the whole batch computes, up to the
// float rounding of the per-replica partial sums.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/ops.h"

namespace parbench::kernels::cpu {
namespace {

using Floats = std::vector<float>;

// An all-reduce over `replicas` threads for the `across` hook: each thread posts its values, the
// last to arrive sums them, all copy the sum back.
class ThreadSum {
 public:
  explicit ThreadSum(int replicas) : posted_(static_cast<std::size_t>(replicas)), barrier_(replicas) {}
  ReplicaSum hook(int replica) {
    return [this, replica](float* values, std::size_t n) {
      posted_[static_cast<std::size_t>(replica)] = values;
      barrier_.arrive_and_wait();
      if (replica == 0) {
        sum_.assign(n, 0.0f);
        for (float* other : posted_)
          for (std::size_t i = 0; i < n; ++i) sum_[i] += other[i];
      }
      barrier_.arrive_and_wait();
      std::copy(sum_.begin(), sum_.end(), values);
      barrier_.arrive_and_wait();
    };
  }

 private:
  std::vector<float*> posted_;
  std::vector<float> sum_;
  std::barrier<> barrier_;
};

void expect_near_all(const Floats& got, const Floats& want, double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * (1.0 + std::abs(want[i]))) << what << " at " << i;
  }
}

TEST(SyncBatchNorm, ReplicasWithUnevenRowsEqualOneBatchNorm) {
  constexpr int c = 19;
  const std::vector<int> rows = {5, 4, 1, 3};  // 13 rows over 4 replicas, one with a single row
  int m = 0;
  for (int r : rows) m += r;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-2.0f, 3.0f);
  Floats x(static_cast<std::size_t>(m) * c), dy(x.size()), gamma(c), beta(c);
  for (auto* v : {&x, &dy, &gamma, &beta})
    for (float& value : *v) value = u(rng);

  // The whole batch at once.
  Floats y(x.size()), mean(c), rstd(c), running_mean(c, 0.0f), running_var(c, 1.0f), dx(x.size(), 0.0f),
      dgamma(c, 0.0f), dbeta(c, 0.0f);
  batchnorm_forward_train(y.data(), mean.data(), rstd.data(), running_mean.data(), running_var.data(), x.data(),
                          gamma.data(), beta.data(), m, c, 1e-5f, 0.1f);
  batchnorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                     gamma.data(), m, c);

  // The same batch as shards of rows on threads, statistics summed across them.
  const auto n = rows.size();
  ThreadSum sum(static_cast<int>(n));
  Floats sy(x.size()), sdx(x.size(), 0.0f);
  std::vector<Floats> smean(n, Floats(c)), srstd(n, Floats(c)), srm(n, Floats(c, 0.0f)), srv(n, Floats(c, 1.0f)),
      sdgamma(n, Floats(c, 0.0f)), sdbeta(n, Floats(c, 0.0f));
  std::vector<std::thread> threads;
  int begin = 0;
  for (std::size_t r = 0; r < n; ++r) {
    threads.emplace_back([&, r, begin] {
      const ReplicaSum across = sum.hook(static_cast<int>(r));
      const std::size_t at = static_cast<std::size_t>(begin) * c;
      batchnorm_forward_train(sy.data() + at, smean[r].data(), srstd[r].data(), srm[r].data(), srv[r].data(),
                              x.data() + at, gamma.data(), beta.data(), rows[r], c, 1e-5f, 0.1f, &across);
      batchnorm_backward(sdx.data() + at, sdgamma[r].data(), sdbeta[r].data(), dy.data() + at, x.data() + at,
                         smean[r].data(), srstd[r].data(), gamma.data(), rows[r], c, &across);
    });
    begin += rows[static_cast<int>(r)];
  }
  for (auto& t : threads) t.join();

  // Partial sums rounded to float once per replica before they are added: a few ulp of O(10)
  // sums, so 1e-5 relative on the outputs (differences in summation order only).
  expect_near_all(sy, y, 1e-5, "y");
  expect_near_all(sdx, dx, 1e-5, "dx");
  for (std::size_t r = 0; r < n; ++r) {
    expect_near_all(smean[r], mean, 1e-5, "mean");
    expect_near_all(srstd[r], rstd, 1e-5, "rstd");
    expect_near_all(srm[r], running_mean, 1e-5, "running_mean");
    expect_near_all(srv[r], running_var, 1e-5, "running_var");
  }
  // Each replica's parameter gradients are its share; their sum is the whole batch's.
  Floats total_dgamma(c, 0.0f), total_dbeta(c, 0.0f);
  for (std::size_t r = 0; r < n; ++r)
    for (int j = 0; j < c; ++j) {
      total_dgamma[j] += sdgamma[r][j];
      total_dbeta[j] += sdbeta[r][j];
    }
  expect_near_all(total_dgamma, dgamma, 1e-5, "dgamma");
  expect_near_all(total_dbeta, dbeta, 1e-5, "dbeta");
}

}  // namespace
}  // namespace parbench::kernels::cpu
