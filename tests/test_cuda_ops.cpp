// The CUDA backend's hand-written kernels (kernels/cuda/*.cu) under the launch emulation, against
// the cpu backend's op on the same input, at sizes 1, 3, 17, 33 and sizes that are not a multiple
// of the block size (1000 for the 256-thread element-wise blocks; 300007 passes the 1024-block grid
// cap, so the grid-stride loops take several turns). Tolerances are those a GPU needs, so that the
// same comparisons can run on a device: under the emulation g++ compiles the same arithmetic as
// the CPU backend, and most comparisons are exact there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "cuda_emu_util.h"
#include "kernels/backend.h"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
namespace {

using test::DeviceArray;

constexpr std::size_t kSizes[] = {1, 3, 17, 33, 1000};
constexpr std::size_t kLargeSize = 300007;  // > 1024 blocks x 256 threads: grid-stride turns
// One ulp of a float relative to its magnitude (2^-23).
constexpr double kUlp = 1.1920928955078125e-07;

std::vector<float> random_vector(std::size_t n, float low, float high, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> v(n);
  for (auto& x : v) x = uniform(generator);
  return v;
}

class CudaOps : public testing::Test {
 protected:
  std::unique_ptr<Backend> cpu = make_backend("cpu");
};

TEST_F(CudaOps, FillScaleAxpyMatchCpu) {
  for (const std::size_t n : {kSizes[0], kSizes[1], kSizes[2], kSizes[3], kSizes[4], kLargeSize}) {
    const auto x = random_vector(n, -3.0f, 3.0f, 1);
    const auto y0 = random_vector(n, -3.0f, 3.0f, 2);
    DeviceArray<float> dx(x), dy(y0);

    fill(dy.get(), 0.25f, n, nullptr);
    for (const float v : dy.download()) ASSERT_EQ(v, 0.25f) << "fill, n = " << n;

    // scale: one rounded multiply on both: exact.
    std::vector<float> expected = x;
    cpu->scale(expected.data(), -1.7f, n);
    scale(dx.get(), -1.7f, n, nullptr);
    EXPECT_EQ(dx.download(), expected) << "scale, n = " << n;

    // axpy: nvcc contracts y + alpha * x to one fma (one rounding instead of two), so a GPU may
    // differ by an ulp of the terms' magnitude; the emulation is exact.
    dx.upload(x);
    dy.upload(y0);
    expected = y0;
    cpu->axpy(expected.data(), 0.3f, x.data(), n);
    axpy(dy.get(), 0.3f, dx.get(), n, nullptr);
    const auto y = dy.download();
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_NEAR(y[i], expected[i], kUlp * (std::fabs(y0[i]) + std::fabs(0.3f * x[i]))) << "axpy, n = " << n;
  }
}

TEST_F(CudaOps, BiasAddAndBiasBackwardMatchCpu) {
  // (m, n) shapes: odd sizes, a column count that is not a multiple of the 32-column block and a
  // row count that is not a multiple of the 8 row lanes.
  const std::pair<int, int> shapes[] = {{1, 1}, {3, 17}, {17, 3}, {33, 33}, {1000, 3}, {7, 1000}};
  for (const auto& [m, n] : shapes) {
    const auto size = static_cast<std::size_t>(m) * static_cast<std::size_t>(n);
    const auto y0 = random_vector(size, -2.0f, 2.0f, 3);
    const auto bias = random_vector(static_cast<std::size_t>(n), -1.0f, 1.0f, 4);
    DeviceArray<float> dy(y0), dbias(bias);

    // add_bias: one rounded add on both: exact.
    std::vector<float> expected = y0;
    cpu->add_bias(expected.data(), bias.data(), m, n);
    add_bias(dy.get(), dbias.get(), m, n, nullptr);
    EXPECT_EQ(dy.download(), expected) << "add_bias " << m << "x" << n;

    // bias_backward: both sum in double, in different orders (rows by 8 lanes here, in sequence on
    // the CPU); the double sums differ in the last bits at most, which can move the float result by
    // one ulp, and the += into dbias adds one rounding: 2 ulps of the terms' magnitude.
    dy.upload(y0);
    std::vector<float> grad = bias;  // dbias accumulates: start from non-zero values
    cpu->bias_backward(grad.data(), y0.data(), m, n);
    bias_backward(dbias.get(), dy.get(), m, n, nullptr);
    const auto got = dbias.download();
    for (int j = 0; j < n; ++j) {
      double magnitude = std::fabs(bias[static_cast<std::size_t>(j)]);
      for (int i = 0; i < m; ++i) magnitude += std::fabs(y0[static_cast<std::size_t>(i) * n + j]);
      ASSERT_NEAR(got[static_cast<std::size_t>(j)], grad[static_cast<std::size_t>(j)], 2 * kUlp * magnitude)
          << "bias_backward " << m << "x" << n << " column " << j;
    }
  }
}

TEST_F(CudaOps, SumSquaresMatchesCpuAndIsDeterministic) {
  DeviceArray<double> workspace(sum_squares_workspace_size());
  for (const std::size_t n : {kSizes[0], kSizes[1], kSizes[2], kSizes[3], kSizes[4], std::size_t{65537}, kLargeSize}) {
    const auto x = random_vector(n, -2.0f, 2.0f, 5);
    DeviceArray<float> dx(x);
    const double expected = cpu->sum_squares(x.data(), n);
    const double got = sum_squares(dx.get(), n, workspace.get(), nullptr);
    // Both accumulate in double, in different orders: the classic bound for a sum of n positive
    // terms is n * 2^-53 relative, 3.4e-11 at n = 300007; 1e-10 covers it.
    EXPECT_NEAR(got, expected, 1e-10 * expected) << "n = " << n;
    // Deterministic: the order of additions depends only on n.
    EXPECT_EQ(sum_squares(dx.get(), n, workspace.get(), nullptr), got) << "n = " << n;
  }
}

TEST_F(CudaOps, ActivationsMatchCpu) {
  for (const std::size_t n : {kSizes[0], kSizes[1], kSizes[2], kSizes[3], kSizes[4]}) {
    const auto x = random_vector(n, -6.0f, 6.0f, 6);
    const auto dy = random_vector(n, -1.0f, 1.0f, 7);
    const auto dx0 = random_vector(n, -1.0f, 1.0f, 8);
    DeviceArray<float> d_x(x), d_y(n), d_dy(dy), d_dx(n);

    struct Activation {
      const char* name;
      void (Backend::*cpu_forward)(float*, const float*, std::size_t);
      void (Backend::*cpu_backward)(float*, const float*, const float*, std::size_t);
      void (*forward)(float*, const float*, std::size_t, cudaStream_t);
      void (*backward)(float*, const float*, const float*, std::size_t, cudaStream_t);
      // Forward tolerance (absolute; outputs lie in [-1, 1] or are x itself). ReLU: exact. tanh
      // and sigmoid: kernels/math.h's exp_approx is __expf on the device (ex2.approx, relative
      // error ~2^-21 on this range) and nvcc contracts to fma; the outputs' error stays below 1e-6.
      double forward_tolerance;
    };
    const Activation activations[] = {
        {"relu", &Backend::relu_forward, &Backend::relu_backward, relu_forward, relu_backward, 0.0},
        {"tanh", &Backend::tanh_forward, &Backend::tanh_backward, tanh_forward, tanh_backward, 1e-6},
        {"sigmoid", &Backend::sigmoid_forward, &Backend::sigmoid_backward, sigmoid_forward, sigmoid_backward, 1e-6},
    };
    for (const auto& a : activations) {
      std::vector<float> y(n), dx = dx0;
      ((*cpu).*a.cpu_forward)(y.data(), x.data(), n);
      a.forward(d_y.get(), d_x.get(), n, nullptr);
      const auto got_y = d_y.download();
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_NEAR(got_y[i], y[i], a.forward_tolerance) << a.name << " forward, n = " << n << ", i = " << i;

      // Backward from the same y (the CPU's), so only the backward arithmetic is compared: a
      // product and a sum, which fma contraction may round once instead of twice: 2 ulps of the
      // terms' magnitude (|dx0| + |dy|, as |f'(x)| <= 1).
      ((*cpu).*a.cpu_backward)(dx.data(), dy.data(), y.data(), n);
      d_y.upload(y);
      d_dx.upload(dx0);
      a.backward(d_dx.get(), d_dy.get(), d_y.get(), n, nullptr);
      const auto got_dx = d_dx.download();
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_NEAR(got_dx[i], dx[i], 2 * kUlp * (std::fabs(dx0[i]) + std::fabs(dy[i])))
            << a.name << " backward, n = " << n << ", i = " << i;
    }

    // In place (y == x), as the backend allows for forward ops.
    std::vector<float> y(n);
    cpu->tanh_forward(y.data(), x.data(), n);
    d_x.upload(x);
    tanh_forward(d_x.get(), d_x.get(), n, nullptr);
    const auto in_place = d_x.download();
    for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(in_place[i], y[i], 1e-6) << "tanh in place, n = " << n;
  }
}

TEST_F(CudaOps, SoftmaxMatchesCpu) {
  // Rows: odd counts and one that is not a multiple of the 4 rows per block; classes: odd counts
  // and 100, which takes a warp 4 strides with a partial last one.
  for (const int batch : {1, 3, 17, 33, 7})
    for (const int classes : {1, 2, 3, 17, 33, 100}) {
      const auto size = static_cast<std::size_t>(batch) * static_cast<std::size_t>(classes);
      const auto logits = random_vector(size, -8.0f, 8.0f, 9);
      std::vector<float> expected(size);
      cpu->softmax_forward(expected.data(), logits.data(), batch, classes);
      DeviceArray<float> d_logits(logits), d_probs(size);
      softmax_forward(d_probs.get(), d_logits.get(), batch, classes, nullptr);
      // Relative 1e-6: the device's expf is within 2 ulps (glibc's within 1), the sums are in double
      // on both, and the normalisation is one more rounding: 4 ulps, 5e-7, with margin.
      const auto got = d_probs.download();
      for (std::size_t i = 0; i < size; ++i)
        ASSERT_NEAR(got[i], expected[i], 1e-6 * expected[i]) << batch << "x" << classes << " element " << i;

      softmax_forward(d_logits.get(), d_logits.get(), batch, classes, nullptr);  // in place
      const auto in_place = d_logits.download();
      for (std::size_t i = 0; i < size; ++i)
        ASSERT_NEAR(in_place[i], expected[i], 1e-6 * expected[i]) << "in place " << batch << "x" << classes;
    }
}

TEST_F(CudaOps, DropoutMasksEqualCpuBitForBit) {
  // (samples, per_sample): odd sizes, rows not a multiple of the 256-thread block, and a row of
  // 5000 that takes the 16 x 256 column grid a second stride; first_sample offsets as a worker's
  // shard of a batch sees them (0, odd, past 2^32 so the 64-bit sample index matters).
  const std::pair<int, int> shapes[] = {{1, 1}, {3, 17}, {17, 3}, {33, 33}, {7, 1000}, {2, 5000}};
  for (const auto& [samples, per_sample] : shapes)
    for (const std::int64_t first_sample : {std::int64_t{0}, std::int64_t{5}, std::int64_t{(1LL << 32) + 3}})
      for (const float p : {0.0f, 0.1f, 0.5f, 1.0f}) {
        const auto size = static_cast<std::size_t>(samples) * static_cast<std::size_t>(per_sample);
        const auto x = random_vector(size, -2.0f, 2.0f, 10);
        const auto dx0 = random_vector(size, -1.0f, 1.0f, 11);
        const std::uint64_t seed = 1234, rng_stream = 77;
        // Exact equality, forward and backward: the same mask function, one product by the same
        // float scale (never contracted into an fma on the device) and, backward, one add.
        std::vector<float> y(size), dx = dx0;
        cpu->dropout_forward(y.data(), x.data(), samples, per_sample, first_sample, seed, rng_stream, p);
        cpu->dropout_backward(dx.data(), x.data(), samples, per_sample, first_sample, seed, rng_stream, p);
        DeviceArray<float> d_x(x), d_y(size), d_dx(dx0);
        dropout_forward(d_y.get(), d_x.get(), samples, per_sample, first_sample, seed, rng_stream, p, nullptr);
        dropout_backward(d_dx.get(), d_x.get(), samples, per_sample, first_sample, seed, rng_stream, p, nullptr);
        const auto got_y = d_y.download(), got_dx = d_dx.download();
        for (std::size_t i = 0; i < size; ++i) {
          ASSERT_EQ(got_y[i], y[i]) << samples << "x" << per_sample << " first " << first_sample << " p " << p
                                    << " forward element " << i;
          ASSERT_EQ(got_dx[i], dx[i]) << samples << "x" << per_sample << " first " << first_sample << " p " << p
                                      << " backward element " << i;
        }
        // In place, as forward ops allow.
        dropout_forward(d_x.get(), d_x.get(), samples, per_sample, first_sample, seed, rng_stream, p, nullptr);
        EXPECT_EQ(d_x.download(), y) << "in place " << samples << "x" << per_sample;
      }
  // A shard of a batch draws the rows of the whole batch's mask: rows 3.. of a 7-row call equal a
  // 4-row call that starts at sample 3.
  const int per_sample = 33;
  const auto x = random_vector(7 * per_sample, -1.0f, 1.0f, 12);
  DeviceArray<float> d_x(x), whole(x.size()), shard(4 * per_sample);
  dropout_forward(whole.get(), d_x.get(), 7, per_sample, 0, 9, 2, 0.5f, nullptr);
  dropout_forward(shard.get(), d_x.get() + 3 * per_sample, 4, per_sample, 3, 9, 2, 0.5f, nullptr);
  const auto w = whole.download();
  EXPECT_EQ(shard.download(), std::vector<float>(w.begin() + 3 * per_sample, w.end()));
}

TEST_F(CudaOps, SgdStepMatchesCpu) {
  for (const std::size_t n : {kSizes[0], kSizes[1], kSizes[2], kSizes[3], kSizes[4], kLargeSize}) {
    const auto param = random_vector(n, -1.0f, 1.0f, 13);
    const auto grad = random_vector(n, -3.0f, 3.0f, 14);
    const float lr = 0.03f;
    std::vector<float> expected = param;
    cpu->sgd_step(expected.data(), grad.data(), n, lr);
    DeviceArray<float> d_param(param), d_grad(grad);
    sgd_step(d_param.get(), d_grad.get(), n, lr, nullptr);
    // nvcc contracts param - lr * grad to one fma: one rounding fewer, an ulp of the terms at most.
    const auto got = d_param.download();
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_NEAR(got[i], expected[i], kUlp * (std::fabs(param[i]) + std::fabs(lr * grad[i]))) << "n = " << n;
  }
}

TEST_F(CudaOps, AdamStepMatchesCpu) {
  const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  for (const std::int64_t step : {std::int64_t{1}, std::int64_t{7}})
    for (const std::size_t n : {kSizes[0], kSizes[1], kSizes[2], kSizes[3], kSizes[4], kLargeSize}) {
      const auto param = random_vector(n, -1.0f, 1.0f, 15);
      const auto grad = random_vector(n, -3.0f, 3.0f, 16);
      // Moments as after a few steps: m of either sign, v > 0 (step 1 starts from zeros as torch).
      auto m = random_vector(n, -0.5f, 0.5f, 17), v = random_vector(n, 0.0f, 1.0f, 18);
      if (step == 1) std::fill(m.begin(), m.end(), 0.0f), std::fill(v.begin(), v.end(), 0.0f);
      std::vector<float> e_param = param, e_m = m, e_v = v;
      cpu->adam_step(e_param.data(), e_m.data(), e_v.data(), grad.data(), n, lr, beta1, beta2, eps, step);
      DeviceArray<float> d_param(param), d_m(m), d_v(v), d_grad(grad);
      adam_step(d_param.get(), d_m.get(), d_v.get(), d_grad.get(), n, lr, beta1, beta2, eps, step, nullptr);
      const auto g_param = d_param.download(), g_m = d_m.download(), g_v = d_v.download();
      const double bc1 = 1.0 - std::pow(double{beta1}, static_cast<double>(step));
      const double bc2 = 1.0 - std::pow(double{beta2}, static_cast<double>(step));
      for (std::size_t i = 0; i < n; ++i) {
        // Same expressions (kernels/math.h adam_update); on a GPU nvcc contracts each moment's
        // a * m + b * g into an fma (one rounding fewer: 2 ulps of the two terms), the corrected
        // moments, sqrtf, + eps and the division are IEEE-rounded on both (no fast math), and the
        // final param -= lr * ratio is one more fma. Each bound below is the sum of those roundings
        // over the magnitudes they act on.
        const double m_terms = std::fabs(beta1 * m[i]) + std::fabs((1.0f - beta1) * grad[i]);
        const double v_terms = beta2 * v[i] + (1.0f - beta2) * grad[i] * grad[i];
        ASSERT_NEAR(g_m[i], e_m[i], 2 * kUlp * m_terms) << "m, step " << step << ", n = " << n << ", i = " << i;
        ASSERT_NEAR(g_v[i], e_v[i], 2 * kUlp * v_terms) << "v, step " << step << ", n = " << n << ", i = " << i;
        const double denominator = std::sqrt(v_terms / bc2) + eps;
        const double update = lr * std::fabs(e_m[i]) / bc1 / denominator;
        const double m_error = lr * 2 * kUlp * m_terms / bc1 / denominator;  // m's rounding, through the ratio
        ASSERT_NEAR(g_param[i], e_param[i], kUlp * (std::fabs(param[i]) + 6 * update) + m_error)
            << "param, step " << step << ", n = " << n << ", i = " << i;
      }
    }
}

LossParams loss_params(const LossSpec& spec) {
  return {spec.kind == LossSpec::Kind::focal, spec.label_smoothing, spec.focal_alpha, spec.focal_gamma};
}

TEST_F(CudaOps, LossesMatchCpu) {
  // Cross-entropy and focal (gamma 2 as the violence model, and 0.5 where (1-p)^(gamma-1) grows),
  // with and without label smoothing and class weights; rows as softmax's (odd counts, 7 not a
  // multiple of the 4 rows per block), classes odd and 100 (a warp takes 4 strides).
  const LossSpec specs[] = {
      {LossSpec::Kind::cross_entropy, 0.0f},      {LossSpec::Kind::cross_entropy, 0.1f},
      {LossSpec::Kind::focal, 0.0f, 0.25f, 2.0f}, {LossSpec::Kind::focal, 0.1f, 0.25f, 2.0f},
      {LossSpec::Kind::focal, 0.1f, 1.0f, 0.5f},
  };
  for (const LossSpec& spec : specs)
    for (const bool weighted : {false, true})
      for (const int batch : {1, 3, 17, 33, 7})
        for (const int classes : {1, 2, 3, 17, 33, 100}) {
          const auto size = static_cast<std::size_t>(batch) * static_cast<std::size_t>(classes);
          std::vector<float> probs(size);
          const auto logits = random_vector(size, -8.0f, 8.0f, 19);
          cpu->softmax_forward(probs.data(), logits.data(), batch, classes);
          std::mt19937 generator(20);
          std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
          for (auto& t : targets) t = std::uniform_int_distribution<std::int32_t>(0, classes - 1)(generator);
          const auto weights = random_vector(static_cast<std::size_t>(classes), 0.5f, 2.0f, 21);
          const float* w = weighted ? weights.data() : nullptr;
          const float scale = 1.0f / 64;
          const auto dlogits0 = random_vector(size, -0.1f, 0.1f, 22);

          std::vector<float> losses(static_cast<std::size_t>(batch)), dlogits = dlogits0;
          cpu->loss_forward(losses.data(), probs.data(), targets.data(), w, batch, classes, spec);
          cpu->loss_backward(dlogits.data(), probs.data(), targets.data(), w, batch, classes, spec, scale);
          DeviceArray<float> d_probs(probs), d_weights(weights), d_losses(losses.size()), d_dlogits(dlogits0);
          DeviceArray<std::int32_t> d_targets(targets);
          const float* d_w = weighted ? d_weights.get() : nullptr;
          loss_forward(d_losses.get(), d_probs.get(), d_targets.get(), d_w, batch, classes, loss_params(spec), nullptr);
          loss_backward(d_dlogits.get(), d_probs.get(), d_targets.get(), d_w, batch, classes, loss_params(spec), scale,
                        nullptr);
          const auto got_losses = d_losses.download(), got_dlogits = d_dlogits.download();
          const bool focal = spec.kind == LossSpec::Kind::focal;
          const auto what = [&] {
            return testing::Message() << (focal ? "focal" : "ce") << " ls " << spec.label_smoothing << " gamma "
                                      << spec.focal_gamma << (weighted ? " weighted " : " ") << batch << "x" << classes;
          };
          for (int i = 0; i < batch; ++i) {
            // Every term of a row is >= 0 (q >= 0, -log p >= 0, (1-p)^gamma >= 0), so the loss is
            // bounded relatively: the device's logf is within 1 ulp and powf within 4 (CUDA's
            // table), the term's products add 3 roundings, the double sums differ in order only
            // (far below a float ulp), and the float cast and the weight 2 more: 16 ulps.
            const auto e = losses[static_cast<std::size_t>(i)];
            ASSERT_NEAR(got_losses[static_cast<std::size_t>(i)], e, 16 * kUlp * std::fabs(e)) << what() << " row " << i;
            const float factor = scale * (w ? w[targets[static_cast<std::size_t>(i)]] : 1.0f);
            // g_k = p_k dL/dp_k (focal; for cross-entropy the gradient p - q has no transcendental).
            std::vector<double> g(static_cast<std::size_t>(classes));
            double sum_abs_g = 0.0;
            for (int k = 0; k < classes; ++k) {
              const std::size_t at = static_cast<std::size_t>(i) * classes + k;
              const float q = smoothed_target(k == targets[static_cast<std::size_t>(i)], spec.label_smoothing, classes);
              g[static_cast<std::size_t>(k)] =
                  focal ? std::fabs(focal_grad_term(probs[at], q, spec.focal_alpha, spec.focal_gamma))
                        : std::fabs(probs[at] - q);
              sum_abs_g += g[static_cast<std::size_t>(k)];
            }
            for (int k = 0; k < classes; ++k) {
              const std::size_t at = static_cast<std::size_t>(i) * classes + k;
              // dz += factor * (...), contracted to an fma on the device: 2 ulps of the two terms.
              // Focal: g's two parts have one sign (log p <= 0), so g is within ~14 ulps (2 powf,
              // logf, 4 products); total = sum g carries the same relative error and p_k * total
              // one more rounding: 16 ulps of factor * (|g_k| + p_k sum |g|).
              const double magnitude = std::fabs(factor) * (g[static_cast<std::size_t>(k)] + probs[at] * sum_abs_g);
              const double tolerance =
                  2 * kUlp * (std::fabs(dlogits0[at]) + magnitude) + (focal ? 16 * kUlp * magnitude : 0.0);
              ASSERT_NEAR(got_dlogits[at], dlogits[at], tolerance) << what() << " row " << i << " class " << k;
            }
          }
        }
}

TEST_F(CudaOps, LossOfATargetOutsideTheClassesIsNaN) {
  // The CPU backend raises; a kernel cannot, and marks the sample instead.
  const std::vector<float> probs = {0.25f, 0.75f, 0.5f, 0.5f};
  const std::vector<std::int32_t> targets = {1, 2};
  DeviceArray<float> d_probs(probs), d_losses(2), d_dlogits(std::vector<float>(4, 0.0f));
  DeviceArray<std::int32_t> d_targets(targets);
  loss_forward(d_losses.get(), d_probs.get(), d_targets.get(), nullptr, 2, 2, LossParams{}, nullptr);
  loss_backward(d_dlogits.get(), d_probs.get(), d_targets.get(), nullptr, 2, 2, LossParams{}, 1.0f, nullptr);
  const auto losses = d_losses.download(), dlogits = d_dlogits.download();
  EXPECT_NEAR(losses[0], -std::log(0.75f), 1e-6);
  EXPECT_TRUE(std::isnan(losses[1]));
  EXPECT_FALSE(std::isnan(dlogits[0]));
  EXPECT_TRUE(std::isnan(dlogits[2]) && std::isnan(dlogits[3]));
}

TEST_F(CudaOps, BatchNormMatchesCpu) {
  // (m, c): odd sizes, columns not a multiple of the 32-column blocks, rows not a multiple of the 8
  // row lanes, and 1000 rows (the row grid's 64 blocks of 8 take two strides). Training needs m >= 2.
  const std::pair<int, int> shapes[] = {{2, 1}, {3, 17}, {17, 3}, {33, 33}, {1000, 3}, {7, 100}};
  // `across` as two identical replicas (every sum doubled): the same callback for both backends;
  // under the emulation device memory is host memory, so it can touch the values directly.
  const ReplicaSum twice = [](float* values, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) values[i] *= 2.0f;
  };
  for (const auto& shape : shapes)
    for (const ReplicaSum* across : {static_cast<const ReplicaSum*>(nullptr), &twice}) {
      const int m = shape.first, c = shape.second;  // not a structured binding: clang 14 cannot capture one
      const auto size = static_cast<std::size_t>(m) * static_cast<std::size_t>(c);
      const auto cs = static_cast<std::size_t>(c);
      const auto x = random_vector(size, 1.0f, 5.0f, 23);  // a mean of 3: the two-pass variance matters
      const auto dy = random_vector(size, -1.0f, 1.0f, 24);
      const auto dx0 = random_vector(size, -1.0f, 1.0f, 25);
      const auto gamma = random_vector(cs, 0.5f, 1.5f, 26), beta = random_vector(cs, -0.5f, 0.5f, 27);
      const auto running_mean0 = random_vector(cs, -1.0f, 1.0f, 28), running_var0 = random_vector(cs, 0.5f, 2.0f, 29);
      const auto dgamma0 = random_vector(cs, -1.0f, 1.0f, 30), dbeta0 = random_vector(cs, -1.0f, 1.0f, 31);
      const float eps = 1e-5f, momentum = 0.1f;
      const auto what = [&] { return testing::Message() << m << "x" << c << (across ? " across" : ""); };

      std::vector<float> y(size), mean(cs), rstd(cs), running_mean = running_mean0, running_var = running_var0;
      cpu->batchnorm_forward_train(y.data(), mean.data(), rstd.data(), running_mean.data(), running_var.data(),
                                   x.data(), gamma.data(), beta.data(), m, c, eps, momentum, across);
      DeviceArray<float> d_x(x), d_y(size), d_mean(cs), d_rstd(cs), d_rm(running_mean0), d_rv(running_var0);
      DeviceArray<float> d_gamma(gamma), d_beta(beta), d_work(batchnorm_workspace_size(c));
      batchnorm_forward_train(d_y.get(), d_mean.get(), d_rstd.get(), d_rm.get(), d_rv.get(), d_x.get(), d_gamma.get(),
                              d_beta.get(), m, c, eps, momentum, d_work.get(), across, nullptr);
      const auto g_y = d_y.download(), g_mean = d_mean.download(), g_rstd = d_rstd.download();
      const auto g_rm = d_rm.download(), g_rv = d_rv.download();
      std::vector<double> abs_mean(cs);  // mean of |x| per column: the magnitude the column sum rounds at
      for (std::size_t i = 0; i < size; ++i) abs_mean[i % cs] += std::fabs(x[i]) / m;
      for (std::size_t j = 0; j < cs; ++j) {
        // Column sums in double in different orders (8 row lanes here, sequential on the CPU), each
        // stored as float: 1 ulp of the sum of magnitudes, 2 with the division; rstd from the float
        // sum of squares through a double sqrt: 2 ulps relative. Running statistics: the same, mixed
        // with their old values.
        ASSERT_NEAR(g_mean[j], mean[j], 2 * kUlp * abs_mean[j]) << what() << " mean " << j;
        ASSERT_NEAR(g_rstd[j], rstd[j], 2 * kUlp * rstd[j]) << what() << " rstd " << j;
        ASSERT_NEAR(g_rm[j], running_mean[j], 2 * kUlp * (std::fabs(running_mean0[j]) + abs_mean[j]))
            << what() << " running_mean " << j;
        ASSERT_NEAR(g_rv[j], running_var[j], 4 * kUlp * running_var[j]) << what() << " running_var " << j;
      }
      for (std::size_t i = 0; i < size; ++i) {
        // y = x * scale + shift (an fma on the device: 1 ulp of the terms) with scale and shift from
        // the statistics above: gamma (|x - mean| drstd + rstd dmean).
        const std::size_t j = i % cs;
        const double terms = std::fabs(x[i] * gamma[j] * rstd[j]) + std::fabs(beta[j] - mean[j] * gamma[j] * rstd[j]);
        const double from_stats =
            std::fabs(gamma[j]) * (std::fabs(x[i] - mean[j]) * 2 * kUlp * rstd[j] + rstd[j] * 2 * kUlp * abs_mean[j]);
        ASSERT_NEAR(g_y[i], y[i], 2 * kUlp * terms + from_stats) << what() << " y " << i;
      }

      // Evaluation forward, from the running statistics (m = 1 allowed here; in place, as allowed).
      std::vector<float> y_eval(size);
      cpu->batchnorm_forward_eval(y_eval.data(), x.data(), gamma.data(), beta.data(), running_mean0.data(),
                                  running_var0.data(), m, c, eps);
      DeviceArray<float> d_rm0(running_mean0), d_rv0(running_var0);
      batchnorm_forward_eval(d_x.get(), d_x.get(), d_gamma.get(), d_beta.get(), d_rm0.get(), d_rv0.get(), m, c, eps,
                             nullptr);
      const auto g_eval = d_x.download();
      for (std::size_t i = 0; i < size; ++i) {
        // Same scale and shift (double, then float, on both); one fma: 1 ulp of the terms, 2 with margin.
        const std::size_t j = i % cs;
        const double r = 1.0 / std::sqrt(static_cast<double>(running_var0[j]) + eps);
        const double terms = std::fabs(x[i] * gamma[j] * r) + std::fabs(beta[j] - running_mean0[j] * gamma[j] * r);
        ASSERT_NEAR(g_eval[i], y_eval[i], 2 * kUlp * terms) << what() << " eval y " << i;
      }

      // Backward from the CPU's saved statistics, so that only the backward arithmetic is compared.
      std::vector<float> dx = dx0, dgamma = dgamma0, dbeta = dbeta0;
      cpu->batchnorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                              gamma.data(), m, c, across);
      d_x.upload(x);
      d_mean.upload(mean);
      d_rstd.upload(rstd);
      DeviceArray<float> d_dy(dy), d_dx(dx0), d_dgamma(dgamma0), d_dbeta(dbeta0);
      batchnorm_backward(d_dx.get(), d_dgamma.get(), d_dbeta.get(), d_dy.get(), d_x.get(), d_mean.get(), d_rstd.get(),
                         d_gamma.get(), m, c, d_work.get(), across, nullptr);
      const auto g_dx = d_dx.download(), g_dgamma = d_dgamma.download(), g_dbeta = d_dbeta.download();
      std::vector<double> sum_abs_dy(cs), sum_abs_dy_xhat(cs);
      for (std::size_t i = 0; i < size; ++i) {
        const std::size_t j = i % cs;
        sum_abs_dy[j] += std::fabs(dy[i]);
        sum_abs_dy_xhat[j] += std::fabs(dy[i] * (x[i] - mean[j]) * rstd[j]);
      }
      for (std::size_t j = 0; j < cs; ++j) {
        // Column sums in double, different orders, stored as float, then one += : 2 ulps.
        ASSERT_NEAR(g_dbeta[j], dbeta[j], 2 * kUlp * (std::fabs(dbeta0[j]) + sum_abs_dy[j])) << what() << " dbeta";
        ASSERT_NEAR(g_dgamma[j], dgamma[j], 2 * kUlp * (std::fabs(dgamma0[j]) + sum_abs_dy_xhat[j]))
            << what() << " dgamma";
      }
      for (std::size_t i = 0; i < size; ++i) {
        // dx += k (dy - mean_dy - xhat mean_dy_xhat): the means 1 ulp apart (float sums), and up to
        // two fma contractions: 4 ulps of k times the magnitude of each term, plus 1 of dx0.
        const std::size_t j = i % cs;
        const double k = std::fabs(gamma[j] * rstd[j]);
        const double xhat = std::fabs((x[i] - mean[j]) * rstd[j]);
        const double terms = std::fabs(dy[i]) + sum_abs_dy[j] / m + xhat * sum_abs_dy_xhat[j] / m;
        ASSERT_NEAR(g_dx[i], dx[i], kUlp * (std::fabs(dx0[i]) + 4 * k * terms)) << what() << " dx " << i;
      }
    }
}

}  // namespace
}  // namespace parbench::kernels::cuda
