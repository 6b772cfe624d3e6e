// Tests for the CPU bidirectional LSTM kernels (kernels/cpu/lstm.h): forward against a direct
// float64 implementation of PyTorch's equations on odd sizes, backward against central finite
// differences of that float64 reference, gradient accumulation, dx = nullptr and threads.
#include "kernels/cpu/lstm.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/blas.h"

namespace parbench::kernels::cpu {
namespace {

// The inputs of one layer call, in float (what the kernel sees); the reference widens the same values.
struct LstmInputs {
  LstmShape s;
  std::vector<float> x;     // (B, T, I)
  std::vector<float> w_ih;  // (2, 4H, I)
  std::vector<float> w_hh;  // (2, 4H, H)
  std::vector<float> b_ih;  // (2, 4H)
  std::vector<float> b_hh;  // (2, 4H)
};

std::vector<float> uniform(std::size_t n, float low, float high, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (auto& value : v) value = dist(rng);
  return v;
}

LstmInputs random_inputs(const LstmShape& s, unsigned seed) {
  std::mt19937 rng(seed);
  const std::size_t B = s.batch, T = s.steps, I = s.input, H = s.hidden;
  return {s,
          uniform(B * T * I, -1.0f, 1.0f, rng),
          uniform(8 * H * I, -0.5f, 0.5f, rng),
          uniform(8 * H * H, -0.5f, 0.5f, rng),
          uniform(8 * H, -0.5f, 0.5f, rng),
          uniform(8 * H, -0.5f, 0.5f, rng)};
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// y (B, T, 2H) straight from the equations, each direction walking its own time order.
std::vector<double> reference_forward(const LstmShape& s, const std::vector<double>& x, const std::vector<double>& w_ih,
                                      const std::vector<double>& w_hh, const std::vector<double>& b_ih,
                                      const std::vector<double>& b_hh) {
  const int B = s.batch, T = s.steps, I = s.input, H = s.hidden;
  std::vector<double> y(static_cast<std::size_t>(B) * T * 2 * H);
  std::vector<double> h(H), c(H), z(4 * H);
  for (int d = 0; d < 2; ++d) {
    for (int b = 0; b < B; ++b) {
      std::fill(h.begin(), h.end(), 0.0);
      std::fill(c.begin(), c.end(), 0.0);
      for (int s_ = 0; s_ < T; ++s_) {
        const int t = d == 0 ? s_ : T - 1 - s_;
        for (int row = 0; row < 4 * H; ++row) {
          const int gate_row = d * 4 * H + row;
          double sum = b_ih[gate_row] + b_hh[gate_row];
          for (int k = 0; k < I; ++k) sum += w_ih[gate_row * I + k] * x[(b * T + t) * I + k];
          for (int k = 0; k < H; ++k) sum += w_hh[gate_row * H + k] * h[k];
          z[row] = sum;
        }
        for (int j = 0; j < H; ++j) {
          const double i = sigmoid(z[j]), f = sigmoid(z[H + j]), g = std::tanh(z[2 * H + j]), o = sigmoid(z[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * std::tanh(c[j]);
          y[(b * T + t) * 2 * H + d * H + j] = h[j];
        }
      }
    }
  }
  return y;
}

// What one forward + backward of the kernel produced.
struct KernelRun {
  std::vector<float> y, reserve;
  std::vector<float> dx, dw_ih, dw_hh, db_ih, db_hh;
};

// Output buffers start as NaN: forward must overwrite every element it hands on, and must not
// read any it did not write. One guard float after reserve and workspace checks the sizes.
constexpr float kGuard = 12345.0f;

KernelRun run_forward(const LstmInputs& in, int threads) {
  const LstmShape& s = in.s;
  KernelRun run;
  run.y.assign(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, std::numeric_limits<float>::quiet_NaN());
  run.reserve.assign(lstm_reserve_size(s) + 1, std::numeric_limits<float>::quiet_NaN());
  run.reserve.back() = kGuard;
  lstm_forward(run.y.data(), run.reserve.data(), nullptr, in.x.data(), in.w_ih.data(), in.w_hh.data(), in.b_ih.data(),
               in.b_hh.data(), s, threads);
  EXPECT_EQ(run.reserve.back(), kGuard) << "forward wrote past lstm_reserve_size";
  return run;
}

// Backward accumulates into whatever run's gradient buffers hold (zero-initialised if empty).
void run_backward(KernelRun& run, const LstmInputs& in, const std::vector<float>& dy, int threads, bool with_dx) {
  const LstmShape& s = in.s;
  auto zero_if_empty = [](std::vector<float>& v, std::size_t n) {
    if (v.empty()) v.assign(n, 0.0f);
  };
  zero_if_empty(run.dx, in.x.size());
  zero_if_empty(run.dw_ih, in.w_ih.size());
  zero_if_empty(run.dw_hh, in.w_hh.size());
  zero_if_empty(run.db_ih, in.b_ih.size());
  zero_if_empty(run.db_hh, in.b_hh.size());
  std::vector<float> workspace(lstm_workspace_size(s) + 1, std::numeric_limits<float>::quiet_NaN());
  workspace.back() = kGuard;
  lstm_backward(with_dx ? run.dx.data() : nullptr, run.dw_ih.data(), run.dw_hh.data(), run.db_ih.data(),
                run.db_hh.data(), workspace.data(), dy.data(), in.x.data(), run.y.data(), run.reserve.data(),
                in.w_ih.data(), in.w_hh.data(), s, threads);
  EXPECT_EQ(workspace.back(), kGuard) << "backward wrote past lstm_workspace_size";
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Odd sizes: a single unit and step, and sizes that fit no SIMD width or GEMM block.
const LstmShape kOddShapes[] = {{1, 1, 1, 1}, {3, 5, 7, 4}, {2, 17, 33, 3}, {5, 3, 17, 33}};

TEST(KernelsLstmForward, MatchesFloat64ReferenceOnOddSizes) {
  for (const LstmShape& s : kOddShapes) {
    const LstmInputs in = random_inputs(s, 7u + s.batch * 131u + s.hidden);
    const std::vector<double> want =
        reference_forward(s, widen(in.x), widen(in.w_ih), widen(in.w_hh), widen(in.b_ih), widen(in.b_hh));
    // A pre-activation is an fp32 sum of K = I + H + 2 terms of size <= 0.5 (|x|, |h| <= 1,
    // |w|, |b| <= 0.5), whose rounding error grows like 6e-8 * sqrt(K) * |term| for random signs;
    // expf/tanhf add about an ulp, the activations have slope <= 1 and the recurrence (|f| < 1)
    // does not amplify it. 1e-6 * sqrt(K) is then about 40x the errors seen (~1e-7) and still far
    // below what a wrong index or gate produces (~1e-2). |y| < 1, so the tolerance is absolute.
    const double k = s.input + s.hidden + 2;
    const double tolerance = 1e-6 * std::sqrt(k);
    for (int threads : {1, 2}) {
      const KernelRun run = run_forward(in, threads);
      double worst = 0;
      for (std::size_t e = 0; e < want.size(); ++e) worst = std::max(worst, std::abs(run.y[e] - want[e]));
      EXPECT_LE(worst, tolerance) << "B=" << s.batch << " T=" << s.steps << " I=" << s.input << " H=" << s.hidden
                                  << " threads=" << threads;
    }
  }
}

TEST(KernelsLstmForward, ReverseDirectionReadsTimeBackwards) {
  // With T = 2 the reverse direction's output at t = 1 is its first step: it depends on x_1 only,
  // and its output at t = 0 on both. Changing x_0 must therefore leave y[:, 1, H:2H] unchanged
  // and change y[:, 1, 0:H].
  const LstmShape s{1, 2, 3, 4};
  LstmInputs in = random_inputs(s, 11);
  const KernelRun before = run_forward(in, 1);
  for (int k = 0; k < s.input; ++k) in.x[k] += 0.25f;
  const KernelRun after = run_forward(in, 1);
  for (int j = 0; j < s.hidden; ++j) {
    EXPECT_EQ(before.y[2 * s.hidden + s.hidden + j], after.y[2 * s.hidden + s.hidden + j]);
    EXPECT_NE(before.y[2 * s.hidden + j], after.y[2 * s.hidden + j]);
  }
}

// Central differences of L = sum(y * r) on the float64 reference: step 1e-5 gives truncation
// error ~1e-10 and rounding error ~1e-16 * |L| / 1e-5 ~ 1e-10, far below the fp32 error of the
// kernel's gradients.
TEST(KernelsLstmBackward, MatchesFiniteDifferences) {
  const LstmShape shapes[] = {{1, 1, 1, 1}, {2, 4, 3, 2}, {3, 5, 7, 4}};
  for (const LstmShape& s : shapes) {
    const LstmInputs in = random_inputs(s, 3u + s.steps);
    std::mt19937 rng(99);
    const std::vector<float> r = uniform(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, -1.0f, 1.0f, rng);

    KernelRun run = run_forward(in, 1);
    run_backward(run, in, r, 1, true);

    std::vector<double> x = widen(in.x), w_ih = widen(in.w_ih), w_hh = widen(in.w_hh), b_ih = widen(in.b_ih),
                        b_hh = widen(in.b_hh);
    auto loss = [&] {
      const std::vector<double> y = reference_forward(s, x, w_ih, w_hh, b_ih, b_hh);
      double sum = 0;
      for (std::size_t e = 0; e < y.size(); ++e) sum += y[e] * r[e];
      return sum;
    };
    struct Checked {
      const char* name;
      std::vector<double>* value;
      const std::vector<float>* gradient;
    };
    const Checked checked[] = {{"dx", &x, &run.dx},
                               {"dw_ih", &w_ih, &run.dw_ih},
                               {"dw_hh", &w_hh, &run.dw_hh},
                               {"db_ih", &b_ih, &run.db_ih},
                               {"db_hh", &b_hh, &run.db_hh}};
    // Each gradient entry is an fp32 sum over at most B*T = 15 steps of products of O(1) factors
    // carried through up to T = 5 cells; the largest error seen is 1.1e-7, so 2e-6 * (1 + |g|)
    // leaves a margin of ~20 while a wrong term shows up at ~1e-2.
    constexpr double kEps = 1e-5;
    for (const Checked& c : checked) {
      for (std::size_t e = 0; e < c.value->size(); ++e) {
        const double saved = (*c.value)[e];
        (*c.value)[e] = saved + kEps;
        const double plus = loss();
        (*c.value)[e] = saved - kEps;
        const double minus = loss();
        (*c.value)[e] = saved;
        const double want = (plus - minus) / (2 * kEps);
        EXPECT_NEAR((*c.gradient)[e], want, 2e-6 * (1 + std::abs(want)))
            << c.name << "[" << e << "] B=" << s.batch << " T=" << s.steps << " I=" << s.input << " H=" << s.hidden;
      }
    }
  }
}

TEST(KernelsLstmBackward, AccumulatesIntoGradients) {
  const LstmShape s{3, 5, 7, 4};
  const LstmInputs in = random_inputs(s, 5);
  std::mt19937 rng(1);
  const std::vector<float> dy = uniform(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, -1, 1, rng);
  KernelRun once = run_forward(in, 1);
  run_backward(once, in, dy, 1, true);
  KernelRun twice = once;
  run_backward(twice, in, dy, 1, true);
  auto expect_doubled = [](const std::vector<float>& one, const std::vector<float>& two, const char* name) {
    // two = one + (the same sum again): equal to 2 * one up to the rounding of the final additions.
    for (std::size_t e = 0; e < one.size(); ++e) EXPECT_NEAR(two[e], 2 * one[e], 1e-6 * (1 + std::abs(one[e]))) << name;
  };
  expect_doubled(once.dx, twice.dx, "dx");
  expect_doubled(once.dw_ih, twice.dw_ih, "dw_ih");
  expect_doubled(once.dw_hh, twice.dw_hh, "dw_hh");
  expect_doubled(once.db_ih, twice.db_ih, "db_ih");
  expect_doubled(once.db_hh, twice.db_hh, "db_hh");
}

TEST(KernelsLstmBackward, NullDxLeavesOtherGradientsUnchanged) {
  const LstmShape s{2, 17, 33, 3};
  const LstmInputs in = random_inputs(s, 8);
  std::mt19937 rng(2);
  const std::vector<float> dy = uniform(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, -1, 1, rng);
  KernelRun with = run_forward(in, 1);
  KernelRun without = with;
  run_backward(with, in, dy, 1, true);
  run_backward(without, in, dy, 1, false);
  EXPECT_TRUE(std::all_of(without.dx.begin(), without.dx.end(), [](float v) { return v == 0.0f; }));
  EXPECT_TRUE(bitwise_equal(with.dw_ih, without.dw_ih));
  EXPECT_TRUE(bitwise_equal(with.dw_hh, without.dw_hh));
  EXPECT_TRUE(bitwise_equal(with.db_ih, without.db_ih));
  EXPECT_TRUE(bitwise_equal(with.db_hh, without.db_hh));
}

// threads = 2 runs the two directions concurrently. These shapes keep every GEMM small enough to
// run on one BLAS thread (m n k <= 262144, below OpenBLAS's threading threshold; oneDNN keeps them
// on one thread too), so that is the only difference from threads = 1: results must be bitwise equal.
TEST(KernelsLstm, ConcurrentDirectionsGiveBitwiseIdenticalResults) {
  const LstmShape shapes[] = {{3, 5, 7, 4}, {5, 3, 17, 33}, {2, 40, 8, 16}};
  for (const LstmShape& s : shapes) {
    const LstmInputs in = random_inputs(s, 21);
    std::mt19937 rng(3);
    const std::vector<float> dy = uniform(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, -1, 1, rng);
    KernelRun one = run_forward(in, 1);
    run_backward(one, in, dy, 1, true);
    KernelRun two = run_forward(in, 2);
    run_backward(two, in, dy, 2, true);
    const std::string at = fmt::format("T={} H={}", s.steps, s.hidden);
    EXPECT_TRUE(bitwise_equal(one.y, two.y)) << at;
    EXPECT_TRUE(bitwise_equal(one.reserve, two.reserve)) << at;
    EXPECT_TRUE(bitwise_equal(one.dx, two.dx)) << at;
    EXPECT_TRUE(bitwise_equal(one.dw_ih, two.dw_ih)) << at;
    EXPECT_TRUE(bitwise_equal(one.dw_hh, two.dw_hh)) << at;
    EXPECT_TRUE(bitwise_equal(one.db_ih, two.db_ih)) << at;
    EXPECT_TRUE(bitwise_equal(one.db_hh, two.db_hh)) << at;
  }
}

// Here the one-shot GEMMs are large enough for the BLAS to use two threads. Whether that is
// bitwise equal to one thread is the BLAS's property (OpenBLAS 0.3.21: yes with its SkylakeX
// kernels, no with Haswell or Prescott, where a 54 x 320 x 300 sgemm differed in about 10% of its
// entries), so only agreement to fp32 rounding is required: sums of K <= 300 terms of O(1)
// values, added in another order, differ by ~1e-6.
TEST(KernelsLstm, BlasThreadsChangeOnlyRounding) {
  const LstmShape s{6, 9, 300, 40};
  const LstmInputs in = random_inputs(s, 22);
  std::mt19937 rng(4);
  const std::vector<float> dy = uniform(static_cast<std::size_t>(s.batch) * s.steps * 2 * s.hidden, -1, 1, rng);
  KernelRun one = run_forward(in, 1);
  run_backward(one, in, dy, 1, true);
  KernelRun two = run_forward(in, 2);
  run_backward(two, in, dy, 2, true);
  auto expect_close = [](const std::vector<float>& a, const std::vector<float>& b, const char* name) {
    float scale = 1.0f, worst = 0.0f;
    for (std::size_t e = 0; e < a.size(); ++e) {
      scale = std::max(scale, std::abs(a[e]));
      worst = std::max(worst, std::abs(a[e] - b[e]));
    }
    EXPECT_LE(worst, 1e-5f * scale) << name;
  };
  expect_close(one.y, two.y, "y");
  expect_close(one.dx, two.dx, "dx");
  expect_close(one.dw_ih, two.dw_ih, "dw_ih");
  expect_close(one.dw_hh, two.dw_hh, "dw_hh");
  expect_close(one.db_ih, two.db_ih, "db_ih");
  expect_close(one.db_hh, two.db_hh, "db_hh");
}

// The BLAS thread count is process-wide: the kernel changes it for its GEMMs and must hand the
// caller's back, whichever way round the two counts are.
TEST(KernelsLstm, RestoresCallersBlasThreads) {
  const LstmShape s{2, 3, 5, 4};
  const LstmInputs in = random_inputs(s, 4);
  const int initial = blas_threads();
  for (const auto& [callers, kernels] : {std::pair{1, 2}, std::pair{2, 1}}) {
    set_blas_threads(callers);
    const int before = blas_threads();  // the library may cap the request at its core count
    KernelRun run = run_forward(in, kernels);
    EXPECT_EQ(blas_threads(), before) << "forward with threads=" << kernels;
    run_backward(run, in, std::vector<float>(run.y.size(), 1.0f), kernels, true);
    EXPECT_EQ(blas_threads(), before) << "backward with threads=" << kernels;
  }
  set_blas_threads(initial);
}

}  // namespace
}  // namespace parbench::kernels::cpu
