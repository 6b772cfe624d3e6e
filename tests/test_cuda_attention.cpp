// The CUDA backend's additive attention (kernels/cuda/attention.cu) under the launch emulation,
// against the cpu backend's on the same inputs, at odd sizes and at the violence workload's
// D = 2H = 256 with T = 40 and A = 300 (not multiples of the warp or of the 8 warps per block).
// Tolerances are those a GPU needs, so that the same comparisons can run on a device: each is a
// worst-case rounding bound of the computation's reductions, propagated through the op from the
// inputs' magnitudes (computed here in double), rather than one constant for every shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cuda_emu_util.h"
#include "kernels/backend.h"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
namespace {

using test::DeviceArray;
using test::kUlp;
using test::random_vector;
using test::reduction_error;

// Absolute error of tanh_approx on the device, where exp_approx is __expf: below 1e-6 (the bound
// CudaOps.ActivationsMatchCpu checks); the CPU's is ~1e-7 and included in it.
constexpr double kTanhError = 1e-6;
// Relative error the softmax adds beyond its inputs': the device's expf within 2 ulps (glibc's
// within 1), sums in double on both, one rounding to normalise (CudaOps.SoftmaxMatchesCpu's 1e-6).
constexpr double kSoftmaxError = 1e-6;

// Sums are bounded by reduction_error (cuda_emu_util.h); callers count the accumulated-onto value
// or a final store as one more term.

std::vector<float> nans(std::size_t n) { return std::vector<float>(n, NAN); }

// Shapes (B, T, D, A): odd sizes; T = 1 (alpha = 1); T = 33 (the softmax warp takes two strides and
// the backward's 8 warps an uneven last turn); A = 1; and the violence workload's D with T = 40,
// A = 300.
constexpr AttentionShape kShapes[] = {{1, 1, 1, 1},   {3, 1, 17, 33}, {1, 3, 33, 17},
                                      {17, 33, 3, 1}, {3, 17, 33, 3}, {3, 40, 256, 300}};

std::string describe(const AttentionShape& s) {
  return "B " + std::to_string(s.batch) + " T " + std::to_string(s.steps) + " D " + std::to_string(s.features) + " A " +
         std::to_string(s.attention);
}

// Inputs in the ranges of a trained model: h in (-1, 1) as an LSTM's outputs; w scaled so that
// z = W h + b is O(1) (tanh neither linear nor saturated); v so that scores spread over a few units
// (a peaked, not uniform, softmax).
struct Problem {
  explicit Problem(const AttentionShape& s)
      : shape(s), rows(static_cast<std::size_t>(s.batch) * static_cast<std::size_t>(s.steps)),
        D(static_cast<std::size_t>(s.features)), A(static_cast<std::size_t>(s.attention)),
        T(static_cast<std::size_t>(s.steps)), h(random_vector(rows * D, 1.0, 11)),
        w(random_vector(A * D, 2.0 / std::sqrt(static_cast<double>(D)), 12)), b(random_vector(A, 0.5, 13)),
        v(random_vector(A, 6.0 / std::sqrt(static_cast<double>(A)), 14)),
        dcontext(random_vector(static_cast<std::size_t>(s.batch) * D, 1.0, 15)) {}

  AttentionShape shape;
  std::size_t rows, D, A, T;
  std::vector<float> h, w, b, v, dcontext;
};

class CudaAttention : public test::CublasTest {
 protected:
  // The cpu backend's forward: context (B, D), alpha (B, T), u (B*T, A).
  void cpu_forward(const Problem& p, std::vector<float>& context, std::vector<float>& alpha, std::vector<float>& u) {
    context.assign(static_cast<std::size_t>(p.shape.batch) * p.D, 0.0f);
    alpha.assign(p.rows, 0.0f);
    u.assign(p.rows * p.A, 0.0f);
    cpu->attention_forward(context.data(), alpha.data(), u.data(), p.h.data(), p.w.data(), p.b.data(), p.v.data(),
                           p.shape);
  }

  std::unique_ptr<Backend> cpu = make_backend("cpu");
};

// Each |got - expected| <= bound; the first failure is reported with its index.
void expect_within(const std::vector<float>& got, const std::vector<float>& expected, const std::vector<double>& bound,
                   const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], bound[i]) << what << " element " << i;
}

TEST_F(CudaAttention, ForwardMatchesCpuAndIsDeterministic) {
  for (const auto& shape : kShapes) {
    const Problem p(shape);
    const std::size_t B = static_cast<std::size_t>(shape.batch), D = p.D, A = p.A, T = p.T;
    std::vector<float> context, alpha, u;
    cpu_forward(p, context, alpha, u);

    // Outputs start as NaN: every element must be written.
    DeviceArray<float> d_h(p.h), d_w(p.w), d_b(p.b), d_v(p.v), d_context(nans(B * D)), d_alpha(nans(p.rows)),
        d_u(nans(p.rows * A));
    attention_forward(blas, d_context.get(), d_alpha.get(), d_u.get(), d_h.get(), d_w.get(), d_b.get(), d_v.get(),
                      shape, nullptr);
    const auto got_context = d_context.download(), got_alpha = d_alpha.download(), got_u = d_u.download();

    // u = tanh(z + b), z a GEMM over D: the reduction bound over D products and the bias, and the
    // device tanh's own error (tanh' <= 1 passes z's error on unchanged).
    // s = v . u over A: u's errors weighted by |v|, and the reduction bound over A.
    std::vector<double> u_bound(p.rows * A), score_bound(p.rows);
    for (std::size_t r = 0; r < p.rows; ++r) {
      double score_error = 0.0, score_magnitude = 0.0;
      for (std::size_t a = 0; a < A; ++a) {
        double z_magnitude = std::fabs(p.b[a]);
        for (std::size_t d = 0; d < D; ++d) z_magnitude += std::fabs(p.h[r * D + d] * p.w[a * D + d]);
        u_bound[r * A + a] = reduction_error(D + 1, z_magnitude) + kTanhError;
        score_error += std::fabs(p.v[a]) * u_bound[r * A + a];
        score_magnitude += std::fabs(p.v[a] * u[r * A + a]);
      }
      score_bound[r] = score_error + reduction_error(A, score_magnitude);
    }
    // alpha_t = exp(s_t - logsumexp s): log alpha_t moves by at most ds_t + max_t' ds_t', so alpha_t
    // by alpha_t times that (first order; the bounds above are worst cases with room to spare).
    // context_j = sum_t alpha_t h_tj: alpha's errors weighted by |h|, and the reduction bound over T.
    std::vector<double> alpha_bound(p.rows), context_bound(B * D);
    for (std::size_t s = 0; s < B; ++s) {
      double max_score_error = 0.0;
      for (std::size_t t = 0; t < T; ++t) max_score_error = std::max(max_score_error, score_bound[s * T + t]);
      for (std::size_t t = 0; t < T; ++t)
        alpha_bound[s * T + t] = alpha[s * T + t] * (score_bound[s * T + t] + max_score_error + kSoftmaxError);
      for (std::size_t d = 0; d < D; ++d) {
        double error = 0.0, magnitude = 0.0;
        for (std::size_t t = 0; t < T; ++t) {
          const double h_td = std::fabs(p.h[(s * T + t) * D + d]);
          error += alpha_bound[s * T + t] * h_td;
          magnitude += alpha[s * T + t] * h_td;
        }
        context_bound[s * D + d] = error + reduction_error(T, magnitude);
      }
    }
    expect_within(got_u, u, u_bound, "u, " + describe(shape));
    expect_within(got_alpha, alpha, alpha_bound, "alpha, " + describe(shape));
    expect_within(got_context, context, context_bound, "context, " + describe(shape));

    // Deterministic: fixed reduction orders, no atomics; a second call gives the same bits.
    attention_forward(blas, d_context.get(), d_alpha.get(), d_u.get(), d_h.get(), d_w.get(), d_b.get(), d_v.get(),
                      shape, nullptr);
    EXPECT_EQ(d_context.download(), got_context) << describe(shape);
    EXPECT_EQ(d_alpha.download(), got_alpha) << describe(shape);
    EXPECT_EQ(d_u.download(), got_u) << describe(shape);
  }
}

// Error bounds of the backward's gradients, from the same alpha and u on both sides (the CPU
// forward's), so that only the backward's rounding is measured; ds in double here for magnitudes.
struct BackwardBounds {
  std::vector<double> dh, dw, db, dv;
};

BackwardBounds backward_bounds(const Problem& p, const std::vector<float>& alpha, const std::vector<float>& u,
                               const std::vector<float>& dh0, const std::vector<float>& dw0,
                               const std::vector<float>& db0, const std::vector<float>& dv0) {
  const std::size_t B = static_cast<std::size_t>(p.shape.batch), D = p.D, A = p.A, T = p.T, rows = p.rows;
  // dalpha_t = dcontext . h_t: the device sums D products in float (the CPU in double).
  // weighted = sum_t alpha_t dalpha_t: double on both, so only dalpha's errors, weighted by alpha.
  // ds_t = alpha_t (dalpha_t - weighted): those errors times alpha_t, and the float store.
  std::vector<double> ds(rows), ds_bound(rows);
  for (std::size_t s = 0; s < B; ++s) {
    std::vector<double> dalpha(T), dalpha_bound(T);
    double weighted = 0.0, weighted_bound = 0.0;
    for (std::size_t t = 0; t < T; ++t) {
      double magnitude = 0.0;
      for (std::size_t d = 0; d < D; ++d) {
        const double term = static_cast<double>(p.dcontext[s * D + d]) * p.h[(s * T + t) * D + d];
        dalpha[t] += term;
        magnitude += std::fabs(term);
      }
      dalpha_bound[t] = reduction_error(D, magnitude);
      weighted += alpha[s * T + t] * dalpha[t];
      weighted_bound += alpha[s * T + t] * dalpha_bound[t];
    }
    for (std::size_t t = 0; t < T; ++t) {
      const double a_t = alpha[s * T + t];
      ds[s * T + t] = a_t * (dalpha[t] - weighted);
      ds_bound[s * T + t] = a_t * (dalpha_bound[t] + weighted_bound) + kUlp * std::fabs(ds[s * T + t]);
    }
  }
  BackwardBounds bounds{std::vector<double>(rows * D), std::vector<double>(A * D), std::vector<double>(A),
                        std::vector<double>(A)};
  // dz_ra = ds_r v_a (1 - u_ra^2): ds's error scaled, plus three roundings of the terms' magnitude.
  std::vector<double> dz(rows * A), dz_bound(rows * A);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t a = 0; a < A; ++a) {
      const double u_ra = u[r * A + a], slope = 1.0 - u_ra * u_ra;
      dz[r * A + a] = ds[r] * p.v[a] * slope;
      dz_bound[r * A + a] =
          ds_bound[r] * std::fabs(p.v[a]) * slope + 3 * kUlp * std::fabs(ds[r] * p.v[a]) * (1.0 + u_ra * u_ra);
    }
  // dv_a = dv0_a + sum_r ds_r u_ra: a GEMM over B*T rows.
  for (std::size_t a = 0; a < A; ++a) {
    double error = 0.0, magnitude = std::fabs(dv0[a]);
    for (std::size_t r = 0; r < rows; ++r) {
      error += ds_bound[r] * std::fabs(u[r * A + a]);
      magnitude += std::fabs(ds[r] * u[r * A + a]);
    }
    bounds.dv[a] = error + reduction_error(rows + 1, magnitude);
  }
  // db_a = db0_a + sum_r dz_ra: bias_backward sums in double on both sides (2 ulps, as
  // CudaOps.BiasAddAndBiasBackwardMatchCpu), so only dz's errors add up.
  for (std::size_t a = 0; a < A; ++a) {
    double error = 0.0, magnitude = std::fabs(db0[a]);
    for (std::size_t r = 0; r < rows; ++r) {
      error += dz_bound[r * A + a];
      magnitude += std::fabs(dz[r * A + a]);
    }
    bounds.db[a] = error + 2 * kUlp * magnitude;
  }
  // dw_ad = dw0_ad + sum_r dz_ra h_rd: a GEMM over B*T rows.
  std::vector<double> dw_magnitude(A * D);
  for (std::size_t i = 0; i < A * D; ++i) dw_magnitude[i] = std::fabs(dw0[i]);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t a = 0; a < A; ++a)
      for (std::size_t d = 0; d < D; ++d) {
        const double h_rd = std::fabs(p.h[r * D + d]);
        bounds.dw[a * D + d] += dz_bound[r * A + a] * h_rd;
        dw_magnitude[a * D + d] += std::fabs(dz[r * A + a]) * h_rd;
      }
  for (std::size_t i = 0; i < A * D; ++i) bounds.dw[i] += reduction_error(rows + 1, dw_magnitude[i]);
  // dh_rd = dh0_rd + alpha_r dcontext_d + sum_a dz_ra w_ad: the attention-weighted term, then a GEMM
  // over A (A + 2 terms in all).
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t d = 0; d < D; ++d) {
      double error = 0.0;
      double magnitude = std::fabs(dh0[r * D + d]) + std::fabs(alpha[r] * p.dcontext[(r / T) * D + d]);
      for (std::size_t a = 0; a < A; ++a) {
        const double w_ad = std::fabs(p.w[a * D + d]);
        error += dz_bound[r * A + a] * w_ad;
        magnitude += std::fabs(dz[r * A + a]) * w_ad;
      }
      bounds.dh[r * D + d] = error + reduction_error(A + 2, magnitude);
    }
  return bounds;
}

TEST_F(CudaAttention, BackwardMatchesCpuAccumulatesAndSkipsNullGradients) {
  // Which gradients are asked for: all; dh alone; the parameters alone; dv alone (the backward
  // stops before dz); none (nothing runs).
  struct Wanted {
    bool dh, dw, db, dv;
  };
  constexpr Wanted kWanted[] = {{true, true, true, true},
                                {true, false, false, false},
                                {false, true, true, false},
                                {false, false, false, true},
                                {false, false, false, false}};
  for (const auto& shape : kShapes) {
    const Problem p(shape);
    const std::size_t D = p.D, A = p.A;
    std::vector<float> context, alpha, u;
    cpu_forward(p, context, alpha, u);
    // Gradients accumulate: start from non-zero values.
    const auto dh0 = random_vector(p.rows * D, 1.0, 21), dw0 = random_vector(A * D, 1.0, 22),
               db0 = random_vector(A, 1.0, 23), dv0 = random_vector(A, 1.0, 24);
    const BackwardBounds bounds = backward_bounds(p, alpha, u, dh0, dw0, db0, dv0);

    DeviceArray<float> d_h(p.h), d_w(p.w), d_v(p.v), d_dcontext(p.dcontext), d_alpha(alpha), d_u(u),
        d_workspace(nans(attention_workspace_size(shape)));
    for (const auto& wanted : kWanted) {
      const std::string what = describe(shape) + ", gradients dh " + std::to_string(wanted.dh) + " dw " +
                               std::to_string(wanted.dw) + " db " + std::to_string(wanted.db) + " dv " +
                               std::to_string(wanted.dv);
      std::vector<float> dh = dh0, dw = dw0, db = db0, dv = dv0;
      std::vector<float> cpu_workspace(cpu->attention_workspace_size(shape));
      cpu->attention_backward(wanted.dh ? dh.data() : nullptr, wanted.dw ? dw.data() : nullptr,
                              wanted.db ? db.data() : nullptr, wanted.dv ? dv.data() : nullptr, cpu_workspace.data(),
                              p.dcontext.data(), p.h.data(), alpha.data(), u.data(), p.w.data(), p.v.data(), shape);

      DeviceArray<float> d_dh(dh0), d_dw(dw0), d_db(db0), d_dv(dv0);
      const auto run = [&] {
        attention_backward(blas, wanted.dh ? d_dh.get() : nullptr, wanted.dw ? d_dw.get() : nullptr,
                           wanted.db ? d_db.get() : nullptr, wanted.dv ? d_dv.get() : nullptr, d_workspace.get(),
                           d_dcontext.get(), d_h.get(), d_alpha.get(), d_u.get(), d_w.get(), d_v.get(), shape, nullptr);
      };
      run();
      const auto got_dh = d_dh.download(), got_dw = d_dw.download(), got_db = d_db.download(), got_dv = d_dv.download();
      // A gradient not asked for stays bit for bit as it was (its buffer was not passed: nothing
      // else may write there either).
      const auto check = [&](bool asked, const std::vector<float>& got, const std::vector<float>& expected,
                             const std::vector<float>& start, const std::vector<double>& bound, const char* name) {
        if (asked)
          expect_within(got, expected, bound, name + (", " + what));
        else
          EXPECT_EQ(got, start) << name << ", " << what;
      };
      check(wanted.dh, got_dh, dh, dh0, bounds.dh, "dh");
      check(wanted.dw, got_dw, dw, dw0, bounds.dw, "dw");
      check(wanted.db, got_db, db, db0, bounds.db, "db");
      check(wanted.dv, got_dv, dv, dv0, bounds.dv, "dv");

      // Deterministic: the same accumulation from the same start gives the same bits.
      d_dh.upload(dh0);
      d_dw.upload(dw0);
      d_db.upload(db0);
      d_dv.upload(dv0);
      run();
      EXPECT_EQ(d_dh.download(), got_dh) << what;
      EXPECT_EQ(d_dw.download(), got_dw) << what;
      EXPECT_EQ(d_db.download(), got_db) << what;
      EXPECT_EQ(d_dv.download(), got_dv) << what;
    }
  }
}

}  // namespace
}  // namespace parbench::kernels::cuda
