// Hand-written CPU ops (everything but GEMM and the LSTM): plain loops with contiguous inner
// loops so GCC vectorizes them, reductions accumulated in double, no allocation (attention's
// scratch is the caller's workspace, per-column scratch lives on the stack in column blocks).
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "core/error.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/clones.h"
#include "kernels/math.h"

namespace parbench::kernels::cpu {

namespace {

// Per-column double accumulators live on the stack in blocks of this many columns: wide enough
// for every layer of the workloads (256) in one block, small enough (2 KiB per array) for any stack.
constexpr int kColumnBlock = 256;

// a (n) . b (n) accumulated in double. Eight independent partial sums: the compiler may not
// reorder one double sum, but it vectorizes these lanes, and they also shorten the rounding chain.
double dot(const float* a, const float* b, std::size_t n) {
  constexpr std::size_t kLanes = 8;
  double lanes[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t k = 0; k < kLanes; ++k) lanes[k] += static_cast<double>(a[i + k]) * b[i + k];
  for (; i < n; ++i) lanes[0] += static_cast<double>(a[i]) * b[i];
  double total = 0.0;
  for (double lane : lanes) total += lane;
  return total;
}

// p (n) = softmax(z (n)); p == z allowed. Max subtracted for range; the sum accumulated in double.
void softmax_row(float* p, const float* z, int n) {
  float max_z = z[0];
  for (int j = 1; j < n; ++j) max_z = std::max(max_z, z[j]);
  double sum = 0.0;
  for (int j = 0; j < n; ++j) {
    p[j] = expf(z[j] - max_z);
    sum += p[j];
  }
  const auto inverse = static_cast<float>(1.0 / sum);
  for (int j = 0; j < n; ++j) p[j] *= inverse;
}

}  // namespace

// ---- BLAS-like ----------------------------------------------------------------------------------

void add_bias(float* y, const float* bias, int m, int n) {
  for (int i = 0; i < m; ++i) {
    float* row = y + static_cast<std::size_t>(i) * n;  // (n)
    for (int j = 0; j < n; ++j) row[j] += bias[j];
  }
}

void bias_backward(float* dbias, const float* dy, int m, int n) {
  for (int j0 = 0; j0 < n; j0 += kColumnBlock) {
    const int width = std::min(kColumnBlock, n - j0);
    double sum[kColumnBlock] = {};
    for (int i = 0; i < m; ++i) {
      const float* row = dy + static_cast<std::size_t>(i) * n + j0;  // (width)
      for (int j = 0; j < width; ++j) sum[j] += row[j];
    }
    for (int j = 0; j < width; ++j) dbias[j0 + j] += static_cast<float>(sum[j]);
  }
}

void fill(float* x, float value, std::size_t n) { std::fill(x, x + n, value); }

void scale(float* x, float alpha, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= alpha;
}

void axpy(float* y, float alpha, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

double sum_squares(const float* x, std::size_t n) { return dot(x, x, n); }

// ---- activations --------------------------------------------------------------------------------

void relu_forward(float* y, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.0f);  // NaN propagates, as torch.relu
}

void relu_backward(float* dx, const float* dy, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float g = dy[i];  // loaded unconditionally so the select vectorizes
    dx[i] += y[i] > 0.0f ? g : 0.0f;
  }
}

void tanh_forward(float* y, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = tanh_approx(x[i]);
}

void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void sigmoid_forward(float* y, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = sigmoidf(x[i]);
}

void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

// ---- additive attention -------------------------------------------------------------------------

std::size_t attention_workspace_size(const AttentionShape& shape) {
  const auto rows = static_cast<std::size_t>(shape.batch) * shape.steps;
  return rows * (static_cast<std::size_t>(shape.attention) + 1);
}

void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                       const float* v, const AttentionShape& shape) {
  const int steps = shape.steps, features = shape.features, attention = shape.attention;
  const int rows = shape.batch * steps;
  // u (B*T, A) = tanh(h (B*T, D) w^T (D, A) + b): one GEMM over every timestep of every sample.
  sgemm(u, attention, h, features, w, features, rows, attention, features, Trans::no, Trans::yes, 1.0f, 0.0f);
  for (int r = 0; r < rows; ++r) {
    float* u_row = u + static_cast<std::size_t>(r) * attention;  // (A)
    for (int a = 0; a < attention; ++a) u_row[a] = tanh_approx(u_row[a] + b[a]);
    alpha[r] = static_cast<float>(dot(u_row, v, attention));  // s (B*T), softmaxed below
  }
  for (int s = 0; s < shape.batch; ++s) {
    float* alpha_s = alpha + static_cast<std::size_t>(s) * steps;  // (T)
    softmax_row(alpha_s, alpha_s, steps);
    float* context_s = context + static_cast<std::size_t>(s) * features;  // (D)
    std::fill(context_s, context_s + features, 0.0f);
    for (int t = 0; t < steps; ++t) {
      const float* h_st = h + (static_cast<std::size_t>(s) * steps + t) * features;  // (D)
      const float a_t = alpha_s[t];
      for (int j = 0; j < features; ++j) context_s[j] += a_t * h_st[j];
    }
  }
}

void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                        const float* h, const float* alpha, const float* u, const float* w, const float* v,
                        const AttentionShape& shape) {
  const int steps = shape.steps, features = shape.features, attention = shape.attention;
  const int rows = shape.batch * steps;
  float* dz = workspace;                                               // (B*T, A)
  float* ds = workspace + static_cast<std::size_t>(rows) * attention;  // (B*T)

  // context = sum_t alpha_t h_t: dalpha_t = dcontext . h_t, and h_t receives alpha_t dcontext.
  // Softmax: ds_t = alpha_t (dalpha_t - sum_t' alpha_t' dalpha_t').
  for (int s = 0; s < shape.batch; ++s) {
    const float* dcontext_s = dcontext + static_cast<std::size_t>(s) * features;  // (D)
    const float* alpha_s = alpha + static_cast<std::size_t>(s) * steps;           // (T)
    float* ds_s = ds + static_cast<std::size_t>(s) * steps;                       // (T)
    double weighted = 0.0;
    for (int t = 0; t < steps; ++t) {
      const std::size_t row = static_cast<std::size_t>(s) * steps + t;
      const float* h_st = h + row * features;  // (D)
      const double dalpha = dot(dcontext_s, h_st, features);
      ds_s[t] = static_cast<float>(dalpha);
      weighted += alpha_s[t] * dalpha;
      if (dh) {
        float* dh_st = dh + row * features;  // (D)
        const float a_t = alpha_s[t];
        for (int j = 0; j < features; ++j) dh_st[j] += a_t * dcontext_s[j];
      }
    }
    for (int t = 0; t < steps; ++t) ds_s[t] = static_cast<float>(alpha_s[t] * (ds_s[t] - weighted));
  }

  // s_r = v . u_r: dv += sum_r ds_r u_r, as the GEMM (1, B*T) x (B*T, A).
  if (dv) sgemm(dv, attention, ds, rows, u, attention, 1, attention, rows, Trans::no, Trans::no, 1.0f, 1.0f);
  if (!dh && !dw && !db) return;

  // u = tanh(z): dz = ds_r v (1 - u^2).
  for (int r = 0; r < rows; ++r) {
    const float* u_row = u + static_cast<std::size_t>(r) * attention;  // (A)
    float* dz_row = dz + static_cast<std::size_t>(r) * attention;      // (A)
    const float ds_r = ds[r];
    for (int a = 0; a < attention; ++a) dz_row[a] = ds_r * v[a] * (1.0f - u_row[a] * u_row[a]);
  }
  // z = h w^T + b: db += column sums of dz, dw (A, D) += dz^T h, dh (B*T, D) += dz w.
  if (db) bias_backward(db, dz, rows, attention);
  if (dw) sgemm(dw, features, dz, attention, h, features, attention, features, rows, Trans::yes, Trans::no, 1.0f, 1.0f);
  if (dh) sgemm(dh, features, dz, attention, w, features, rows, features, attention, Trans::no, Trans::no, 1.0f, 1.0f);
}

// ---- BatchNorm ----------------------------------------------------------------------------------
// Each pass walks the columns in blocks of kColumnBlock: per-column sums accumulate in double on
// the stack, and the inner loops run along a row's contiguous columns. The sums of a pass are
// complete (all columns, plus the row count) before `across` adds the other replicas' sums, so a
// synchronised BatchNorm is the same code with one all-reduce between passes.

namespace {

// sums[j] (+)= sum over rows of f(row, j) for j < c, accumulated in double.
template <typename F>
void column_sums(float* sums, int m, int c, F f) {
  for (int j0 = 0; j0 < c; j0 += kColumnBlock) {
    const int width = std::min(kColumnBlock, c - j0);
    double sum[kColumnBlock] = {};
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < width; ++j) sum[j] += f(static_cast<std::size_t>(i) * c + j0 + j, j0 + j);
    }
    for (int j = 0; j < width; ++j) sums[j0 + j] = static_cast<float>(sum[j]);
  }
}

void sum_across(const ReplicaSum* across, std::vector<float>& values) {
  if (across) (*across)(values.data(), values.size());
}

}  // namespace

void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                             float momentum, const ReplicaSum* across) {
  // Two passes (mean, then squared deviations) so that a large mean does not cancel the variance.
  std::vector<float> sums(static_cast<std::size_t>(c) + 1);  // (c) column sums, then the row count
  column_sums(sums.data(), m, c, [&](std::size_t at, int) { return static_cast<double>(x[at]); });
  sums[static_cast<std::size_t>(c)] = static_cast<float>(m);
  sum_across(across, sums);
  const double rows = sums[static_cast<std::size_t>(c)];
  if (rows < 2)
    raise(
        "BatchNorm in training mode needs more than one value per channel (got {} rows of {} channels): "
        "use a larger batch or per-worker shard",
        rows, c);
  std::vector<double> mu(static_cast<std::size_t>(c));
  for (int j = 0; j < c; ++j) mu[j] = sums[j] / rows;
  std::vector<float> squares(static_cast<std::size_t>(c));
  column_sums(squares.data(), m, c, [&](std::size_t at, int j) {
    const double d = x[at] - mu[j];
    return d * d;
  });
  sum_across(across, squares);
  const double unbiased = rows / (rows - 1);
  // y = x * scale + shift with scale = gamma * rstd, shift = beta - mean * scale.
  std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  for (int j = 0; j < c; ++j) {
    const double var = squares[j] / rows;
    const double r = 1.0 / std::sqrt(var + eps);
    mean[j] = static_cast<float>(mu[j]);
    rstd[j] = static_cast<float>(r);
    running_mean[j] = static_cast<float>((1.0 - momentum) * running_mean[j] + momentum * mu[j]);
    running_var[j] = static_cast<float>((1.0 - momentum) * running_var[j] + momentum * var * unbiased);
    scale[j] = static_cast<float>(gamma[j] * r);
    shift[j] = static_cast<float>(beta[j] - mu[j] * gamma[j] * r);
  }
  for (int i = 0; i < m; ++i) {
    const std::size_t offset = static_cast<std::size_t>(i) * c;
    for (int j = 0; j < c; ++j) y[offset + j] = x[offset + j] * scale[j] + shift[j];
  }
}

void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int m, int c, float eps) {
  for (int j0 = 0; j0 < c; j0 += kColumnBlock) {
    const int width = std::min(kColumnBlock, c - j0);
    float scale_j[kColumnBlock], shift_j[kColumnBlock];
    for (int j = 0; j < width; ++j) {
      const double r = 1.0 / std::sqrt(static_cast<double>(running_var[j0 + j]) + eps);
      scale_j[j] = static_cast<float>(gamma[j0 + j] * r);
      shift_j[j] = static_cast<float>(beta[j0 + j] - running_mean[j0 + j] * (gamma[j0 + j] * r));
    }
    for (int i = 0; i < m; ++i) {
      const std::size_t offset = static_cast<std::size_t>(i) * c + j0;
      for (int j = 0; j < width; ++j) y[offset + j] = x[offset + j] * scale_j[j] + shift_j[j];
    }
  }
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                        const float* rstd, const float* gamma, int m, int c, const ReplicaSum* across) {
  // With xhat = (x - mean) * rstd and y = gamma * xhat + beta, per column:
  //   dbeta = sum dy, dgamma = sum dy xhat,
  //   dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M)   (the batch statistics' share),
  // where the sums and M run over the whole batch: across replicas when synchronised. The
  // parameter gradients get this replica's share only; the strategy adds the replicas' up.
  const auto cs = static_cast<std::size_t>(c);
  std::vector<float> sums(2 * cs + 1);  // (c) sum dy, (c) sum dy * xhat, the row count
  column_sums(sums.data(), m, c, [&](std::size_t at, int) { return static_cast<double>(dy[at]); });
  column_sums(sums.data() + c, m, c, [&](std::size_t at, int j) {
    const float xhat = (x[at] - mean[j]) * rstd[j];
    return static_cast<double>(dy[at]) * xhat;
  });
  sums[2 * cs] = static_cast<float>(m);
  if (dbeta)
    for (int j = 0; j < c; ++j) dbeta[j] += sums[j];
  if (dgamma)
    for (int j = 0; j < c; ++j) dgamma[j] += sums[cs + j];
  if (!dx) return;
  sum_across(across, sums);
  const double rows = sums[2 * cs];
  std::vector<float> k(cs), mean_dy(cs), mean_dy_xhat(cs);
  for (int j = 0; j < c; ++j) {
    k[j] = gamma[j] * rstd[j];
    mean_dy[j] = static_cast<float>(sums[j] / rows);
    mean_dy_xhat[j] = static_cast<float>(sums[cs + j] / rows);
  }
  for (int i = 0; i < m; ++i) {
    const std::size_t offset = static_cast<std::size_t>(i) * c;
    for (int j = 0; j < c; ++j) {
      const float xhat = (x[offset + j] - mean[j]) * rstd[j];
      dx[offset + j] += k[j] * (dy[offset + j] - mean_dy[j] - xhat * mean_dy_xhat[j]);
    }
  }
}

// ---- dropout ------------------------------------------------------------------------------------

// One row of dropout; cloned for AVX-512 and AVX2 because the portable build targets SSE2, which
// has no 32-bit vector multiply for the mask hash.
PARBENCH_CPU_CLONES void dropout_row(float* __restrict y, const float* __restrict x, std::uint32_t key, int n, float p,
                                     float keep_scale) {
  for (int e = 0; e < n; ++e) y[e] = dropout_keep(key, static_cast<std::uint32_t>(e), p) ? x[e] * keep_scale : 0.0f;
}

PARBENCH_CPU_CLONES void dropout_row_backward(float* __restrict dx, const float* __restrict dy, std::uint32_t key,
                                              int n, float p, float keep_scale) {
  for (int e = 0; e < n; ++e) dx[e] += dropout_keep(key, static_cast<std::uint32_t>(e), p) ? dy[e] * keep_scale : 0.0f;
}

void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                     std::uint64_t seed, std::uint64_t stream, float p) {
  // p = 1 keeps nothing; scale 0 avoids computing 1/0 (it would never be used, but stays finite).
  const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int s = 0; s < samples; ++s) {
    const std::uint32_t key = dropout_row_key(seed, stream, static_cast<std::uint64_t>(first_sample + s));
    const std::size_t offset = static_cast<std::size_t>(s) * per_sample;
    dropout_row(y + offset, x + offset, key, per_sample, p, keep_scale);
  }
}

void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                      std::uint64_t seed, std::uint64_t stream, float p) {
  const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int s = 0; s < samples; ++s) {
    const std::uint32_t key = dropout_row_key(seed, stream, static_cast<std::uint64_t>(first_sample + s));
    const std::size_t offset = static_cast<std::size_t>(s) * per_sample;
    dropout_row_backward(dx + offset, dy + offset, key, per_sample, p, keep_scale);
  }
}

// ---- softmax and losses -------------------------------------------------------------------------

void softmax_forward(float* probs, const float* logits, int batch, int classes) {
  for (int i = 0; i < batch; ++i) {
    const std::size_t offset = static_cast<std::size_t>(i) * classes;
    softmax_row(probs + offset, logits + offset, classes);
  }
}

void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights, int batch,
                  int classes, const LossSpec& spec) {
  const bool focal = spec.kind == LossSpec::Kind::focal;
  for (int i = 0; i < batch; ++i) {
    const int target = targets[i];
    PB_CHECK(target >= 0 && target < classes, "sample {}: target {} is not a class in [0, {})", i, target, classes);
    const float* p = probs + static_cast<std::size_t>(i) * classes;  // (C)
    double loss = 0.0;
    for (int k = 0; k < classes; ++k) {
      const float q = smoothed_target(k == target, spec.label_smoothing, classes);
      loss += focal ? focal_loss_term(p[k], q, spec.focal_alpha, spec.focal_gamma) : -q * logf(fmaxf(p[k], kMinProb));
    }
    losses[i] = static_cast<float>(loss) * (class_weights ? class_weights[target] : 1.0f);
  }
}

void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                   int batch, int classes, const LossSpec& spec, float scale) {
  const bool focal = spec.kind == LossSpec::Kind::focal;
  for (int i = 0; i < batch; ++i) {
    const int target = targets[i];
    PB_CHECK(target >= 0 && target < classes, "sample {}: target {} is not a class in [0, {})", i, target, classes);
    const float* p = probs + static_cast<std::size_t>(i) * classes;  // (C)
    float* dz = dlogits + static_cast<std::size_t>(i) * classes;     // (C)
    const float factor = scale * (class_weights ? class_weights[target] : 1.0f);
    if (!focal) {
      // Cross-entropy through softmax: dL/dz = p - q (sum q = 1).
      for (int k = 0; k < classes; ++k)
        dz[k] += factor * (p[k] - smoothed_target(k == target, spec.label_smoothing, classes));
      continue;
    }
    // Through softmax, dL/dz_j = sum_c dL/dp_c p_c (delta_cj - p_j) = g_j - p_j sum_c g_c with
    // g_c = p_c dL/dp_c (focal_grad_term).
    double sum_g = 0.0;
    for (int k = 0; k < classes; ++k)
      sum_g += focal_grad_term(p[k], smoothed_target(k == target, spec.label_smoothing, classes), spec.focal_alpha,
                               spec.focal_gamma);
    const auto total = static_cast<float>(sum_g);
    for (int k = 0; k < classes; ++k) {
      const float g = focal_grad_term(p[k], smoothed_target(k == target, spec.label_smoothing, classes),
                                      spec.focal_alpha, spec.focal_gamma);
      dz[k] += factor * (g - p[k] * total);
    }
  }
}

// ---- optimizers ---------------------------------------------------------------------------------

void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
               float eps, std::int64_t step) {
  PB_CHECK(step >= 1, "Adam steps count from 1, got {}", step);
  // Once per call, in double as torch does in Python: 1 - beta^step.
  const auto correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const auto correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  for (std::size_t i = 0; i < n; ++i)
    adam_update(param[i], m[i], v[i], grad[i], lr, beta1, beta2, eps, correction1, correction2);
}

void sgd_step(float* param, const float* grad, std::size_t n, float lr) {
  for (std::size_t i = 0; i < n; ++i) param[i] -= lr * grad[i];
}

}  // namespace parbench::kernels::cpu
