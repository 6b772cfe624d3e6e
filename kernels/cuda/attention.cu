// Additive attention over time on the GPU; the CPU backend's is attention_forward/_backward in
// kernels/cpu/ops.cpp and this file keeps its structure: the products over all B*T rows as cuBLAS
// GEMMs, the per-row and per-sample steps as kernels whose reductions run in a fixed order (no
// atomics), so that the same inputs give bitwise the same outputs on every call.
#include <climits>
#include <cmath>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// Row kernels (one row of u, dz: A values): one warp per row, lanes striding over A, so each
// stride is one coalesced load and the dot product with v ends in warp shuffles, without shared
// memory or __syncthreads. 8 rows (warps) per block: 256 threads, as the element-wise kernels.
constexpr int kRowsPerBlock = 8;
// Per-sample kernels: one block per sample (B = 64 in the workloads). Forward: a thread per
// feature column of context (D = 2H = 256 in the violence workload, one column each).
constexpr int kContextThreads = 256;
// Backward: a warp per timestep, 8 warps striding over T (T = 20 in the workloads: 3 turns).
constexpr int kDscoreWarps = 8;

__device__ __forceinline__ int warp_row(int rows) {
  const int row = static_cast<int>(blockIdx.x) * kRowsPerBlock + static_cast<int>(threadIdx.y);
  return row < rows ? row : -1;  // past the end the whole warp leaves together: shuffles stay full-warp
}

// u = tanh(z + b) in place and s = v . u per row. The dot product accumulates in float (A terms,
// A / 32 per lane, then the warp's fixed shuffle tree): the hot loop of the forward, where the
// CPU's double buys nothing a float bound of A ulps does not cover.
__global__ void attention_score_kernel(float* __restrict__ u /* (rows, A): z = h w^T in, tanh(z + b) out */,
                                       float* __restrict__ scores /* (rows) */, const float* __restrict__ b /* (A) */,
                                       const float* __restrict__ v /* (A) */, int rows, int attention) {
  const int row = warp_row(rows);
  if (row < 0) return;
  float* u_row = u + static_cast<std::size_t>(row) * static_cast<std::size_t>(attention);  // (A)
  float partial = 0.0f;
  for (int a = static_cast<int>(threadIdx.x); a < attention; a += kWarpSize) {
    const float value = tanh_approx(u_row[a] + b[a]);
    u_row[a] = value;
    partial += value * v[a];
  }
  const float score = warp_all_sum(partial);
  if (threadIdx.x == 0) scores[row] = score;
}

// Per sample: alpha = softmax over T of the scores (as the CPU's softmax_row: max subtracted, expf,
// the sum in double, times the float reciprocal), by warp 0; then context_j = sum_t alpha_t h_tj,
// a thread per column summing over t in order (coalesced: a warp reads 32 consecutive h_tj).
__global__ void attention_context_kernel(float* __restrict__ context /* (B, D) */,
                                         float* __restrict__ alpha /* (B, T): scores in, weights out */,
                                         const float* __restrict__ h /* (B, T, D) */, int steps, int features) {
  const auto sample = static_cast<std::size_t>(blockIdx.x);
  float* alpha_s = alpha + sample * static_cast<std::size_t>(steps);  // (T)
  if (static_cast<int>(threadIdx.x) < kWarpSize) {
    const int lane = static_cast<int>(threadIdx.x);
    float max_s = -INFINITY;
    for (int t = lane; t < steps; t += kWarpSize) max_s = fmaxf(max_s, alpha_s[t]);
    max_s = warp_all_max(max_s);
    double sum = 0.0;
    for (int t = lane; t < steps; t += kWarpSize) {
      const float e = expf(alpha_s[t] - max_s);
      alpha_s[t] = e;
      sum += e;
    }
    sum = warp_all_sum(sum);
    const auto inverse = static_cast<float>(1.0 / sum);
    for (int t = lane; t < steps; t += kWarpSize) alpha_s[t] *= inverse;
  }
  __syncthreads();  // warp 0's global writes of alpha_s are visible to the whole block after it
  const float* h_s = h + sample * static_cast<std::size_t>(steps) * static_cast<std::size_t>(features);  // (T, D)
  for (int j = static_cast<int>(threadIdx.x); j < features; j += kContextThreads) {
    float sum = 0.0f;
    for (int t = 0; t < steps; ++t) sum += alpha_s[t] * h_s[static_cast<std::size_t>(t) * features + j];
    context[sample * static_cast<std::size_t>(features) + j] = sum;
  }
}

// Per sample, through context = sum_t alpha_t h_t and the softmax:
//   dalpha_t = dcontext . h_t (a warp per t, float over D as the forward's dot), h_t += alpha_t dcontext
//   ds_t = alpha_t (dalpha_t - sum_t' alpha_t' dalpha_t')  (warp 0; the sum over T in double, as the CPU)
__global__ void attention_dscore_kernel(float* __restrict__ dh /* (B, T, D) or nullptr */,
                                        float* __restrict__ ds /* (B, T) */,
                                        const float* __restrict__ dcontext /* (B, D) */,
                                        const float* __restrict__ h /* (B, T, D) */,
                                        const float* __restrict__ alpha /* (B, T) */, int steps, int features) {
  const auto sample = static_cast<std::size_t>(blockIdx.x);
  const int lane = static_cast<int>(threadIdx.x);
  const float* dcontext_s = dcontext + sample * static_cast<std::size_t>(features);  // (D)
  const float* alpha_s = alpha + sample * static_cast<std::size_t>(steps);           // (T)
  float* ds_s = ds + sample * static_cast<std::size_t>(steps);                       // (T)
  for (int t = static_cast<int>(threadIdx.y); t < steps; t += kDscoreWarps) {
    const std::size_t offset =
        (sample * static_cast<std::size_t>(steps) + static_cast<std::size_t>(t)) * static_cast<std::size_t>(features);
    const float* h_st = h + offset;  // (D)
    const float a_t = alpha_s[t];
    float partial = 0.0f;
    for (int j = lane; j < features; j += kWarpSize) {
      partial += dcontext_s[j] * h_st[j];
      if (dh) dh[offset + static_cast<std::size_t>(j)] += a_t * dcontext_s[j];
    }
    const float dalpha = warp_all_sum(partial);
    if (lane == 0) ds_s[t] = dalpha;
  }
  __syncthreads();  // every warp's dalpha (in ds_s) is written before warp 0 reads them all
  if (threadIdx.y != 0) return;
  double weighted = 0.0;
  for (int t = lane; t < steps; t += kWarpSize) weighted += static_cast<double>(alpha_s[t]) * ds_s[t];
  weighted = warp_all_sum(weighted);
  for (int t = lane; t < steps; t += kWarpSize) ds_s[t] = static_cast<float>(alpha_s[t] * (ds_s[t] - weighted));
}

// Through u = tanh(z) and s = v . u: dz_ra = ds_r v_a (1 - u_ra^2), a warp per row as the score kernel.
__global__ void attention_dz_kernel(float* __restrict__ dz /* (rows, A) */, const float* __restrict__ ds /* (rows) */,
                                    const float* __restrict__ u /* (rows, A) */, const float* __restrict__ v /* (A) */,
                                    int rows, int attention) {
  const int row = warp_row(rows);
  if (row < 0) return;
  const std::size_t offset = static_cast<std::size_t>(row) * static_cast<std::size_t>(attention);
  const float ds_r = ds[row];
  for (int a = static_cast<int>(threadIdx.x); a < attention; a += kWarpSize) {
    const float u_ra = u[offset + static_cast<std::size_t>(a)];
    dz[offset + static_cast<std::size_t>(a)] = ds_r * v[a] * (1.0f - u_ra * u_ra);
  }
}

unsigned row_blocks(int rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

// B * T, after checking the shape: T, D, A >= 1 (a softmax over no timesteps has no value) and
// B * T within the int that the GEMMs take.
int checked_rows(const AttentionShape& shape) {
  const long long rows = static_cast<long long>(shape.batch) * shape.steps;
  PB_HOST_CHECK(shape.batch >= 0 && shape.steps > 0 && shape.features > 0 && shape.attention > 0 && rows <= INT_MAX,
                "attention shape B " + std::to_string(shape.batch) + ", T " + std::to_string(shape.steps) + ", D " +
                    std::to_string(shape.features) + ", A " + std::to_string(shape.attention) +
                    ": needs B >= 0, T, D, A >= 1 and B * T < 2^31");
  return static_cast<int>(rows);
}

}  // namespace

// dz (B*T, A), then ds (B*T), as the CPU backend's.
std::size_t attention_workspace_size(const AttentionShape& shape) {
  const auto rows = static_cast<std::size_t>(shape.batch) * static_cast<std::size_t>(shape.steps);
  return rows * (static_cast<std::size_t>(shape.attention) + 1);
}

void attention_forward(cublasHandle_t blas, float* context, float* alpha, float* u, const float* h, const float* w,
                       const float* b, const float* v, const AttentionShape& shape, cudaStream_t stream) {
  const int rows = checked_rows(shape);
  if (rows == 0) return;
  const int features = shape.features, attention = shape.attention;
  // u (B*T, A) = h (B*T, D) w^T (D, A): every timestep of every sample in one GEMM; the bias, tanh
  // and the scores (into alpha) follow in one kernel.
  gemm(blas, u, attention, h, features, w, features, rows, attention, features, Trans::no, Trans::yes, 1.0f, 0.0f);
  PB_LAUNCH(attention_score_kernel, row_blocks(rows), dim3(kWarpSize, kRowsPerBlock), 0, stream, u, alpha, b, v, rows,
            attention);
  PB_LAUNCH(attention_context_kernel, static_cast<unsigned>(shape.batch), kContextThreads, 0, stream, context, alpha, h,
            shape.steps, features);
}

void attention_backward(cublasHandle_t blas, float* dh, float* dw, float* db, float* dv, float* workspace,
                        const float* dcontext, const float* h, const float* alpha, const float* u, const float* w,
                        const float* v, const AttentionShape& shape, cudaStream_t stream) {
  const int rows = checked_rows(shape);
  if (rows == 0 || (!dh && !dw && !db && !dv)) return;
  const int features = shape.features, attention = shape.attention;
  float* dz = workspace;                                                                         // (B*T, A)
  float* ds = workspace + static_cast<std::size_t>(rows) * static_cast<std::size_t>(attention);  // (B*T)

  PB_LAUNCH(attention_dscore_kernel, static_cast<unsigned>(shape.batch), dim3(kWarpSize, kDscoreWarps), 0, stream, dh,
            ds, dcontext, h, alpha, shape.steps, features);
  // s_r = v . u_r: dv (A) += sum_r ds_r u_r, as the GEMM (1, B*T) x (B*T, A).
  if (dv) gemm(blas, dv, attention, ds, rows, u, attention, 1, attention, rows, Trans::no, Trans::no, 1.0f, 1.0f);
  if (!dh && !dw && !db) return;

  PB_LAUNCH(attention_dz_kernel, row_blocks(rows), dim3(kWarpSize, kRowsPerBlock), 0, stream, dz, ds, u, v, rows,
            attention);
  // z = h w^T + b: db (A) += column sums of dz, dw (A, D) += dz^T h, dh (B*T, D) += dz w.
  if (db) bias_backward(db, dz, rows, attention, stream);
  if (dw)
    gemm(blas, dw, features, dz, attention, h, features, attention, features, rows, Trans::yes, Trans::no, 1.0f, 1.0f);
  if (dh)
    gemm(blas, dh, features, dz, attention, w, features, rows, features, attention, Trans::no, Trans::no, 1.0f, 1.0f);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda
