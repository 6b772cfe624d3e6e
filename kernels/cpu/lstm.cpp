// CPU bidirectional LSTM layer with PyTorch nn.LSTM(bidirectional=True) semantics over CBLAS.
// Forward: one GEMM for the input side of every step and both directions, then per direction and
// step one GEMM h W_hh^T and the fused cell (kernels/math.h). Backward: BPTT per direction into
// pre-activation gate gradients, then the weight and input gradients as a few large GEMMs.
#include "kernels/cpu/lstm.h"

#include <omp.h>

#include <algorithm>

#include "core/check.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/clones.h"
#include "kernels/math.h"

namespace parbench::kernels::cpu {
namespace {

// Everything per step and batch row keeps the (B, T, ...) order of x and y, so the one-shot GEMMs
// see x, y, gates and dgates as plain (B*T, width) matrices with no transposition pass; one step's
// (B, width) block is then a matrix with row stride T * width, which GEMM takes as its leading
// dimension. Offsets in floats:
//
// reserve (kept from forward to backward)
//   gates  (B, T, 8H)   post-activation i, f, g, o; forward direction in [0, 4H), reverse in
//                       [4H, 8H). The input GEMM writes pre-activations here, the cell overwrites them.
//   cell   (B, T, 2H)   c, columns as y
//   tanh_c (B, T, 2H)   tanh(c), kept so that backward evaluates no transcendental function
// workspace (backward only)
//   dgates (B, T, 8H)   d loss / d pre-activation gates, columns as gates
//   h_prev (2, B, T, H) per direction, the hidden state each step read (zero at its first step),
//                       so that dW_hh is one GEMM over all steps
//   dh_rec (2, B, H)    per direction, dh reaching a step through the recurrence from the next one
//   dc     (2, B, H)    per direction, dc flowing to the previous step
//   dbias  (8H)         column sums of dgates
struct Layout {
  int B, T, I, H;
  std::size_t rows;  // B * T

  explicit Layout(const LstmShape& s)
      : B(s.batch), T(s.steps), I(s.input), H(s.hidden), rows(static_cast<std::size_t>(B) * T) {}
  std::size_t h() const { return static_cast<std::size_t>(H); }

  std::size_t gates() const { return 0; }
  std::size_t cell() const { return rows * 8 * h(); }
  std::size_t tanh_c() const { return rows * 10 * h(); }
  std::size_t reserve_size() const { return rows * 12 * h(); }

  std::size_t dgates() const { return 0; }
  std::size_t h_prev(int d) const { return rows * (8 + d) * h(); }
  std::size_t dh_rec(int d) const { return rows * 10 * h() + static_cast<std::size_t>(d) * B * h(); }
  std::size_t dc(int d) const { return rows * 10 * h() + static_cast<std::size_t>(2 + d) * B * h(); }
  std::size_t dbias() const { return rows * 10 * h() + 4 * static_cast<std::size_t>(B) * h(); }
  std::size_t workspace_size() const { return dbias() + 8 * h(); }

  // Time index of the s-th step direction d processes: the reverse direction reads T-1 .. 0.
  int time(int d, int s) const { return d == 0 ? s : T - 1 - s; }
  // Row (b, t) of a (B, T, .) tensor.
  std::size_t row(int b, int t) const { return static_cast<std::size_t>(b) * T + t; }
};

void check_arguments(const LstmShape& s, int threads) {
  PB_CHECK(s.batch > 0 && s.steps > 0 && s.input > 0 && s.hidden > 0, "LSTM shape B={} T={} I={} H={}", s.batch,
           s.steps, s.input, s.hidden);
  PB_CHECK(threads >= 1, "threads = {}", threads);
}

// Sets the calling thread's BLAS thread count for a scope and gives the caller's back on exit.
class BlasThreadScope {
 public:
  BlasThreadScope() : saved_(blas_threads()), current_(saved_) {}
  ~BlasThreadScope() { use(saved_); }
  BlasThreadScope(const BlasThreadScope&) = delete;
  BlasThreadScope& operator=(const BlasThreadScope&) = delete;
  void use(int threads) {
    if (threads != current_) set_blas_threads(threads);
    current_ = threads;
  }

 private:
  int saved_;
  int current_;
};

// Runs f(0) and f(1), the two directions, each with one BLAS thread: the per-step GEMMs are too
// small to split. With threads >= 2 they run concurrently on two OpenMP threads (dnnl_sgemm is
// thread-safe, and inside the region its own parallelism is nested, hence off). OpenMP, not
// oneTBB: the OpenMP workers of the GEMM just before still spin on the cores, and a TBB thread
// would wait for them (the violence step at 2 threads went from 1.54x to 1.86x of 1 thread).
// The directions write disjoint columns and blocks, so the results do not depend on the order;
// f must not throw (an OpenMP region cannot pass an exception on).
template <class F>
void for_each_direction(BlasThreadScope& blas, int threads, const F& f) {
  blas.use(1);
  if (threads >= 2) {
#pragma omp parallel num_threads(2)
    f(omp_get_thread_num());
  } else {
    f(0);
    f(1);
  }
}

// The recurrence of direction d; gates hold x W_ih^T for every step on entry.
// One batch row of one step: gates z (4H: pre-activations in, activations i, f, g, o out), and
// c, tanh(c), h (H each). A template on whether there is a previous cell state, so that the loop
// holds no branch or conditional load and vectorizes; cloned for AVX-512 and AVX2 (chosen at load
// time), since the portable build targets SSE2.
template <bool kHasPrevious>
PARBENCH_CPU_CLONES void cell_forward(float* __restrict z, float* __restrict c, float* __restrict tanh_c,
                                      float* __restrict h, const float* __restrict c_prev,
                                      const float* __restrict bias_ih, const float* __restrict bias_hh, std::size_t H) {
  for (std::size_t j = 0; j < H; ++j) {
    const LstmCell s =
        lstm_cell(z[j] + (bias_ih[j] + bias_hh[j]), z[H + j] + (bias_ih[H + j] + bias_hh[H + j]),
                  z[2 * H + j] + (bias_ih[2 * H + j] + bias_hh[2 * H + j]),
                  z[3 * H + j] + (bias_ih[3 * H + j] + bias_hh[3 * H + j]), kHasPrevious ? c_prev[j] : 0.0f);
    z[j] = s.i;
    z[H + j] = s.f;
    z[2 * H + j] = s.g;
    z[3 * H + j] = s.o;
    c[j] = s.c;
    tanh_c[j] = s.tanh_c;
    h[j] = s.h;
  }
}

void forward_direction(int d, float* y, float* reserve, const float* w_hh, const float* b_ih, const float* b_hh,
                       const Layout& L) {
  const std::size_t H = L.h();
  float* gates = reserve + L.gates();         // (B, T, 8H)
  float* cell = reserve + L.cell();           // (B, T, 2H)
  float* tanh_c = reserve + L.tanh_c();       // (B, T, 2H)
  const float* w = w_hh + d * (4 * H * H);    // (4H, H)
  const float* bias_ih = b_ih + d * (4 * H);  // (4H)
  const float* bias_hh = b_hh + d * (4 * H);  // (4H)
  for (int s = 0; s < L.T; ++s) {
    const int t = L.time(d, s);
    const int t_prev = s > 0 ? L.time(d, s - 1) : -1;      // the step whose h and c this one reads
    float* z = gates + L.row(0, t) * 8 * H + d * (4 * H);  // (B, 4H), row stride T * 8H
    // z += h_prev (B, H) W_hh^T; h_prev = 0 at the first step, so there is nothing to add.
    if (s > 0) {
      sgemm(z, L.T * 8 * L.H, y + L.row(0, t_prev) * 2 * H + d * H, L.T * 2 * L.H, w, L.H, L.B, 4 * L.H, L.H, Trans::no,
            Trans::yes, 1.0f, 1.0f);
    }
    for (int b = 0; b < L.B; ++b) {
      float* zb = gates + L.row(b, t) * 8 * H + d * (4 * H);  // (4H): pre-activations in, activations out
      const std::size_t out = L.row(b, t) * 2 * H + d * H;    // this direction's H columns of y, cell, tanh_c
      if (s > 0) {
        cell_forward<true>(zb, cell + out, tanh_c + out, y + out, cell + L.row(b, t_prev) * 2 * H + d * H, bias_ih,
                           bias_hh, H);
      } else {
        cell_forward<false>(zb, cell + out, tanh_c + out, y + out, nullptr, bias_ih, bias_hh, H);
      }
    }
  }
}

// One batch row of one step, from the stored activations, through kernels/math.h's
// lstm_cell_backward with dh = dy + dh_rec (the GPU's kernel calls the same function). kFirst: the
// direction's first step, where c_prev = 0 (a compile-time branch, so the loop stays free of
// control flow and vectorizes; cloned for AVX-512 and AVX2 like cell_forward).
template <bool kFirst>
PARBENCH_CPU_CLONES void cell_backward(float* __restrict dz, float* __restrict dc, const float* __restrict dh_rec,
                                       const float* __restrict dy, const float* __restrict act,
                                       const float* __restrict c_prev, const float* __restrict tanh_c, std::size_t H) {
  // dz (4H) out; dc (H) in and out; dh_rec, dy, c_prev (unused if kFirst), tanh_c (H); act (4H) = i, f, g, o.
  for (std::size_t j = 0; j < H; ++j) {
    const LstmCellGrad grad = lstm_cell_backward(act[j], act[H + j], act[2 * H + j], act[3 * H + j], tanh_c[j],
                                                 kFirst ? 0.0f : c_prev[j], dy[j] + dh_rec[j], dc[j]);
    dz[j] = grad.zi;
    dz[H + j] = grad.zf;
    dz[2 * H + j] = grad.zg;
    dz[3 * H + j] = grad.zo;
    dc[j] = grad.dc_prev;
  }
}

// BPTT of direction d into its dgates columns, then what only needs this direction: dW_hh and the
// column sums of dgates.
void backward_direction(int d, float* dw_hh, float* workspace, const float* dy, const float* y, const float* reserve,
                        const float* w_hh, const Layout& L) {
  const std::size_t H = L.h();
  const float* gates = reserve + L.gates();            // (B, T, 8H) activations
  const float* cell = reserve + L.cell();              // (B, T, 2H)
  const float* tanh_c = reserve + L.tanh_c();          // (B, T, 2H)
  const float* w = w_hh + d * (4 * H * H);             // (4H, H)
  float* dgates = workspace + L.dgates();              // (B, T, 8H)
  float* h_prev = workspace + L.h_prev(d);             // (B, T, H)
  float* dh_rec = workspace + L.dh_rec(d);             // (B, H)
  float* dc = workspace + L.dc(d);                     // (B, H)
  float* dbias = workspace + L.dbias() + d * (4 * H);  // (4H)

  // Nothing flows into the direction's last step from a later one.
  std::fill_n(dh_rec, L.B * H, 0.0f);
  std::fill_n(dc, L.B * H, 0.0f);
  for (int s = L.T - 1; s >= 0; --s) {
    const int t = L.time(d, s);
    const int t_prev = s > 0 ? L.time(d, s - 1) : -1;
    for (int b = 0; b < L.B; ++b) {
      const std::size_t r = L.row(b, t);
      float* dz = dgates + r * 8 * H + d * (4 * H);        // (4H)
      const float* act = gates + r * 8 * H + d * (4 * H);  // (4H)
      const std::size_t out = r * 2 * H + d * H;           // this direction's H columns of dy and tanh_c
      if (s > 0) {
        cell_backward<false>(dz, dc + b * H, dh_rec + b * H, dy + out, act, cell + L.row(b, t_prev) * 2 * H + d * H,
                             tanh_c + out, H);
      } else {
        cell_backward<true>(dz, dc + b * H, dh_rec + b * H, dy + out, act, nullptr, tanh_c + out, H);
      }
    }
    // dh_rec (B, H) = dz (B, 4H) W_hh (4H, H): the gradient reaching h_prev through this step.
    if (s > 0) {
      sgemm(dh_rec, L.H, dgates + L.row(0, t) * 8 * H + d * (4 * H), L.T * 8 * L.H, w, L.H, L.B, L.H, 4 * L.H,
            Trans::no, Trans::no, 1.0f, 0.0f);
    }
  }

  // dW_hh (4H, H) += dz^T (4H, B*T) h_prev (B*T, H), all steps in one GEMM.
  for (int b = 0; b < L.B; ++b) {
    for (int s = 0; s < L.T; ++s) {
      float* dst = h_prev + L.row(b, L.time(d, s)) * H;
      if (s == 0) {
        std::fill_n(dst, H, 0.0f);
      } else {
        std::copy_n(y + L.row(b, L.time(d, s - 1)) * 2 * H + d * H, H, dst);
      }
    }
  }
  sgemm(dw_hh + d * (4 * H * H), L.H, dgates + d * (4 * H), 8 * L.H, h_prev, L.H, 4 * L.H, L.H,
        static_cast<int>(L.rows), Trans::yes, Trans::no, 1.0f, 1.0f);

  // db_ih and db_hh both receive the column sums (the pre-activation adds both biases), summed
  // once here in a fixed order.
  std::fill_n(dbias, 4 * H, 0.0f);
  for (std::size_t r = 0; r < L.rows; ++r) {
    const float* dz = dgates + r * 8 * H + d * (4 * H);  // (4H)
    for (std::size_t j = 0; j < 4 * H; ++j) dbias[j] += dz[j];
  }
}

}  // namespace

std::size_t lstm_reserve_size(const LstmShape& s) { return Layout(s).reserve_size(); }

std::size_t lstm_workspace_size(const LstmShape& s) { return Layout(s).workspace_size(); }

void lstm_forward(float* y, float* reserve, float* /*workspace: forward needs none*/, const float* x, const float* w_ih,
                  const float* w_hh, const float* b_ih, const float* b_hh, const LstmShape& s, int threads) {
  check_arguments(s, threads);
  const Layout L(s);
  BlasThreadScope blas;
  blas.use(threads);
  // gates (B*T, 8H) = x (B*T, I) w_ih^T: w_ih (2, 4H, I) is one (8H, I) matrix, so this is the
  // input side of every step of both directions. The biases are added in the cell.
  sgemm(reserve + L.gates(), 8 * L.H, x, L.I, w_ih, L.I, static_cast<int>(L.rows), 8 * L.H, L.I, Trans::no, Trans::yes,
        1.0f, 0.0f);
  for_each_direction(blas, threads, [&](int d) { forward_direction(d, y, reserve, w_hh, b_ih, b_hh, L); });
}

void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace, const float* dy,
                   const float* x, const float* y, const float* reserve, const float* w_ih, const float* w_hh,
                   const LstmShape& s, int threads) {
  check_arguments(s, threads);
  const Layout L(s);
  BlasThreadScope blas;
  for_each_direction(blas, threads, [&](int d) { backward_direction(d, dw_hh, workspace, dy, y, reserve, w_hh, L); });

  const float* dbias = workspace + L.dbias();  // (8H)
  for (int j = 0; j < 8 * L.H; ++j) {
    db_ih[j] += dbias[j];
    db_hh[j] += dbias[j];
  }

  blas.use(threads);
  const float* dgates = workspace + L.dgates();  // (B*T, 8H)
  // dw_ih (8H, I) += dgates^T (8H, B*T) x (B*T, I)
  sgemm(dw_ih, L.I, dgates, 8 * L.H, x, L.I, 8 * L.H, L.I, static_cast<int>(L.rows), Trans::yes, Trans::no, 1.0f, 1.0f);
  // dx (B*T, I) += dgates (B*T, 8H) w_ih (8H, I); the first layer's caller does not need it.
  if (dx) {
    sgemm(dx, L.I, dgates, 8 * L.H, w_ih, L.I, static_cast<int>(L.rows), L.I, 8 * L.H, Trans::no, Trans::no, 1.0f,
          1.0f);
  }
}

}  // namespace parbench::kernels::cpu
