// Bidirectional LSTM layer on the GPU, native path (the alternative to cuDNN's); the CPU backend's
// is kernels/cpu/lstm.cpp and this file keeps its structure: the input projection of every step of
// both directions as one GEMM, then per step one GEMM for the recurrence of both directions
// (strided-batched) and one fused kernel for both directions' gate math (kernels/math.h). Backward
// mirrors it, then forms the weight and input gradients as a few GEMMs over all steps. No atomics:
// the same inputs give bitwise the same outputs on every call.
#include <climits>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// Layouts, in floats. Per step and batch row, the (B, T, ...) order of x and y, so that the
// one-shot GEMMs see gates and dgates as plain (B*T, width) matrices (as the CPU backend's). The
// per-step GEMMs take both directions in one strided-batched call, which needs a constant distance
// between the directions' operands; in (B, T, ...) tensors the two directions sit at steps t and
// T-1-t, whose distance changes every step (and turns negative). So the per-step GEMMs read and
// write small (2, B, ...) state buffers, direction-major, that the fused kernels fill.
//
// reserve (kept from forward to backward)
//   gates  (B, T, 8H)  post-activation i, f, g, o; forward direction in [0, 4H), reverse in
//                      [4H, 8H). The input GEMM writes x w_ih^T here, the gate kernel overwrites it.
//   cell   (B, T, 2H)  c, columns as y. tanh(c) is not kept: backward recomputes it (an exp
//                      costs less on the GPU than storing and reloading the value).
// workspace, forward (at its start; backward reuses the space)
//   rec     (2, B, 4H) per direction, h_prev w_hh^T of the current step
//   h_state (2, B, H)  per direction, the h of the last step: the next step's GEMM operand
// workspace, backward
//   dgates  (B, T, 8H) d loss / d pre-activation gates, columns as gates
//   h_prev  (B, T, 2H) the h each step and direction read (zero at its first step), columns as
//                      y, so that dw_hh of both directions is one strided-batched GEMM over all steps
//   dz_step (2, B, 4H) per direction, the current step's dgates: the operand of its dh_rec GEMM
//   dh_rec  (2, B, H)  per direction, dh reaching the current step from the next one
//   dc      (2, B, H)  per direction, dc flowing to the previous step
struct Layout {
  std::size_t B, T, I, H, rows;  // rows = B * T

  explicit Layout(const LstmShape& s)
      : B(static_cast<std::size_t>(s.batch)), T(static_cast<std::size_t>(s.steps)),
        I(static_cast<std::size_t>(s.input)), H(static_cast<std::size_t>(s.hidden)), rows(B * T) {}

  std::size_t gates() const { return 0; }
  std::size_t cell() const { return rows * 8 * H; }
  std::size_t reserve_size() const { return rows * 10 * H; }

  std::size_t rec() const { return 0; }
  std::size_t h_state() const { return 2 * B * 4 * H; }
  std::size_t forward_workspace_size() const { return h_state() + 2 * B * H; }

  std::size_t dgates() const { return 0; }
  std::size_t h_prev() const { return rows * 8 * H; }
  std::size_t dz_step() const { return rows * 10 * H; }
  std::size_t dh_rec() const { return dz_step() + 2 * B * 4 * H; }
  std::size_t dc() const { return dh_rec() + 2 * B * H; }
  std::size_t backward_workspace_size() const { return dc() + 2 * B * H; }
};

// Both directions' threads of one step: 2 * B * H of them, one per (direction, batch row, hidden
// unit), hidden units fastest so that a warp's loads and stores are consecutive floats. `step` is
// the s-th step of each direction: the forward direction is at time s, the reverse at T-1-s.
struct StepIndex {
  std::size_t d, b, j, t, t_prev;  // t_prev: the time of the direction's previous step, if step > 0
};
__device__ __forceinline__ StepIndex step_index(std::size_t i, int step, int batch, int steps, int hidden) {
  const auto H = static_cast<std::size_t>(hidden), B = static_cast<std::size_t>(batch);
  StepIndex x{};
  x.j = i % H;
  x.b = (i / H) % B;
  x.d = i / (H * B);
  const int t = x.d == 0 ? step : steps - 1 - step;
  x.t = static_cast<std::size_t>(t);
  x.t_prev = static_cast<std::size_t>(x.d == 0 ? t - 1 : t + 1);  // wraps when step == 0: unused then
  return x;
}

// One step of both directions: z = x w_ih^T (in gates) + h_prev w_hh^T (in rec, absent at the
// first step, where h_prev = 0) + b_ih + b_hh, then lstm_cell. Writes the activations over z, c, y,
// and h_state for the next step's GEMM.
__global__ void lstm_cell_forward_kernel(
    float* __restrict__ y /* (B, T, 2H) */, float* __restrict__ gates /* (B, T, 8H) */,
    float* __restrict__ cell /* (B, T, 2H) */, float* __restrict__ h_state /* (2, B, H) */,
    const float* __restrict__ rec /* (2, B, 4H) */, const float* __restrict__ b_ih /* (2, 4H) */,
    const float* __restrict__ b_hh /* (2, 4H) */, int step, int batch, int steps, int hidden) {
  const auto H = static_cast<std::size_t>(hidden);
  const std::size_t n = 2 * static_cast<std::size_t>(batch) * H;
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) {
    const StepIndex x = step_index(i, step, batch, steps, hidden);
    const std::size_t row = x.b * static_cast<std::size_t>(steps) + x.t;  // (b, t) of the (B, T, .) tensors
    float* z = gates + row * 8 * H + x.d * 4 * H + x.j;                   // gate k at z[k * H]
    const float* bias_ih = b_ih + x.d * 4 * H + x.j;
    const float* bias_hh = b_hh + x.d * 4 * H + x.j;
    float pre[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const float recurrent =
          step > 0 ? rec[(x.d * static_cast<std::size_t>(batch) + x.b) * 4 * H + k * H + x.j] : 0.0f;
      pre[k] = (z[k * H] + recurrent) + (bias_ih[k * H] + bias_hh[k * H]);
    }
    const std::size_t out = row * 2 * H + x.d * H + x.j;  // this direction's column of y and cell
    const float c_prev =
        step > 0 ? cell[(x.b * static_cast<std::size_t>(steps) + x.t_prev) * 2 * H + x.d * H + x.j] : 0.0f;
    const LstmCell s = lstm_cell(pre[0], pre[1], pre[2], pre[3], c_prev);
    z[0] = s.i;
    z[H] = s.f;
    z[2 * H] = s.g;
    z[3 * H] = s.o;
    cell[out] = s.c;
    y[out] = s.h;
    h_state[(x.d * static_cast<std::size_t>(batch) + x.b) * H + x.j] = s.h;
  }
}

// One step of both directions' BPTT, from the stored activations (c = f c_prev + i g, h = o tanh(c)),
// as the CPU backend's cell_backward:
//   dh = dy + dh_rec;  dc += dh o (1 - tanh^2(c))
//   dz_i = dc g i (1 - i), dz_f = dc c_prev f (1 - f), dz_g = dc i (1 - g^2), dz_o = dh tanh(c) o (1 - o)
// and dc f flows on to the previous step. dh_rec and dc are absent (zero) at the direction's last
// step, c_prev at its first. Writes dz into dgates and dz_step, and the h the step read into h_prev.
__global__ void lstm_cell_backward_kernel(
    float* __restrict__ dgates /* (B, T, 8H) */, float* __restrict__ dz_step /* (2, B, 4H) */,
    float* __restrict__ h_prev /* (B, T, 2H) */, float* __restrict__ dc /* (2, B, H) */,
    const float* __restrict__ dh_rec /* (2, B, H) */, const float* __restrict__ dy /* (B, T, 2H) */,
    const float* __restrict__ y /* (B, T, 2H) */, const float* __restrict__ gates /* (B, T, 8H) */,
    const float* __restrict__ cell /* (B, T, 2H) */, int step, int batch, int steps, int hidden) {
  const auto H = static_cast<std::size_t>(hidden);
  const std::size_t n = 2 * static_cast<std::size_t>(batch) * H;
  const bool last = step == steps - 1;
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) {
    const StepIndex x = step_index(i, step, batch, steps, hidden);
    const std::size_t row = x.b * static_cast<std::size_t>(steps) + x.t;
    const std::size_t gate = row * 8 * H + x.d * 4 * H + x.j;  // gate k at gate + k * H
    const std::size_t out = row * 2 * H + x.d * H + x.j;       // this direction's column of y, dy, cell
    const std::size_t prev = (x.b * static_cast<std::size_t>(steps) + x.t_prev) * 2 * H + x.d * H + x.j;
    const std::size_t state = (x.d * static_cast<std::size_t>(batch) + x.b) * H + x.j;
    const LstmCellGrad grad = lstm_cell_backward(gates[gate], gates[gate + H], gates[gate + 2 * H], gates[gate + 3 * H],
                                                 tanh_approx(cell[out]), step > 0 ? cell[prev] : 0.0f,
                                                 dy[out] + (last ? 0.0f : dh_rec[state]), last ? 0.0f : dc[state]);
    const float dz[4] = {grad.zi, grad.zf, grad.zg, grad.zo};
    float* dz_s = dz_step + (x.d * static_cast<std::size_t>(batch) + x.b) * 4 * H + x.j;
    for (std::size_t k = 0; k < 4; ++k) {
      dgates[gate + k * H] = dz[k];
      dz_s[k * H] = dz[k];
    }
    dc[state] = grad.dc_prev;
    h_prev[out] = step > 0 ? y[prev] : 0.0f;
  }
}

// Checks the shape: every size >= 1 (as the CPU backend), and the GEMMs' int dimensions (B * T
// rows, 8H columns) within int.
void check_shape(const LstmShape& s) {
  const long long rows = static_cast<long long>(s.batch) * s.steps;
  PB_HOST_CHECK(
      s.batch > 0 && s.steps > 0 && s.input > 0 && s.hidden > 0 && rows <= INT_MAX && 8LL * s.hidden <= INT_MAX,
      "LSTM shape B " + std::to_string(s.batch) + ", T " + std::to_string(s.steps) + ", I " + std::to_string(s.input) +
          ", H " + std::to_string(s.hidden) + ": needs every size >= 1 and B * T, 8H < 2^31");
}

// One step kernel's grid: 2 * B * H threads (the violence workload's B = 64, H = 128: 64 blocks).
unsigned step_blocks(const Layout& L) { return elementwise_blocks(2 * L.B * L.H); }

}  // namespace

std::size_t lstm_reserve_size(const LstmShape& shape) { return Layout(shape).reserve_size(); }

std::size_t lstm_workspace_size(const LstmShape& shape) {
  const Layout L(shape);
  return L.forward_workspace_size() > L.backward_workspace_size() ? L.forward_workspace_size()
                                                                  : L.backward_workspace_size();
}

void lstm_forward(cublasHandle_t blas, float* y, float* reserve, float* workspace, const float* x, const float* w_ih,
                  const float* w_hh, const float* b_ih, const float* b_hh, const LstmShape& shape,
                  cudaStream_t stream) {
  check_shape(shape);
  const Layout L(shape);
  const int B = shape.batch, T = shape.steps, I = shape.input, H = shape.hidden;
  float* gates = reserve + L.gates();        // (B, T, 8H)
  float* cell = reserve + L.cell();          // (B, T, 2H)
  float* rec = workspace + L.rec();          // (2, B, 4H)
  float* h_state = workspace + L.h_state();  // (2, B, H)
  const long long rec_stride = 4LL * B * H;
  const long long h_stride = static_cast<long long>(B) * H;
  const long long w_stride = 4LL * H * H;

  // gates (B*T, 8H) = x (B*T, I) w_ih^T: w_ih (2, 4H, I) is one (8H, I) matrix, so this is the
  // input side of every step of both directions. The biases are added in the gate kernel.
  gemm(blas, gates, 8 * H, x, I, w_ih, I, B * T, 8 * H, I, Trans::no, Trans::yes, 1.0f, 0.0f);
  for (int s = 0; s < T; ++s) {
    // rec[d] (B, 4H) = h_state[d] (B, H) w_hh[d]^T (H, 4H) for both directions; h_prev = 0 at the
    // first step, where the kernel adds nothing.
    if (s > 0) {
      gemm_strided_batched(blas, rec, 4 * H, rec_stride, h_state, H, h_stride, w_hh, H, w_stride, B, 4 * H, H,
                           Trans::no, Trans::yes, 1.0f, 0.0f, 2);
    }
    PB_LAUNCH(lstm_cell_forward_kernel, step_blocks(L), kElementwiseThreads, 0, stream, y, gates, cell, h_state, rec,
              b_ih, b_hh, s, B, T, H);
  }
}

void lstm_backward(cublasHandle_t blas, float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                   float* workspace, const float* dy, const float* x, const float* y, const float* reserve,
                   const float* w_ih, const float* w_hh, const LstmShape& shape, cudaStream_t stream) {
  check_shape(shape);
  const Layout L(shape);
  const int B = shape.batch, T = shape.steps, I = shape.input, H = shape.hidden;
  const float* gates = reserve + L.gates();  // (B, T, 8H) activations
  const float* cell = reserve + L.cell();    // (B, T, 2H)
  float* dgates = workspace + L.dgates();    // (B, T, 8H)
  float* h_prev = workspace + L.h_prev();    // (B, T, 2H)
  float* dz_step = workspace + L.dz_step();  // (2, B, 4H)
  float* dh_rec = workspace + L.dh_rec();    // (2, B, H)
  float* dc = workspace + L.dc();            // (2, B, H)
  const long long dz_stride = 4LL * B * H;
  const long long h_stride = static_cast<long long>(B) * H;
  const long long w_stride = 4LL * H * H;

  for (int s = T - 1; s >= 0; --s) {
    PB_LAUNCH(lstm_cell_backward_kernel, step_blocks(L), kElementwiseThreads, 0, stream, dgates, dz_step, h_prev, dc,
              dh_rec, dy, y, gates, cell, s, B, T, H);
    // dh_rec[d] (B, H) = dz_step[d] (B, 4H) w_hh[d] (4H, H): the gradient reaching h_prev through
    // this step, for both directions; nothing reaches the state before the first step.
    if (s > 0) {
      gemm_strided_batched(blas, dh_rec, H, h_stride, dz_step, 4 * H, dz_stride, w_hh, H, w_stride, B, H, 4 * H,
                           Trans::no, Trans::no, 1.0f, 0.0f, 2);
    }
  }

  // dw_hh[d] (4H, H) += dgates[:, d]^T (4H, B*T) h_prev[:, d] (B*T, H): all steps of a direction in
  // one product, both directions in one call (their columns 4H and H apart in dgates and h_prev).
  gemm_strided_batched(blas, dw_hh, H, w_stride, dgates, 8 * H, 4LL * H, h_prev, 2 * H, H, 4 * H, H, B * T, Trans::yes,
                       Trans::no, 1.0f, 1.0f, 2);
  // The pre-activation adds both biases: db_ih and db_hh (8H) each += the column sums of dgates
  // (in double, in a fixed order).
  bias_backward(db_ih, dgates, B * T, 8 * H, stream);
  bias_backward(db_hh, dgates, B * T, 8 * H, stream);
  // dw_ih (8H, I) += dgates^T (8H, B*T) x (B*T, I)
  gemm(blas, dw_ih, I, dgates, 8 * H, x, I, 8 * H, I, B * T, Trans::yes, Trans::no, 1.0f, 1.0f);
  // dx (B*T, I) += dgates (B*T, 8H) w_ih (8H, I); the first layer's caller does not need it.
  if (dx) gemm(blas, dx, I, dgates, 8 * H, w_ih, I, B * T, I, 8 * H, Trans::no, Trans::no, 1.0f, 1.0f);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda
