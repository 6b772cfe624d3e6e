// Tests for kernels/cpu/ops.h: every op against a float64 reference written here, on odd sizes;
// every backward against central finite differences of a float64 scalar function, called twice on
// a non-zero gradient buffer so that accumulation (+=) is checked in the same comparison.
#include "kernels/cpu/ops.h"
#include "kernels/math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace parbench::kernels::cpu {
namespace {

using Doubles = std::vector<double>;
using Floats = std::vector<float>;

Floats uniform(std::size_t n, float low, float high, std::mt19937& rng) {
  std::uniform_real_distribution<float> distribution(low, high);
  Floats values(n);
  for (float& value : values) value = distribution(rng);
  return values;
}

Doubles widen(const Floats& values) { return Doubles(values.begin(), values.end()); }

// expected (n) = prior + 2 * gradient: what a gradient buffer holding `prior` must contain after
// two backward calls that each add `gradient`.
Doubles twice_onto(const Floats& prior, const Doubles& gradient) {
  Doubles expected(prior.size());
  for (std::size_t i = 0; i < prior.size(); ++i) expected[i] = prior[i] + 2.0 * gradient[i];
  return expected;
}

// Elementwise |actual - expected| <= atol + rtol * |expected|; reports the worst miss and a count.
void expect_close(const Floats& actual, const Doubles& expected, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  std::size_t misses = 0, worst = 0;
  double worst_excess = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(actual[i] - expected[i]);
    const double excess = error - (atol + rtol * std::fabs(expected[i]));
    if (!(excess <= 0.0)) {  // also catches NaN
      if (misses == 0 || !(excess <= worst_excess)) worst = i, worst_excess = excess;
      ++misses;
    }
  }
  EXPECT_EQ(misses, 0u) << fmt::format("{}: {} of {} elements out of tolerance; worst [{}] = {} expected {}", what,
                                       misses, actual.size(), worst, actual[worst], expected[worst]);
}

// Central differences of loss() with respect to each element of x, which loss() reads by reference.
// Step 1e-5 on O(1) float64 functions: truncation ~1e-10 * f''' and rounding ~1e-16 / 1e-5 =
// 1e-11, both far below the float32 tolerances the kernels are held to.
template <typename Loss>
Doubles finite_differences(Doubles& x, const Loss& loss) {
  constexpr double step = 1e-5;
  Doubles gradient(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + step;
    const double plus = loss();
    x[i] = saved - step;
    const double minus = loss();
    x[i] = saved;
    gradient[i] = (plus - minus) / (2.0 * step);
  }
  return gradient;
}

double dot(const Doubles& a, const Doubles& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Odd sizes, including 1 and one wider than the 256-column blocks ops.cpp works in.
const std::vector<std::pair<int, int>> kMatrixSizes = {{1, 1}, {3, 17}, {17, 3}, {33, 33}, {3, 257}};

// ---- BLAS-like ------------------------------------------------------------------------------------

TEST(KernelsOpsBlasLike, AddBiasMatchesReferenceAndBiasBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(1);
  for (const auto& [m, n] : kMatrixSizes) {
    SCOPED_TRACE(fmt::format("m={} n={}", m, n));
    const Floats y0 = uniform(static_cast<std::size_t>(m) * n, -1, 1, rng), bias = uniform(n, -1, 1, rng);
    Floats y = y0;
    add_bias(y.data(), bias.data(), m, n);
    Doubles expected(y.size());
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) expected[i * n + j] = static_cast<double>(y0[i * n + j]) + bias[j];
    // One float addition: correctly rounded, so within half an ulp.
    expect_close(y, expected, 6e-8, 0.0, "add_bias");

    // L = sum r * (y + bias); dbias = column sums of r, computed by bias_backward from dy = r.
    const Floats r = uniform(y.size(), -1, 1, rng);
    Doubles bias64 = widen(bias);
    const Doubles y64 = widen(y0), r64 = widen(r);
    // m, n by copy: clang before 16 (clang-tidy-14) cannot capture structured bindings.
    const Doubles fd = finite_differences(bias64, [&, m = m, n = n] {
      double sum = 0.0;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) sum += r64[i * n + j] * (y64[i * n + j] + bias64[j]);
      return sum;
    });
    const Floats prior = uniform(n, -1, 1, rng);
    Floats dbias = prior;
    bias_backward(dbias.data(), r.data(), m, n);
    bias_backward(dbias.data(), r.data(), m, n);
    // Column sums in double, rounded once to float, added twice: a few float ulps of O(m) values.
    expect_close(dbias, twice_onto(prior, fd), 1e-6, 1e-6, "bias_backward");
  }
}

TEST(KernelsOpsBlasLike, FillScaleAxpySgdMatchReference) {
  std::mt19937 rng(2);
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{1001}}) {
    SCOPED_TRACE(fmt::format("n={}", n));
    Floats x(n);
    fill(x.data(), 0.375f, n);
    EXPECT_TRUE(std::all_of(x.begin(), x.end(), [](float value) { return value == 0.375f; }));

    const Floats a = uniform(n, -2, 2, rng), b = uniform(n, -2, 2, rng);
    Floats scaled = a;
    scale(scaled.data(), -0.3f, n);
    Floats y = b;
    axpy(y.data(), 0.7f, a.data(), n);
    Floats param = b;
    sgd_step(param.data(), a.data(), n, 0.01f);
    Doubles scaled64(n), axpy64(n), sgd64(n);
    for (std::size_t i = 0; i < n; ++i) {
      scaled64[i] = static_cast<double>(a[i]) * -0.3f;
      axpy64[i] = b[i] + static_cast<double>(0.7f) * a[i];
      sgd64[i] = b[i] - static_cast<double>(0.01f) * a[i];
    }
    // One or two float roundings per element (relative 6e-8 each), plus cancellation in axpy
    // and sgd measured against the operands' size (<= 2), hence the absolute part.
    expect_close(scaled, scaled64, 1.2e-7, 0.0, "scale");
    expect_close(y, axpy64, 1.2e-7, 5e-7, "axpy");
    expect_close(param, sgd64, 1.2e-7, 5e-7, "sgd_step");
  }
}

TEST(KernelsOpsBlasLike, SumSquaresIsExactOnRepresentableSumsAndAccurateOnLargeRandomInput) {
  // x = k / 1024 with k in [-512, 512): every square k^2 / 2^20 and every partial sum (< 2^33 in
  // units of 2^-20) is exact in double, so the result must equal the integer sum exactly; a float
  // accumulator would be off by far more than 1 at this n.
  constexpr std::size_t n = 5'000'003;
  Floats x(n);
  std::uint64_t integer_sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::int64_t>(i % 1024) - 512;
    x[i] = static_cast<float>(k) / 1024.0f;
    integer_sum += static_cast<std::uint64_t>(k * k);
  }
  EXPECT_EQ(sum_squares(x.data(), n), static_cast<double>(integer_sum) / 1048576.0);

  // Random values: against an 80-bit long double sum. Double accumulation of n positive terms is
  // within n * 1.1e-16 = 6e-10 relative at worst (~1e-13 typically); 1e-11 leaves room for the
  // worst case of the 8 partial sums (n/8 terms each).
  std::mt19937 rng(3);
  const Floats r = uniform(n, -3, 3, rng);
  long double reference = 0.0L;
  for (float value : r) reference += static_cast<long double>(value) * value;
  EXPECT_NEAR(sum_squares(r.data(), n), static_cast<double>(reference), 1e-11 * static_cast<double>(reference));
  EXPECT_EQ(sum_squares(r.data(), 0), 0.0);
}

// ---- activations -----------------------------------------------------------------------------------

enum class Activation { relu, tanh, sigmoid };

double activation64(Activation kind, double x) {
  switch (kind) {
    case Activation::relu: return x > 0.0 ? x : 0.0;
    case Activation::tanh: return std::tanh(x);
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return 0.0;
}

void activation_forward(Activation kind, float* y, const float* x, std::size_t n) {
  switch (kind) {
    case Activation::relu: return relu_forward(y, x, n);
    case Activation::tanh: return tanh_forward(y, x, n);
    case Activation::sigmoid: return sigmoid_forward(y, x, n);
  }
}

void activation_backward(Activation kind, float* dx, const float* dy, const float* y, std::size_t n) {
  switch (kind) {
    case Activation::relu: return relu_backward(dx, dy, y, n);
    case Activation::tanh: return tanh_backward(dx, dy, y, n);
    case Activation::sigmoid: return sigmoid_backward(dx, dy, y, n);
  }
}

TEST(KernelsOpsActivations, ForwardMatchesReferenceAndBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(4);
  for (const Activation kind : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{33}}) {
      SCOPED_TRACE(fmt::format("activation {} n={}", static_cast<int>(kind), n));
      Floats x = uniform(n, -4, 4, rng);
      // Keep ReLU inputs away from the kink, where a finite difference straddles two slopes.
      for (float& value : x)
        if (std::fabs(value) < 0.1f) value += 0.2f;
      Floats y(n);
      activation_forward(kind, y.data(), x.data(), n);
      Doubles expected(n);
      for (std::size_t i = 0; i < n; ++i) expected[i] = activation64(kind, x[i]);
      // tanhf and expf are within 2 ulp in glibc; sigmoid adds an add and a divide: <= 5 ulp.
      expect_close(y, expected, 5e-7, 1e-7, "forward");

      Floats in_place = x;
      activation_forward(kind, in_place.data(), in_place.data(), n);
      EXPECT_EQ(in_place, y) << "in-place forward differs";

      const Floats dy = uniform(n, -1, 1, rng), prior = uniform(n, -1, 1, rng);
      Doubles x64 = widen(x);
      const Doubles dy64 = widen(dy);
      const Doubles fd = finite_differences(x64, [&] {
        double sum = 0.0;
        for (std::size_t i = 0; i < n; ++i) sum += dy64[i] * activation64(kind, x64[i]);
        return sum;
      });
      Floats dx = prior;
      activation_backward(kind, dx.data(), dy.data(), y.data(), n);
      activation_backward(kind, dx.data(), dy.data(), y.data(), n);
      // The derivative comes from the float output y (relative error <= 5e-7) through 1 - y^2 or
      // y (1 - y), times |dy| <= 1, added twice onto |prior| <= 1: about 5e-7 absolute at worst.
      expect_close(dx, twice_onto(prior, fd), 2e-6, 2e-6, "backward");
    }
  }
}

// ---- attention -------------------------------------------------------------------------------------

struct Attention64 {
  Doubles context, alpha, u;  // (B, D), (B, T), (B, T, A)
};

// u = tanh(h w^T + b), s = u v, alpha = softmax_t(s), context = sum_t alpha_t h_t, all in double.
Attention64 attention64(const Doubles& h, const Doubles& w, const Doubles& b, const Doubles& v,
                        const AttentionShape& shape) {
  const int B = shape.batch, T = shape.steps, D = shape.features, A = shape.attention;
  Attention64 out{Doubles(static_cast<std::size_t>(B) * D), Doubles(static_cast<std::size_t>(B) * T),
                  Doubles(static_cast<std::size_t>(B) * T * A)};
  Doubles score(static_cast<std::size_t>(B) * T);
  for (int r = 0; r < B * T; ++r) {
    for (int a = 0; a < A; ++a) {
      double z = b[a];
      for (int j = 0; j < D; ++j) z += h[r * D + j] * w[a * D + j];
      out.u[r * A + a] = std::tanh(z);
      score[r] += out.u[r * A + a] * v[a];
    }
  }
  for (int s = 0; s < B; ++s) {
    const double max_score = *std::max_element(score.begin() + s * T, score.begin() + (s + 1) * T);
    double sum = 0.0;
    for (int t = 0; t < T; ++t) sum += std::exp(score[s * T + t] - max_score);
    for (int t = 0; t < T; ++t) {
      out.alpha[s * T + t] = std::exp(score[s * T + t] - max_score) / sum;
      for (int j = 0; j < D; ++j) out.context[s * D + j] += out.alpha[s * T + t] * h[(s * T + t) * D + j];
    }
  }
  return out;
}

TEST(KernelsOpsAttention, ForwardMatchesReferenceAndBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(5);
  // T = 1 makes alpha identically 1 (scoring parameters get zero gradient); A = 33 > D, D = 33 > A.
  for (const AttentionShape shape : {AttentionShape{1, 1, 1, 1}, AttentionShape{3, 1, 5, 3},
                                     AttentionShape{1, 17, 3, 33}, AttentionShape{3, 17, 33, 17}}) {
    const int B = shape.batch, T = shape.steps, D = shape.features, A = shape.attention;
    SCOPED_TRACE(fmt::format("B={} T={} D={} A={}", B, T, D, A));
    const auto rows = static_cast<std::size_t>(B) * T;
    const Floats h = uniform(rows * D, -1, 1, rng), w = uniform(static_cast<std::size_t>(A) * D, -0.5, 0.5, rng),
                 b = uniform(A, -0.5, 0.5, rng), v = uniform(A, -1, 1, rng);
    Floats context(static_cast<std::size_t>(B) * D), alpha(rows), u(rows * A);
    attention_forward(context.data(), alpha.data(), u.data(), h.data(), w.data(), b.data(), v.data(), shape);

    Doubles h64 = widen(h), w64 = widen(w), b64 = widen(b), v64 = widen(v);
    const Attention64 expected = attention64(h64, w64, b64, v64, shape);
    // Float32 sums of <= 33 products of magnitude <= 0.5 (rounding errors of random sign: ~sqrt(33)
    // * 6e-8 * 0.5 = 2e-7), then tanh, exp and another such sum: 2e-6 is several times that.
    expect_close(u, expected.u, 2e-6, 2e-6, "u");
    expect_close(alpha, expected.alpha, 2e-6, 2e-6, "alpha");
    expect_close(context, expected.context, 2e-6, 2e-6, "context");

    // L = dcontext . context(h, w, b, v).
    const Floats dcontext = uniform(context.size(), -1, 1, rng);
    const Doubles dcontext64 = widen(dcontext);
    const auto loss = [&] { return dot(dcontext64, attention64(h64, w64, b64, v64, shape).context); };
    const Doubles fd_h = finite_differences(h64, loss), fd_w = finite_differences(w64, loss),
                  fd_b = finite_differences(b64, loss), fd_v = finite_differences(v64, loss);

    const Floats prior_h = uniform(h.size(), -1, 1, rng), prior_w = uniform(w.size(), -1, 1, rng),
                 prior_b = uniform(b.size(), -1, 1, rng), prior_v = uniform(v.size(), -1, 1, rng);
    Floats dh = prior_h, dw = prior_w, db = prior_b, dv = prior_v;
    // A sentinel tail catches writes past the advertised workspace size.
    Floats workspace(attention_workspace_size(shape) + 16, 1234.5f);
    for (int call = 0; call < 2; ++call)
      attention_backward(dh.data(), dw.data(), db.data(), dv.data(), workspace.data(), dcontext.data(), h.data(),
                         alpha.data(), u.data(), w.data(), v.data(), shape);
    EXPECT_TRUE(std::all_of(workspace.end() - 16, workspace.end(), [](float x) { return x == 1234.5f; }))
        << "attention_backward wrote past its workspace";
    // Gradients are float32 sums over up to B*T = 51 rows (dw, db, dv) or A = 33 columns (dh) of
    // terms <~ 1, on top of the forward's float error (~2e-7): rounding ~sqrt(51) * 6e-8 each,
    // so 5e-6 absolute plus 1e-5 relative.
    expect_close(dh, twice_onto(prior_h, fd_h), 1e-5, 5e-6, "dh");
    expect_close(dw, twice_onto(prior_w, fd_w), 1e-5, 5e-6, "dw");
    expect_close(db, twice_onto(prior_b, fd_b), 1e-5, 5e-6, "db");
    expect_close(dv, twice_onto(prior_v, fd_v), 1e-5, 5e-6, "dv");

    // nullptr gradients are skipped and do not change the others.
    Floats dw_only(w.size(), 0.0f), dv_only(v.size(), 0.0f);
    attention_backward(nullptr, dw_only.data(), nullptr, dv_only.data(), workspace.data(), dcontext.data(), h.data(),
                       alpha.data(), u.data(), w.data(), v.data(), shape);
    expect_close(dw_only, fd_w, 1e-5, 5e-6, "dw without dh and db");
    expect_close(dv_only, fd_v, 1e-5, 5e-6, "dv without dh and db");
  }
}

// ---- BatchNorm -------------------------------------------------------------------------------------

struct BatchNorm64 {
  Doubles y, mean, var;  // (m, c), (c), (c) biased
};

BatchNorm64 batchnorm64(const Doubles& x, const Doubles& gamma, const Doubles& beta, int m, int c, double eps) {
  BatchNorm64 out{Doubles(x.size()), Doubles(c), Doubles(c)};
  for (int j = 0; j < c; ++j) {
    for (int i = 0; i < m; ++i) out.mean[j] += x[i * c + j] / m;
    for (int i = 0; i < m; ++i) out.var[j] += (x[i * c + j] - out.mean[j]) * (x[i * c + j] - out.mean[j]) / m;
    for (int i = 0; i < m; ++i)
      out.y[i * c + j] = gamma[j] * (x[i * c + j] - out.mean[j]) / std::sqrt(out.var[j] + eps) + beta[j];
  }
  return out;
}

constexpr float kBnEps = 1e-5f, kBnMomentum = 0.1f;

TEST(KernelsOpsBatchNorm, TrainingForwardMatchesReferenceAndBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(6);
  for (const auto& [m, c] : {std::pair{2, 1}, std::pair{3, 257}, std::pair{17, 33}, std::pair{33, 17}}) {
    SCOPED_TRACE(fmt::format("m={} c={}", m, c));
    const auto size = static_cast<std::size_t>(m) * c;
    // Offset 3 so that a one-pass variance formula would lose digits; gamma away from 0.
    Floats x = uniform(size, 2, 4, rng);
    const Floats gamma = uniform(c, 0.5, 1.5, rng), beta = uniform(c, -1, 1, rng);
    Floats y(size), mean(c), rstd(c), running_mean(c, 0.0f), running_var(c, 1.0f);
    batchnorm_forward_train(y.data(), mean.data(), rstd.data(), running_mean.data(), running_var.data(), x.data(),
                            gamma.data(), beta.data(), m, c, kBnEps, kBnMomentum);
    Doubles x64 = widen(x), gamma64 = widen(gamma), beta64 = widen(beta);
    const BatchNorm64 expected = batchnorm64(x64, gamma64, beta64, m, c, kBnEps);
    Doubles rstd64(c);
    for (int j = 0; j < c; ++j) rstd64[j] = 1.0 / std::sqrt(expected.var[j] + kBnEps);
    // Statistics in double rounded once to float; y = x * scale + shift in float with |x * scale|
    // up to ~4 / 0.3 (a column's std can be small): a few ulp of 10 is ~1e-5.
    expect_close(mean, expected.mean, 1e-6, 0.0, "mean");
    expect_close(rstd, rstd64, 1e-6, 0.0, "rstd");
    expect_close(y, expected.y, 1e-5, 2e-5, "y");

    // L = r . y(x, gamma, beta) with batch statistics.
    const Floats r = uniform(size, -1, 1, rng);
    const Doubles r64 = widen(r);
    // m, c by copy: clang before 16 (clang-tidy-14) cannot capture structured bindings.
    const auto loss = [&, m = m, c = c] { return dot(r64, batchnorm64(x64, gamma64, beta64, m, c, kBnEps).y); };
    const Doubles fd_x = finite_differences(x64, loss), fd_gamma = finite_differences(gamma64, loss),
                  fd_beta = finite_differences(beta64, loss);
    const Floats prior_x = uniform(size, -1, 1, rng), prior_gamma = uniform(c, -1, 1, rng),
                 prior_beta = uniform(c, -1, 1, rng);
    Floats dx = prior_x, dgamma = prior_gamma, dbeta = prior_beta;
    for (int call = 0; call < 2; ++call)
      batchnorm_backward(dx.data(), dgamma.data(), dbeta.data(), r.data(), x.data(), mean.data(), rstd.data(),
                         gamma.data(), m, c);
    // dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) is a difference of O(1) terms scaled
    // by rstd (up to ~4): float rounding of those terms gives ~1e-6; 2e-5 absolute. With m = 2,
    // xhat = +-1 exactly and dx is 0 up to rounding, which the absolute part covers.
    expect_close(dx, twice_onto(prior_x, fd_x), 1e-4, 2e-5, "dx");
    // dbeta: double column sums rounded to float: 1e-6. dgamma: xhat uses the saved float mean,
    // off by up to half an ulp of 3 (1.2e-7) for a whole column, so sum dy xhat is off by
    // 1.2e-7 * rstd * |sum dy| (~1e-6 for 33 rows; twice for two calls): 1e-5.
    expect_close(dgamma, twice_onto(prior_gamma, fd_gamma), 1e-5, 1e-5, "dgamma");
    expect_close(dbeta, twice_onto(prior_beta, fd_beta), 1e-6, 1e-6, "dbeta");

    // nullptr gradients: each output alone gives the same values.
    Floats dx_only(size, 0.0f), dgamma_only(c, 0.0f);
    batchnorm_backward(dx_only.data(), nullptr, nullptr, r.data(), x.data(), mean.data(), rstd.data(), gamma.data(), m,
                       c);
    batchnorm_backward(nullptr, dgamma_only.data(), nullptr, r.data(), x.data(), mean.data(), rstd.data(), gamma.data(),
                       m, c);
    expect_close(dx_only, fd_x, 1e-4, 2e-5, "dx alone");
    expect_close(dgamma_only, fd_gamma, 1e-5, 1e-5, "dgamma alone");
  }
}

TEST(KernelsOpsBatchNorm, RunningStatisticsFollowPyTorchAndEvalUsesThem) {
  std::mt19937 rng(7);
  constexpr int m = 17, c = 33;
  const Floats gamma = uniform(c, 0.5, 1.5, rng), beta = uniform(c, -1, 1, rng);
  Floats running_mean(c, 0.0f), running_var(c, 1.0f), y(m * c), mean(c), rstd(c);
  Doubles running_mean64(c, 0.0), running_var64(c, 1.0);  // torch.nn.BatchNorm1d's initial buffers
  for (int call = 0; call < 2; ++call) {
    const Floats x = uniform(static_cast<std::size_t>(m) * c, -1.0f + call, 2.0f + call, rng);
    batchnorm_forward_train(y.data(), mean.data(), rstd.data(), running_mean.data(), running_var.data(), x.data(),
                            gamma.data(), beta.data(), m, c, kBnEps, kBnMomentum);
    const BatchNorm64 batch = batchnorm64(widen(x), widen(gamma), widen(beta), m, c, kBnEps);
    // PyTorch: running = (1 - momentum) running + momentum * batch, with the unbiased variance.
    for (int j = 0; j < c; ++j) {
      running_mean64[j] = (1.0 - kBnMomentum) * running_mean64[j] + kBnMomentum * batch.mean[j];
      running_var64[j] = (1.0 - kBnMomentum) * running_var64[j] + kBnMomentum * batch.var[j] * m / (m - 1.0);
    }
  }
  // Two float roundings of O(1) values (one per call): 3e-7 relative.
  expect_close(running_mean, running_mean64, 3e-7, 1e-7, "running_mean");
  expect_close(running_var, running_var64, 3e-7, 1e-7, "running_var");

  const Floats x = uniform(static_cast<std::size_t>(m) * c, -2, 2, rng);
  batchnorm_forward_eval(y.data(), x.data(), gamma.data(), beta.data(), running_mean.data(), running_var.data(), m, c,
                         kBnEps);
  Doubles expected(y.size());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < c; ++j)
      expected[i * c + j] = gamma[j] * (x[i * c + j] - static_cast<double>(running_mean[j])) /
                                std::sqrt(static_cast<double>(running_var[j]) + kBnEps) +
                            beta[j];
  // x * scale + shift in float on O(3) values: a few ulp.
  expect_close(y, expected, 1e-6, 1e-6, "eval y");
}

TEST(KernelsOpsBatchNorm, TrainingOnOneRowThrowsAsPyTorchDoes) {
  Floats x{1.0f, 2.0f}, gamma{1.0f, 1.0f}, beta{0.0f, 0.0f}, y(2), mean(2), rstd(2), running_mean(2), running_var(2);
  EXPECT_THROW(batchnorm_forward_train(y.data(), mean.data(), rstd.data(), running_mean.data(), running_var.data(),
                                       x.data(), gamma.data(), beta.data(), 1, 2, kBnEps, kBnMomentum),
               parbench::Error);
}

// ---- dropout ---------------------------------------------------------------------------------------

TEST(KernelsOpsDropout, MaskDependsOnGlobalSampleNotOnHowTheBatchIsSplit) {
  std::mt19937 rng(8);
  constexpr int samples = 17, per_sample = 33;
  constexpr float p = 0.5f;
  const Floats x = uniform(samples * per_sample, 0.5, 1.5, rng);
  Floats whole(x.size()), split(x.size());
  dropout_forward(whole.data(), x.data(), samples, per_sample, 100, 42, 7, p);
  // Samples 100..104 on one worker, 105..116 on another.
  dropout_forward(split.data(), x.data(), 5, per_sample, 100, 42, 7, p);
  dropout_forward(split.data() + 5 * per_sample, x.data() + 5 * per_sample, samples - 5, per_sample, 105, 42, 7, p);
  EXPECT_EQ(whole, split);

  Floats shifted(x.size());
  dropout_forward(shifted.data(), x.data(), samples, per_sample, 101, 42, 7, p);
  EXPECT_NE(whole, shifted) << "the mask ignores first_sample";
}

TEST(KernelsOpsDropout, KeepsAboutOneMinusPScaledAndBackwardUsesTheSameMask) {
  std::mt19937 rng(9);
  constexpr int samples = 1001, per_sample = 999;
  constexpr float p = 0.3f;
  const Floats x = uniform(static_cast<std::size_t>(samples) * per_sample, 0.5, 1.5, rng);
  Floats y(x.size());
  dropout_forward(y.data(), x.data(), samples, per_sample, 0, 1, 2, p);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (y[i] == 0.0f) continue;
    ++kept;
    // The kernel rounds 1 / (1 - p) to float, then multiplies: within 2 ulp of the exact value.
    ASSERT_NEAR(y[i], x[i] / (1.0 - p), 2.5e-7 * y[i]) << "element " << i;
  }
  // Binomial(n ~ 1e6, 0.7): standard deviation of the rate 4.6e-4; 5 sigma is 2.3e-3.
  EXPECT_NEAR(static_cast<double>(kept) / x.size(), 1.0 - p, 2.3e-3);

  // dx += dy / (1 - p) exactly where forward kept: with dy = x, dx - prior equals y.
  const Floats prior = uniform(x.size(), -1, 1, rng);
  Floats dx = prior;
  dropout_backward(dx.data(), x.data(), samples, per_sample, 0, 1, 2, p);
  dropout_backward(dx.data(), x.data(), samples, per_sample, 0, 1, 2, p);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::fabs(dx[i] - (prior[i] + 2.0 * y[i])) > 1e-6) ++wrong;
  EXPECT_EQ(wrong, 0u) << "backward mask or scale differs from forward";

  // Another stream (layer or step) or seed draws an unrelated mask: about 2 p (1 - p) = 42% of
  // elements differ (standard deviation of that rate 5e-4; 5e-3 is 10 sigma).
  using SeedStream = std::pair<std::uint64_t, std::uint64_t>;
  Floats other(x.size());
  for (const auto& [seed, stream] : {SeedStream{1, 3}, SeedStream{2, 2}}) {
    dropout_forward(other.data(), x.data(), samples, per_sample, 0, seed, stream, p);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < x.size(); ++i) differ += (other[i] == 0.0f) != (y[i] == 0.0f);
    EXPECT_NEAR(static_cast<double>(differ) / x.size(), 2 * p * (1 - p), 5e-3)
        << "seed " << seed << " stream " << stream;
  }
}

TEST(KernelsOpsDropout, ZeroKeepsEverythingAndOneDropsEverything) {
  std::mt19937 rng(10);
  const Floats x = uniform(3 * 17, -1, 1, rng);
  Floats y(x.size());
  dropout_forward(y.data(), x.data(), 3, 17, 5, 1, 1, 0.0f);
  EXPECT_EQ(y, x);
  dropout_forward(y.data(), x.data(), 3, 17, 5, 1, 1, 1.0f);
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float value) { return value == 0.0f; }));
}

// ---- softmax and losses ----------------------------------------------------------------------------

Doubles softmax64(const Doubles& logits, int batch, int classes) {
  Doubles probs(logits.size());
  for (int i = 0; i < batch; ++i) {
    const double max_z = *std::max_element(logits.begin() + i * classes, logits.begin() + (i + 1) * classes);
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(logits[i * classes + k] - max_z);
    for (int k = 0; k < classes; ++k) probs[i * classes + k] = std::exp(logits[i * classes + k] - max_z) / sum;
  }
  return probs;
}

// Per-sample weighted loss from probabilities (B, C), in double: design.md §2's definitions.
Doubles losses64(const Doubles& probs, const std::vector<std::int32_t>& targets, const Floats* class_weights, int batch,
                 int classes, const LossSpec& spec) {
  Doubles losses(batch);
  for (int i = 0; i < batch; ++i) {
    double loss = 0.0;
    for (int k = 0; k < classes; ++k) {
      const double q =
          (k == targets[i] ? 1.0 - spec.label_smoothing : 0.0) + static_cast<double>(spec.label_smoothing) / classes;
      const double p = probs[i * classes + k];
      const double modulation =
          spec.kind == LossSpec::Kind::focal ? spec.focal_alpha * std::pow(1.0 - p, spec.focal_gamma) : 1.0;
      loss -= modulation * q * std::log(p);
    }
    losses[i] = loss * (class_weights ? (*class_weights)[targets[i]] : 1.0);
  }
  return losses;
}

TEST(KernelsOpsSoftmaxLoss, SoftmaxMatchesReferenceIncludingLargeLogits) {
  std::mt19937 rng(11);
  for (const auto& [batch, classes] : kMatrixSizes) {
    SCOPED_TRACE(fmt::format("batch={} classes={}", batch, classes));
    Floats logits = uniform(static_cast<std::size_t>(batch) * classes, -5, 5, rng);
    logits[0] += 1000.0f;  // exp(1000) overflows unless the row maximum is subtracted first
    Floats probs(logits.size());
    softmax_forward(probs.data(), logits.data(), batch, classes);
    // z - max is rounded to half an ulp of |z - max| <= 10 (5e-7 absolute in the exponent, so
    // 5e-7 relative in p), then expf (1 ulp), the sum in double and one multiply: 2e-6 relative.
    expect_close(probs, softmax64(widen(logits), batch, classes), 2e-6, 0.0, "probs");
  }
}

struct LossCase {
  LossSpec::Kind kind;
  float label_smoothing;
  bool weighted;
};

TEST(KernelsOpsSoftmaxLoss, LossesMatchReferenceAndGradientsMatchFiniteDifferences) {
  std::mt19937 rng(12);
  for (const LossSpec::Kind kind : {LossSpec::Kind::cross_entropy, LossSpec::Kind::focal})
    for (const float label_smoothing : {0.0f, 0.1f})
      for (const bool weighted : {false, true})
        for (const auto& [batch, classes] : {std::pair{1, 2}, std::pair{3, 3}, std::pair{17, 2}, std::pair{33, 17}}) {
          SCOPED_TRACE(fmt::format("{} ls={} weighted={} batch={} classes={}",
                                   kind == LossSpec::Kind::focal ? "focal" : "ce", label_smoothing, weighted, batch,
                                   classes));
          const LossSpec spec{.kind = kind, .label_smoothing = label_smoothing};
          const Floats logits = uniform(static_cast<std::size_t>(batch) * classes, -3, 3, rng);
          std::vector<std::int32_t> targets(batch);
          std::uniform_int_distribution<std::int32_t> pick(0, classes - 1);
          for (auto& target : targets) target = pick(rng);
          const Floats weights = uniform(classes, 0.5, 2, rng);
          const Floats* class_weights = weighted ? &weights : nullptr;
          const float* weights_pointer = weighted ? weights.data() : nullptr;

          Floats probs(logits.size()), losses(batch);
          softmax_forward(probs.data(), logits.data(), batch, classes);
          loss_forward(losses.data(), probs.data(), targets.data(), weights_pointer, batch, classes, spec);
          // logf and powf within a few ulp, summed over <= 17 classes in double: 1e-5 relative.
          expect_close(losses, losses64(widen(probs), targets, class_weights, batch, classes, spec), 1e-5, 1e-7,
                       "losses");

          // L = scale * sum_i weighted loss_i(softmax(logits_i)), scale = 1 / batch as in training.
          const float scale = 1.0f / static_cast<float>(batch);
          Doubles logits64 = widen(logits);
          // By copy: clang before 16 (clang-tidy-14) cannot capture structured bindings.
          const Doubles fd = finite_differences(logits64, [&, batch = batch, classes = classes] {
            const Doubles l =
                losses64(softmax64(logits64, batch, classes), targets, class_weights, batch, classes, spec);
            double sum = 0.0;
            for (double value : l) sum += value;
            return sum * scale;
          });
          const Floats prior = uniform(logits.size(), -1, 1, rng);
          Floats dlogits = prior;
          for (int call = 0; call < 2; ++call)
            loss_backward(dlogits.data(), probs.data(), targets.data(), weights_pointer, batch, classes, spec, scale);
          // Float probabilities (few ulp) through logf/powf and a sum over classes: 1e-5 relative;
          // 2e-7 absolute for the prior (|prior| <= 1, an ulp ~1e-7) and components that cancel.
          expect_close(dlogits, twice_onto(prior, fd), 1e-5, 2e-7, "dlogits");
        }
}

TEST(KernelsOpsSoftmaxLoss, FocalWithGammaZeroAndAlphaOneIsCrossEntropy) {
  std::mt19937 rng(13);
  constexpr int batch = 17, classes = 3;
  const Floats logits = uniform(batch * classes, -3, 3, rng);
  std::vector<std::int32_t> targets(batch);
  for (int i = 0; i < batch; ++i) targets[i] = i % classes;
  Floats probs(logits.size());
  softmax_forward(probs.data(), logits.data(), batch, classes);
  const LossSpec ce{.kind = LossSpec::Kind::cross_entropy, .label_smoothing = 0.1f};
  const LossSpec focal{
      .kind = LossSpec::Kind::focal, .label_smoothing = 0.1f, .focal_alpha = 1.0f, .focal_gamma = 0.0f};
  Floats ce_losses(batch), focal_losses(batch), ce_grad(logits.size(), 0.0f), focal_grad(logits.size(), 0.0f);
  loss_forward(ce_losses.data(), probs.data(), targets.data(), nullptr, batch, classes, ce);
  loss_forward(focal_losses.data(), probs.data(), targets.data(), nullptr, batch, classes, focal);
  loss_backward(ce_grad.data(), probs.data(), targets.data(), nullptr, batch, classes, ce, 1.0f);
  loss_backward(focal_grad.data(), probs.data(), targets.data(), nullptr, batch, classes, focal, 1.0f);
  // Same sums by different float paths (the focal gradient sums sum_c q_c, which is 1 only up to
  // rounding): a few ulp of O(1) values.
  expect_close(focal_losses, widen(ce_losses), 1e-6, 1e-7, "losses");
  expect_close(focal_grad, widen(ce_grad), 1e-6, 1e-6, "gradients");
}

TEST(KernelsOpsSoftmaxLoss, SaturatedProbabilitiesGiveFiniteLossAndGradient) {
  // A softmax that underflowed: p = (0, 1). Without the clamp log 0 = -inf; with gamma < 1 the
  // focal gradient has (1 - p)^(gamma - 1) = inf at p = 1.
  const Floats probs{0.0f, 1.0f, 1.0f, 0.0f};
  const std::vector<std::int32_t> targets{0, 0};
  for (const float gamma : {2.0f, 0.5f})
    for (const LossSpec::Kind kind : {LossSpec::Kind::cross_entropy, LossSpec::Kind::focal}) {
      const LossSpec spec{.kind = kind, .label_smoothing = 0.1f, .focal_gamma = gamma};
      Floats losses(2), dlogits(4, 0.0f);
      loss_forward(losses.data(), probs.data(), targets.data(), nullptr, 2, 2, spec);
      loss_backward(dlogits.data(), probs.data(), targets.data(), nullptr, 2, 2, spec, 1.0f);
      for (float value : losses) EXPECT_TRUE(std::isfinite(value)) << "gamma " << gamma;
      for (float value : dlogits) EXPECT_TRUE(std::isfinite(value)) << "gamma " << gamma;
      EXPECT_GT(losses[0], 1.0f) << "the wrong, confident sample must have a large loss";
    }
}

// ---- optimizers ------------------------------------------------------------------------------------

TEST(KernelsOpsOptimizers, AdamMatchesTorchFormulaOverSeveralSteps) {
  std::mt19937 rng(14);
  constexpr std::size_t n = 33;
  constexpr float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f;
  Floats param = uniform(n, -1, 1, rng), m(n, 0.0f), v(n, 0.0f);
  Doubles param64 = widen(param), m64(n, 0.0), v64(n, 0.0);
  // Steps 1-5 from zero state, then a late step where the bias corrections are ~1.
  for (const std::int64_t step : {1, 2, 3, 4, 5, 1000}) {
    Floats grad = uniform(n, -1, 1, rng);
    grad[0] = 0.0f;  // a parameter with no gradient yet: v = 0, the update is 0
    adam_step(param.data(), m.data(), v.data(), grad.data(), n, lr, beta1, beta2, eps, step);
    // torch.optim.Adam (single-tensor, no weight decay): step_size = lr / bc1,
    // denom = sqrt(v) / sqrt(bc2) + eps, param -= step_size * m / denom.
    const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
    for (std::size_t i = 0; i < n; ++i) {
      m64[i] = beta1 * m64[i] + (1.0 - beta1) * grad[i];
      v64[i] = beta2 * v64[i] + (1.0 - beta2) * grad[i] * grad[i];
      param64[i] -= lr / bc1 * m64[i] / (std::sqrt(v64[i]) / std::sqrt(bc2) + eps);
    }
    SCOPED_TRACE(fmt::format("step {}", step));
    // m, v: two roundings per step of terms up to ~1 that may cancel: half an ulp of 1 (6e-8)
    // per step absolute, plus relative drift ~1e-6 over 6 steps. param: |param| <= ~1.1 rounded
    // to float after each of 6 steps (6 * 6e-8) plus the update's own relative error (~1e-6 of
    // lr): 1e-6 absolute.
    expect_close(m, m64, 2e-6, 4e-7, "m");
    expect_close(v, v64, 2e-6, 1e-12, "v");
    expect_close(param, param64, 0.0, 1e-6, "param");
  }
}

}  // namespace
}  // namespace parbench::kernels::cpu

namespace {

// The arithmetic-only exp behind the LSTM gates (kernels/math.h): measured worst cases here are
// 7.9e-8 relative for exp on [-87, 88], 1.8e-7 absolute for tanh and 8.9e-8 for sigmoid;
// bounds leave about 2x of room and would catch a wrong coefficient or reduction constant.
TEST(KernelsOpsMath, ExpTanhSigmoidApproximations) {
  using namespace parbench::kernels;
  double worst_exp = 0, worst_tanh = 0, worst_sigmoid = 0;
  for (float x = -87.0f; x <= 88.0f; x += 7.3e-3f) {
    const double ref = std::exp(static_cast<double>(x));
    worst_exp = std::max(worst_exp, std::abs(exp_approx(x) - ref) / ref);
  }
  for (float x = -20.0f; x <= 20.0f; x += 1.1e-3f) {
    worst_tanh = std::max(worst_tanh, std::abs(tanh_approx(x) - std::tanh(static_cast<double>(x))));
    worst_sigmoid = std::max(worst_sigmoid, std::abs(sigmoidf(x) - 1.0 / (1.0 + std::exp(-static_cast<double>(x)))));
  }
  EXPECT_LT(worst_exp, 2e-7);
  EXPECT_LT(worst_tanh, 4e-7);
  EXPECT_LT(worst_sigmoid, 2e-7);
  // Saturation instead of overflow or NaN far outside the range.
  EXPECT_EQ(tanh_approx(1e4f), 1.0f);
  EXPECT_EQ(tanh_approx(-1e4f), -1.0f);
  EXPECT_LT(sigmoidf(-1e4f), 1e-30f);
  EXPECT_TRUE(std::isfinite(exp_approx(1e4f)));
}

}  // namespace
