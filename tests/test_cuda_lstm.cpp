// The CUDA backend's native bidirectional LSTM (kernels/cuda/lstm.cu) under the launch emulation,
// against the CPU backend's (kernels/cpu/lstm.h) on the same inputs, at odd sizes and at the
// violence workload's H = 128 with T = 40 and a later layer's I = 2H = 256.
// Tolerances are those a GPU needs, as in test_cuda_attention.cpp: each element's bound on
// |GPU - CPU| is a rounding bound of every operation that makes it, propagated (first order) from a
// float64 reference of the same computation, rather than one constant for every shape: worst case,
// except for the sums that carry errors from step to step (see sum_rounding). The reserve layouts
// differ, so only reserve-independent outputs are compared.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "cuda_emu_util.h"
#include "kernels/backend.h"
#include "kernels/cpu/lstm.h"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
namespace {

using test::DeviceArray;
using test::kUlp;
using test::random_vector;
using test::reduction_error;

// Absolute error of sigmoidf and tanh_approx on the device, where exp_approx is __expf: below 1e-6
// (CudaOps.ActivationsMatchCpu); the CPU's is ~1e-7 and included in it.
constexpr double kActivationError = 1e-6;

// Worst-case roundings of a few operations: reduction_error (cuda_emu_util.h).

// Inside the recurrence the worst case compounds: a step's error reaches the next through
// sum_m |w_km| e_m, a factor sqrt(H) / 2 per step at PyTorch's init, 1e9 after the violence
// workload's 40 steps. So there the errors are treated as independent and zero-mean (Higham and
// Mary's probabilistic rounding error analysis, SIAM J. Sci. Comput. 2019): a sum of n roundings or
// of n weighted errors grows as the root of their sum of squares, and kSigmas of its standard
// deviation (u M per operation at most) bound it. The few operations of one cell stay worst case.
constexpr double kSigmas = 6.0;
double sum_rounding(std::size_t n, double magnitude) {
  return kSigmas * std::sqrt(static_cast<double>(n)) * kUlp * magnitude;
}

std::vector<float> nans(std::size_t n) { return std::vector<float>(n, NAN); }

// Shapes (B, T, I, H): a single step and unit; odd sizes; T = 33 with H = 17 (a block holds parts of
// several rows); 2BH = 400 threads (two blocks, the second partial) with H = 40, not a multiple of
// the warp; and the violence workload's H = 128, T = 40 with a later layer's I = 256 (B = 4 keeps
// the float64 bounds quick; B only multiplies the rows).
constexpr LstmShape kShapes[] = {{1, 1, 1, 1}, {3, 5, 7, 9}, {2, 33, 3, 17}, {5, 2, 33, 40}, {4, 40, 256, 128}};

std::string describe(const LstmShape& s) {
  return "B " + std::to_string(s.batch) + " T " + std::to_string(s.steps) + " I " + std::to_string(s.input) + " H " +
         std::to_string(s.hidden);
}

// Inputs as at the start of training: weights uniform in +-1/sqrt(H) (PyTorch's nn.LSTM init), x
// and dy in (-1, 1).
struct Problem {
  explicit Problem(const LstmShape& s)
      : shape(s), B(static_cast<std::size_t>(s.batch)), T(static_cast<std::size_t>(s.steps)),
        I(static_cast<std::size_t>(s.input)), H(static_cast<std::size_t>(s.hidden)), rows(B * T),
        x(random_vector(rows * I, 1.0, 31)), w_ih(random_vector(8 * H * I, 1.0 / std::sqrt(H), 32)),
        w_hh(random_vector(8 * H * H, 1.0 / std::sqrt(H), 33)), b_ih(random_vector(8 * H, 1.0 / std::sqrt(H), 34)),
        b_hh(random_vector(8 * H, 1.0 / std::sqrt(H), 35)), dy(random_vector(rows * 2 * H, 1.0, 36)) {}

  // Time of the s-th step of direction d (the reverse direction reads T-1 .. 0).
  std::size_t time(std::size_t d, std::size_t s) const { return d == 0 ? s : T - 1 - s; }

  LstmShape shape;
  std::size_t B, T, I, H, rows;
  std::vector<float> x, w_ih, w_hh, b_ih, b_hh, dy;
};

// The layer in float64 with, beside each value, a bound on |GPU - CPU| for it: each operation's
// rounding on both sides plus the bounds of its operands through its partial derivatives (first
// order: the bounds are ~1e-5 of the values, where the second-order terms vanish).
struct Reference {
  std::vector<double> act, act_bound;            // (B, T, 8H) i, f, g, o per direction
  std::vector<double> c, c_bound, tc, tc_bound;  // (B, T, 2H) c and tanh(c), columns as y
  std::vector<double> h, h_bound;                // (B, T, 2H) y
  std::vector<double> h_prev, h_prev_bound;      // (B, T, 2H) the h each step read, 0 at the first
  std::vector<double> dz, dz_bound;              // (B, T, 8H) d loss / d pre-activation gates
};

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

void reference_forward(const Problem& p, Reference& r) {
  const std::size_t H = p.H, I = p.I;
  r.act.assign(p.rows * 8 * H, 0.0);
  r.act_bound = r.act;
  r.c.assign(p.rows * 2 * H, 0.0);
  r.c_bound = r.tc = r.tc_bound = r.h = r.h_bound = r.h_prev = r.h_prev_bound = r.c;
  std::vector<double> z(4 * H), z_bound(4 * H);
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t s = 0; s < p.T; ++s)
      for (std::size_t b = 0; b < p.B; ++b) {
        const std::size_t row = b * p.T + p.time(d, s), prev = s > 0 ? b * p.T + p.time(d, s - 1) : 0;
        // z = x w_ih^T + h_prev w_hh^T + b_ih + b_hh: a sum of I + H + 2 terms (+1 for the GPU's
        // separate add of the recurrent part), and h_prev's errors through w_hh, both as sum_rounding.
        for (std::size_t k = 0; k < 4 * H; ++k) {
          const std::size_t unit = d * 4 * H + k;
          double sum = static_cast<double>(p.b_ih[unit]) + p.b_hh[unit];
          double magnitude = std::fabs(p.b_ih[unit]) + std::fabs(p.b_hh[unit]), propagated = 0.0;
          for (std::size_t i = 0; i < I; ++i) {
            const double term = static_cast<double>(p.x[row * I + i]) * p.w_ih[unit * I + i];
            sum += term;
            magnitude += std::fabs(term);
          }
          if (s > 0)
            for (std::size_t m = 0; m < H; ++m) {
              const std::size_t hm = prev * 2 * H + d * H + m;
              const double w = p.w_hh[unit * H + m];
              sum += r.h[hm] * w;
              magnitude += std::fabs(r.h[hm] * w);
              propagated += w * w * r.h_bound[hm] * r.h_bound[hm];
            }
          z[k] = sum;
          z_bound[k] = std::sqrt(propagated) + sum_rounding(I + H + 3, magnitude);
        }
        for (std::size_t j = 0; j < H; ++j) {
          const std::size_t gate = row * 8 * H + d * 4 * H + j, out = row * 2 * H + d * H + j;
          const std::size_t out_prev = prev * 2 * H + d * H + j;
          // sigmoid' = s (1 - s) and tanh' = 1 - tanh^2 carry z's errors, plus the functions' own.
          const double in = sigmoid(z[j]), f = sigmoid(z[H + j]), g = std::tanh(z[2 * H + j]),
                       o = sigmoid(z[3 * H + j]);
          const double e_in = in * (1 - in) * z_bound[j] + kActivationError;
          const double e_f = f * (1 - f) * z_bound[H + j] + kActivationError;
          const double e_g = (1 - g * g) * z_bound[2 * H + j] + kActivationError;
          const double e_o = o * (1 - o) * z_bound[3 * H + j] + kActivationError;
          const double cp = s > 0 ? r.c[out_prev] : 0.0, e_cp = s > 0 ? r.c_bound[out_prev] : 0.0;
          // c = f c_prev + i g (3 operations); tanh(c); h = o tanh(c) (1 operation).
          const double c = f * cp + in * g;
          const double e_c = e_f * std::fabs(cp) + f * e_cp + e_in * std::fabs(g) + in * e_g +
                             reduction_error(3, f * std::fabs(cp) + in * std::fabs(g));
          const double tc = std::tanh(c), e_tc = (1 - tc * tc) * e_c + kActivationError;
          const double h = o * tc;
          const double e_h = e_o * std::fabs(tc) + o * e_tc + reduction_error(1, std::fabs(h));
          r.act[gate] = in;
          r.act[gate + H] = f;
          r.act[gate + 2 * H] = g;
          r.act[gate + 3 * H] = o;
          r.act_bound[gate] = e_in;
          r.act_bound[gate + H] = e_f;
          r.act_bound[gate + 2 * H] = e_g;
          r.act_bound[gate + 3 * H] = e_o;
          r.c[out] = c;
          r.c_bound[out] = e_c;
          r.tc[out] = tc;
          r.tc_bound[out] = e_tc;
          r.h[out] = h;
          r.h_bound[out] = e_h;
          r.h_prev[out] = s > 0 ? r.h[out_prev] : 0.0;
          r.h_prev_bound[out] = s > 0 ? r.h_bound[out_prev] : 0.0;
        }
      }
}

// BPTT as the kernels do it (the CPU's cell_backward), each formula's bound from its operands'.
void reference_backward(const Problem& p, Reference& r) {
  const std::size_t H = p.H;
  r.dz.assign(p.rows * 8 * H, 0.0);
  r.dz_bound = r.dz;
  for (std::size_t d = 0; d < 2; ++d) {
    // Per batch row (B, H): dh reaching the step from the next one, and dc flowing back.
    std::vector<double> dh_rec(p.B * H), dh_rec_bound(p.B * H), dc(p.B * H), dc_bound(p.B * H);
    for (std::size_t s = p.T; s-- > 0;) {
      for (std::size_t b = 0; b < p.B; ++b)
        for (std::size_t j = 0; j < H; ++j) {
          const std::size_t row = b * p.T + p.time(d, s), gate = row * 8 * H + d * 4 * H + j;
          const std::size_t out = row * 2 * H + d * H + j, state = b * H + j;
          const double in = r.act[gate], f = r.act[gate + H], g = r.act[gate + 2 * H], o = r.act[gate + 3 * H];
          const double e_in = r.act_bound[gate], e_f = r.act_bound[gate + H], e_g = r.act_bound[gate + 2 * H],
                       e_o = r.act_bound[gate + 3 * H];
          const double tc = r.tc[out], e_tc = r.tc_bound[out];
          const std::size_t out_prev = s > 0 ? (b * p.T + p.time(d, s - 1)) * 2 * H + d * H + j : 0;
          const double c_prev = s > 0 ? r.c[out_prev] : 0.0, e_cp = s > 0 ? r.c_bound[out_prev] : 0.0;
          // dh = dy + dh_rec (1 operation)
          const double dy = p.dy[out], dh = dy + dh_rec[state];
          const double e_dh = dh_rec_bound[state] + reduction_error(1, std::fabs(dy) + std::fabs(dh_rec[state]));
          // dc' = dc + dh o (1 - tc^2) (5 operations)
          const double slope = 1 - tc * tc, dcj = dc[state] + dh * o * slope;
          const double e_dcj = dc_bound[state] + (e_dh * o + std::fabs(dh) * e_o) * slope +
                               std::fabs(dh) * o * 2 * std::fabs(tc) * e_tc +
                               reduction_error(5, std::fabs(dc[state]) + std::fabs(dh) * o * (1 + tc * tc));
          const double adcj = std::fabs(dcj), adh = std::fabs(dh), ag = std::fabs(g), atc = std::fabs(tc),
                       acp = std::fabs(c_prev);
          // Each dz a product of four factors, one of them 1 - a or 1 - a^2 (4 operations).
          const double dz[4] = {dcj * g * in * (1 - in), dcj * c_prev * f * (1 - f), dcj * in * (1 - g * g),
                                dh * tc * o * (1 - o)};
          const double dz_bound[4] = {
              e_dcj * ag * in * (1 - in) + adcj * e_g * in * (1 - in) + adcj * ag * e_in * std::fabs(1 - 2 * in) +
                  reduction_error(4, adcj * ag * in * (1 + in)),
              e_dcj * acp * f * (1 - f) + adcj * e_cp * f * (1 - f) + adcj * acp * e_f * std::fabs(1 - 2 * f) +
                  reduction_error(4, adcj * acp * f * (1 + f)),
              e_dcj * in * (1 - g * g) + adcj * e_in * (1 - g * g) + adcj * in * 2 * ag * e_g +
                  reduction_error(4, adcj * in * (1 + g * g)),
              e_dh * atc * o * (1 - o) + adh * e_tc * o * (1 - o) + adh * atc * e_o * std::fabs(1 - 2 * o) +
                  reduction_error(4, adh * atc * o * (1 + o))};
          for (std::size_t k = 0; k < 4; ++k) {
            r.dz[gate + k * H] = dz[k];
            r.dz_bound[gate + k * H] = dz_bound[k];
          }
          // dc flowing on = dc' f (1 operation)
          dc[state] = dcj * f;
          dc_bound[state] = e_dcj * f + adcj * e_f + reduction_error(1, adcj * f);
        }
      if (s == 0) break;
      // dh_rec (B, H) = dz (B, 4H) w_hh (4H, H): dz's errors through w_hh and a sum of 4H terms, both
      // as sum_rounding (the next step's dz carries them on).
      for (std::size_t b = 0; b < p.B; ++b) {
        const std::size_t gates = (b * p.T + p.time(d, s)) * 8 * H + d * 4 * H;
        for (std::size_t m = 0; m < H; ++m) {
          double sum = 0.0, magnitude = 0.0, propagated = 0.0;
          for (std::size_t k = 0; k < 4 * H; ++k) {
            const double w = p.w_hh[(d * 4 * H + k) * H + m];
            sum += r.dz[gates + k] * w;
            magnitude += std::fabs(r.dz[gates + k] * w);
            propagated += r.dz_bound[gates + k] * r.dz_bound[gates + k] * w * w;
          }
          dh_rec[b * H + m] = sum;
          dh_rec_bound[b * H + m] = std::sqrt(propagated) + sum_rounding(4 * H, magnitude);
        }
      }
    }
  }
}

// Gradients as the layer takes them: dx (B, T, I), dw_ih (2, 4H, I), dw_hh (2, 4H, H), db_ih and
// db_hh (2, 4H).
struct Gradients {
  std::vector<float> dx, dw_ih, dw_hh, db_ih, db_hh;
};
struct GradientBounds {
  std::vector<double> dx, dw_ih, dw_hh, db_ih, db_hh;
};

// Gradients accumulate: the tests start from non-zero values.
Gradients random_gradients(const Problem& p) {
  return {random_vector(p.rows * p.I, 1.0, 41), random_vector(8 * p.H * p.I, 1.0, 42),
          random_vector(8 * p.H * p.H, 1.0, 43), random_vector(8 * p.H, 1.0, 44), random_vector(8 * p.H, 1.0, 45)};
}

// Bounds after `calls` backward calls from `start`: each gradient is start + calls times a sum of
// products with dz (over B*T rows for the weights and biases, over 8H gates for dx), so dz's and
// h_prev's errors weighted by the other factor, plus a float sum of calls * terms + 1 (the bias
// sums are in double on the GPU, in float on the CPU: the float bound covers both).
GradientBounds gradient_bounds(const Problem& p, const Reference& r, const Gradients& start, int calls) {
  const std::size_t H = p.H, I = p.I, G = 8 * H;
  const auto n = static_cast<double>(calls);
  std::vector<double> dx_error(p.rows * I), dx_magnitude(p.rows * I), dw_ih_error(G * I), dw_ih_magnitude(G * I),
      dw_hh_error(G * H), dw_hh_magnitude(G * H), db_error(G), db_magnitude(G);
  for (std::size_t row = 0; row < p.rows; ++row)
    for (std::size_t u = 0; u < G; ++u) {
      const double dz = std::fabs(r.dz[row * G + u]), e_dz = r.dz_bound[row * G + u];
      db_error[u] += e_dz;
      db_magnitude[u] += dz;
      for (std::size_t i = 0; i < I; ++i) {
        const double x = std::fabs(p.x[row * I + i]), w = std::fabs(p.w_ih[u * I + i]);
        dw_ih_error[u * I + i] += e_dz * x;
        dw_ih_magnitude[u * I + i] += dz * x;
        dx_error[row * I + i] += e_dz * w;
        dx_magnitude[row * I + i] += dz * w;
      }
      const std::size_t d = u / (4 * H);  // the direction whose h_prev columns pair with gate u
      for (std::size_t m = 0; m < H; ++m) {
        const std::size_t hm = row * 2 * H + d * H + m;
        dw_hh_error[u * H + m] += e_dz * std::fabs(r.h_prev[hm]) + dz * r.h_prev_bound[hm];
        dw_hh_magnitude[u * H + m] += dz * std::fabs(r.h_prev[hm]);
      }
    }
  const auto finish = [n, calls](const std::vector<double>& error, const std::vector<double>& magnitude,
                                 const std::vector<float>& initial, std::size_t terms) {
    std::vector<double> bound(error.size());
    for (std::size_t i = 0; i < bound.size(); ++i)
      bound[i] = n * error[i] +
                 reduction_error(static_cast<std::size_t>(calls) * terms + 1, std::fabs(initial[i]) + n * magnitude[i]);
    return bound;
  };
  return {finish(dx_error, dx_magnitude, start.dx, G), finish(dw_ih_error, dw_ih_magnitude, start.dw_ih, p.rows),
          finish(dw_hh_error, dw_hh_magnitude, start.dw_hh, p.rows),
          finish(db_error, db_magnitude, start.db_ih, p.rows), finish(db_error, db_magnitude, start.db_hh, p.rows)};
}

// Each |got - expected| <= bound; the first failure is reported with its index.
void expect_within(const std::vector<float>& got, const std::vector<float>& expected, const std::vector<double>& bound,
                   const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  ASSERT_EQ(got.size(), bound.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], bound[i]) << what << " element " << i;
}

void expect_within(const Gradients& got, const Gradients& expected, const GradientBounds& bound,
                   const std::string& what) {
  expect_within(got.dx, expected.dx, bound.dx, "dx, " + what);
  expect_within(got.dw_ih, expected.dw_ih, bound.dw_ih, "dw_ih, " + what);
  expect_within(got.dw_hh, expected.dw_hh, bound.dw_hh, "dw_hh, " + what);
  expect_within(got.db_ih, expected.db_ih, bound.db_ih, "db_ih, " + what);
  expect_within(got.db_hh, expected.db_hh, bound.db_hh, "db_hh, " + what);
}

void expect_equal(const Gradients& got, const Gradients& expected, const std::string& what) {
  EXPECT_EQ(got.dx, expected.dx) << "dx, " << what;
  EXPECT_EQ(got.dw_ih, expected.dw_ih) << "dw_ih, " << what;
  EXPECT_EQ(got.dw_hh, expected.dw_hh) << "dw_hh, " << what;
  EXPECT_EQ(got.db_ih, expected.db_ih) << "db_ih, " << what;
  EXPECT_EQ(got.db_hh, expected.db_hh) << "db_hh, " << what;
}

// The problem's inputs in device memory, and the layer's forward outputs (the GPU's own).
struct DeviceLayer {
  explicit DeviceLayer(const Problem& p)
      : x(p.x), w_ih(p.w_ih), w_hh(p.w_hh), b_ih(p.b_ih), b_hh(p.b_hh), dy(p.dy), y(nans(p.rows * 2 * p.H)),
        reserve(nans(lstm_reserve_size(p.shape))) {}
  DeviceArray<float> x, w_ih, w_hh, b_ih, b_hh, dy, y, reserve;
};

struct DeviceGradients {
  explicit DeviceGradients(const Gradients& g)
      : dx(g.dx), dw_ih(g.dw_ih), dw_hh(g.dw_hh), db_ih(g.db_ih), db_hh(g.db_hh) {}
  void upload(const Gradients& g) {
    dx.upload(g.dx);
    dw_ih.upload(g.dw_ih);
    dw_hh.upload(g.dw_hh);
    db_ih.upload(g.db_ih);
    db_hh.upload(g.db_hh);
  }
  Gradients download() const {
    return {dx.download(), dw_ih.download(), dw_hh.download(), db_ih.download(), db_hh.download()};
  }
  DeviceArray<float> dx, dw_ih, dw_hh, db_ih, db_hh;
};

class CudaLstm : public test::CublasTest {
 protected:
  // The layer's forward on the GPU into layer.y and layer.reserve; the workspace starts as NaN, so
  // a read of state that the step has not written shows in the outputs.
  void forward(DeviceLayer& layer, const Problem& p) {
    DeviceArray<float> workspace(nans(lstm_workspace_size(p.shape)));
    lstm_forward(blas, layer.y.get(), layer.reserve.get(), workspace.get(), layer.x.get(), layer.w_ih.get(),
                 layer.w_hh.get(), layer.b_ih.get(), layer.b_hh.get(), p.shape, nullptr);
  }
};

// The CPU backend's forward (one BLAS thread): y (B, T, 2H) and its reserve.
void cpu_forward(const Problem& p, std::vector<float>& y, std::vector<float>& reserve) {
  y.assign(p.rows * 2 * p.H, 0.0f);
  reserve.assign(cpu::lstm_reserve_size(p.shape), 0.0f);
  cpu::lstm_forward(y.data(), reserve.data(), nullptr, p.x.data(), p.w_ih.data(), p.w_hh.data(), p.b_ih.data(),
                    p.b_hh.data(), p.shape, 1);
}

TEST_F(CudaLstm, ForwardMatchesCpuAndIsDeterministic) {
  for (const auto& shape : kShapes) {
    const Problem p(shape);
    Reference r;
    reference_forward(p, r);
    std::vector<float> y, reserve;
    cpu_forward(p, y, reserve);

    DeviceLayer layer(p);  // outputs start as NaN: every element must be written
    forward(layer, p);
    const auto got_y = layer.y.download(), got_reserve = layer.reserve.download();
    expect_within(got_y, y, r.h_bound, "y, " + describe(shape));

    // Deterministic: no atomics, fixed GEMMs; a second call gives the same bits.
    forward(layer, p);
    EXPECT_EQ(layer.y.download(), got_y) << describe(shape);
    EXPECT_EQ(layer.reserve.download(), got_reserve) << describe(shape);
  }
}

TEST_F(CudaLstm, BackwardMatchesCpuAccumulatesAndSkipsNullDx) {
  for (const auto& shape : kShapes) {
    const std::string what = describe(shape);
    const Problem p(shape);
    Reference r;
    reference_forward(p, r);
    reference_backward(p, r);
    const Gradients start = random_gradients(p);

    // The CPU backend: one backward call from `start`, then a second into the same buffers.
    std::vector<float> y, reserve, workspace(cpu::lstm_workspace_size(shape));
    cpu_forward(p, y, reserve);
    const auto cpu_backward = [&](Gradients& g) {
      cpu::lstm_backward(g.dx.data(), g.dw_ih.data(), g.dw_hh.data(), g.db_ih.data(), g.db_hh.data(), workspace.data(),
                         p.dy.data(), p.x.data(), y.data(), reserve.data(), p.w_ih.data(), p.w_hh.data(), shape, 1);
    };
    Gradients once = start;
    cpu_backward(once);
    Gradients twice = once;
    cpu_backward(twice);

    // The GPU's, from its own forward; the workspace starts as NaN (see forward()).
    DeviceLayer layer(p);
    forward(layer, p);
    DeviceArray<float> d_workspace(nans(lstm_workspace_size(shape)));
    DeviceGradients d(start);
    const auto run = [&](bool with_dx) {
      lstm_backward(blas, with_dx ? d.dx.get() : nullptr, d.dw_ih.get(), d.dw_hh.get(), d.db_ih.get(), d.db_hh.get(),
                    d_workspace.get(), layer.dy.get(), layer.x.get(), layer.y.get(), layer.reserve.get(),
                    layer.w_ih.get(), layer.w_hh.get(), shape, nullptr);
    };
    run(true);
    const Gradients got = d.download();
    expect_within(got, once, gradient_bounds(p, r, start, 1), "one call, " + what);

    // Deterministic: the same accumulation from the same start gives the same bits.
    d.upload(start);
    run(true);
    expect_equal(d.download(), got, "second run, " + what);

    // Gradients accumulate: a second call adds as much again.
    run(true);
    expect_within(d.download(), twice, gradient_bounds(p, r, start, 2), "two calls, " + what);

    // dx = nullptr: the other gradients are the same bits, and dx's buffer is not touched.
    d.upload(start);
    run(false);
    Gradients expected = got;
    expected.dx = start.dx;
    expect_equal(d.download(), expected, "dx nullptr, " + what);
  }
}

}  // namespace
}  // namespace parbench::kernels::cuda
