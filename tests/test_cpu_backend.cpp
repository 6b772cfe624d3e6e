// The CPU backend splits elementwise ops over its intra-op threads: every split must give the
// single-threaded bits (sum_squares: the same value up to the order of its partial sums).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "kernels/backend.h"
#include "kernels/buffer.h"

namespace {

using namespace parbench;

struct OpsResult {
  std::vector<float> param, m, v, y, dropped, dx;
  double squares = 0;
};

// n is odd and above the backend's split threshold, so that two threads really split it.
OpsResult run_ops(int threads, std::size_t n) {
  auto backend = kernels::make_backend("cpu");
  backend->set_threads(threads);
  std::vector<float> host(n);
  for (std::size_t i = 0; i < n; ++i) host[i] = rng::normal(rng::hash(1, 2, i));
  kernels::Buffer param(*backend, n), m(*backend, n), v(*backend, n), grad(*backend, n), y(*backend, n),
      dropped(*backend, n), dx(*backend, n);
  backend->upload(param.data(), host.data(), n);
  backend->upload(grad.data(), host.data(), n);
  backend->fill(m.data(), 0.0f, n);
  backend->fill(v.data(), 0.0f, n);
  for (int step = 1; step <= 3; ++step) {
    backend->adam_step(param.data(), m.data(), v.data(), grad.data(), n, 1e-3f, 0.9f, 0.999f, 1e-7f, step);
  }
  backend->relu_forward(y.data(), param.data(), n);
  backend->scale(y.data(), 0.5f, n);
  backend->axpy(y.data(), 2.0f, grad.data(), n);
  // 1001 samples of 101 elements: rows split between the threads.
  backend->dropout_forward(dropped.data(), y.data(), static_cast<int>(n / 101), 101, 17, 5, 9, 0.3f);
  backend->fill(dx.data(), 0.0f, n);
  backend->dropout_backward(dx.data(), y.data(), static_cast<int>(n / 101), 101, 17, 5, 9, 0.3f);
  OpsResult run;
  auto get = [&](const kernels::Buffer& b) {
    std::vector<float> out(n);
    backend->download(out.data(), b.data(), n);
    return out;
  };
  run.param = get(param);
  run.m = get(m);
  run.v = get(v);
  run.y = get(y);
  run.dropped = get(dropped);
  run.dx = get(dx);
  run.squares = backend->sum_squares(y.data(), n);
  return run;
}

TEST(CpuBackend, SplitElementwiseOpsMatchOneThread) {
  const std::size_t n = 1001 * 101;
  const OpsResult one = run_ops(1, n), two = run_ops(2, n), three = run_ops(3, n);
  for (const OpsResult* other : {&two, &three}) {
    EXPECT_EQ(one.param, other->param);
    EXPECT_EQ(one.m, other->m);
    EXPECT_EQ(one.v, other->v);
    EXPECT_EQ(one.y, other->y);
    EXPECT_EQ(one.dropped, other->dropped);
    EXPECT_EQ(one.dx, other->dx);
    // Double partial sums of 1e5 squares: reordering changes only the last bits.
    EXPECT_NEAR(one.squares, other->squares, 1e-12 * one.squares);
  }
  EXPECT_EQ(run_ops(2, n).squares, two.squares);  // deterministic for a thread count
}

}  // namespace
