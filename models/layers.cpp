// The layer implementations: thin wrappers that call Backend ops, own their saved state, and
// count their cost. FLOPs count multiply-adds as 2; elementwise ops are counted roughly (a few
// per element) since they are <1% of either workload.
#include <cmath>

#include "core/check.h"
#include "models/layer.h"

namespace parbench::models {

std::int64_t TensorSpec::count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

using kernels::Trans;

class Linear final : public Layer {
 public:
  Linear(std::string name, std::int64_t in, std::int64_t out) : Layer(std::move(name)), in_(in), out_(out) {}
  std::vector<TensorSpec> parameter_specs() const override {
    return {{"weight", {out_, in_}, Init::uniform_fan_in, in_}, {"bias", {out_}, Init::uniform_fan_in, in_}};
  }
  std::int64_t input_size() const override { return in_; }
  std::int64_t output_size() const override { return out_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    const int in = static_cast<int>(in_), out = static_cast<int>(out_);
    // y (B, out) = x (B, in) . W^T (in, out), then + b
    pass.backend.gemm(y, out, x, in, weight(), in, pass.batch, out, in, Trans::no, Trans::yes, 1.0f, 0.0f);
    pass.backend.add_bias(y, bias(), pass.batch, out);
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float* x, const float*) override {
    const int in = static_cast<int>(in_), out = static_cast<int>(out_);
    // dW (out, in) += dy^T (out, B) . x (B, in); db += column sums; dx (B, in) += dy (B, out) . W (out, in)
    pass.backend.gemm(gradients_, in, dy, out, x, in, out, in, pass.batch, Trans::yes, Trans::no, 1.0f, 1.0f);
    pass.backend.bias_backward(gradients_ + in_ * out_, dy, pass.batch, out);
    if (dx) pass.backend.gemm(dx, in, dy, out, weight(), in, pass.batch, in, out, Trans::no, Trans::no, 1.0f, 1.0f);
  }
  LayerCost cost() const override {
    const double gemm = 2.0 * static_cast<double>(in_ * out_);
    return {in_ * out_ + out_, gemm + static_cast<double>(out_), 2.0 * gemm + static_cast<double>(out_), gemm, 0};
  }

 private:
  const float* weight() const { return parameters_; }             // (out, in)
  const float* bias() const { return parameters_ + in_ * out_; }  // (out)
  std::int64_t in_, out_;
};

class BiLstm final : public Layer {
 public:
  BiLstm(std::string name, std::int64_t steps, std::int64_t input, std::int64_t hidden)
      : Layer(std::move(name)), steps_(steps), input_(input), hidden_(hidden) {}
  // Both directions of each tensor are adjacent, so the backend sees w_ih as (2, 4H, I), etc.
  // PyTorch initialises every LSTM tensor uniform in +-1/sqrt(H).
  std::vector<TensorSpec> parameter_specs() const override {
    const std::int64_t g = 4 * hidden_;
    return {{"weight_ih_l0", {g, input_}, Init::uniform_fan_in, hidden_},
            {"weight_ih_l0_reverse", {g, input_}, Init::uniform_fan_in, hidden_},
            {"weight_hh_l0", {g, hidden_}, Init::uniform_fan_in, hidden_},
            {"weight_hh_l0_reverse", {g, hidden_}, Init::uniform_fan_in, hidden_},
            {"bias_ih_l0", {g}, Init::uniform_fan_in, hidden_},
            {"bias_ih_l0_reverse", {g}, Init::uniform_fan_in, hidden_},
            {"bias_hh_l0", {g}, Init::uniform_fan_in, hidden_},
            {"bias_hh_l0_reverse", {g}, Init::uniform_fan_in, hidden_}};
  }
  void allocate(Backend& backend, int max_batch) override {
    const kernels::LstmShape shape = shape_for(max_batch);
    reserve_ = Buffer(backend, backend.lstm_reserve_size(shape));
    workspace_ = Buffer(backend, backend.lstm_workspace_size(shape));
  }
  std::int64_t input_size() const override { return steps_ * input_; }
  std::int64_t output_size() const override { return steps_ * 2 * hidden_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    pass.backend.lstm_forward(y, reserve_.data(), workspace_.data(), x, w_ih(), w_hh(), b_ih(), b_hh(),
                              shape_for(pass.batch));
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float* x, const float* y) override {
    const std::int64_t g = 4 * hidden_;
    float* dw_ih = gradients_;
    float* dw_hh = dw_ih + 2 * g * input_;
    float* db_ih = dw_hh + 2 * g * hidden_;
    float* db_hh = db_ih + 2 * g;
    pass.backend.lstm_backward(dx, dw_ih, dw_hh, db_ih, db_hh, workspace_.data(), dy, x, y, reserve_.data(), w_ih(),
                               w_hh(), shape_for(pass.batch));
  }
  LayerCost cost() const override {
    const double t = static_cast<double>(steps_), i = static_cast<double>(input_), h = static_cast<double>(hidden_);
    const double projection = 2.0 * t * i * 8.0 * h;  // both directions' input projections
    const double recurrence = 2.0 * t * h * 8.0 * h;  // h_{t-1} W_hh^T, both directions
    const double cell = t * 2.0 * h * 10.0;           // gate nonlinearities and state update
    LayerCost c;
    c.parameters = 2 * (4 * hidden_ * (input_ + hidden_) + 8 * hidden_);
    c.forward_flops = projection + recurrence + cell;
    // dW_ih and dx (each like the projection), dh through W_hh and dW_hh (each like the recurrence).
    c.backward_flops = 2.0 * projection + 2.0 * recurrence + 2.0 * cell;
    c.input_gradient_flops = projection;
    c.saved_floats = steps_ * 2 * 6 * hidden_;  // gates, cell state and tanh(c) per step and direction
    return c;
  }

 private:
  kernels::LstmShape shape_for(int batch) const {
    return {batch, static_cast<int>(steps_), static_cast<int>(input_), static_cast<int>(hidden_)};
  }
  const float* w_ih() const { return parameters_; }
  const float* w_hh() const { return w_ih() + 2 * (4 * hidden_ * input_); }  // 2 directions of (4H, I)
  const float* b_ih() const { return w_hh() + 2 * (4 * hidden_ * hidden_); }
  const float* b_hh() const { return b_ih() + 2 * (4 * hidden_); }
  std::int64_t steps_, input_, hidden_;
  Buffer reserve_, workspace_;
};

class BatchNorm final : public Layer {
 public:
  BatchNorm(std::string name, std::int64_t features, std::int64_t rows_per_sample)
      : Layer(std::move(name)), features_(features), rows_(rows_per_sample) {}
  std::vector<TensorSpec> parameter_specs() const override {
    return {{"weight", {features_}, Init::ones}, {"bias", {features_}, Init::zeros}};
  }
  std::vector<TensorSpec> buffer_specs() const override {
    return {{"running_mean", {features_}, Init::zeros}, {"running_var", {features_}, Init::ones}};
  }
  void allocate(Backend& backend, int) override {
    mean_ = Buffer(backend, static_cast<std::size_t>(features_));
    rstd_ = Buffer(backend, static_cast<std::size_t>(features_));
  }
  std::int64_t input_size() const override { return features_ * rows_; }
  std::int64_t output_size() const override { return features_ * rows_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    const int m = pass.batch * static_cast<int>(rows_), c = static_cast<int>(features_);
    if (pass.training) {
      pass.backend.batchnorm_forward_train(y, mean_.data(), rstd_.data(), buffers_, buffers_ + features_, x,
                                           parameters_, parameters_ + features_, m, c, kEps, kMomentum, pass.sync);
    } else {
      pass.backend.batchnorm_forward_eval(y, x, parameters_, parameters_ + features_, buffers_, buffers_ + features_, m,
                                          c, kEps);
    }
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float* x, const float*) override {
    const int m = pass.batch * static_cast<int>(rows_), c = static_cast<int>(features_);
    pass.backend.batchnorm_backward(dx, gradients_, gradients_ + features_, dy, x, mean_.data(), rstd_.data(),
                                    parameters_, m, c, pass.sync);
  }
  LayerCost cost() const override {
    const double n = static_cast<double>(features_ * rows_);
    return {2 * features_, 4.0 * n, 8.0 * n, 4.0 * n, 0};
  }

 private:
  static constexpr float kEps = 1e-5f, kMomentum = 0.1f;  // torch.nn.BatchNorm1d defaults
  std::int64_t features_, rows_;
  Buffer mean_, rstd_;
};

class Relu final : public Layer {
 public:
  Relu(std::string name, std::int64_t size) : Layer(std::move(name)), size_(size) {}
  std::int64_t input_size() const override { return size_; }
  std::int64_t output_size() const override { return size_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    pass.backend.relu_forward(y, x, static_cast<std::size_t>(pass.batch * size_));
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float*, const float* y) override {
    if (dx) pass.backend.relu_backward(dx, dy, y, static_cast<std::size_t>(pass.batch * size_));
  }
  LayerCost cost() const override {
    const auto n = static_cast<double>(size_);
    return {0, n, n, n, 0};
  }

 private:
  std::int64_t size_;
};

class Dropout final : public Layer {
 public:
  Dropout(std::string name, std::int64_t size, float p, std::uint64_t stream)
      : Layer(std::move(name)), size_(size), p_(p), stream_(stream) {}
  std::int64_t input_size() const override { return size_; }
  std::int64_t output_size() const override { return size_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    if (!active(pass)) {
      pass.backend.copy(y, x, static_cast<std::size_t>(pass.batch * size_));
      return;
    }
    pass.backend.dropout_forward(y, x, pass.batch, static_cast<int>(size_), pass.first_sample, pass.seed, stream(pass),
                                 p_);
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float*, const float*) override {
    if (!dx) return;
    if (!active(pass)) {
      pass.backend.axpy(dx, 1.0f, dy, static_cast<std::size_t>(pass.batch * size_));
      return;
    }
    pass.backend.dropout_backward(dx, dy, pass.batch, static_cast<int>(size_), pass.first_sample, pass.seed,
                                  stream(pass), p_);
  }
  LayerCost cost() const override {
    const auto n = static_cast<double>(size_);
    return {0, n, n, n, 0};
  }

 private:
  bool active(const Pass& pass) const { return pass.training && p_ > 0.0f; }
  // One mask stream per (step, layer): the step in the high bits, this layer's number in the low.
  std::uint64_t stream(const Pass& pass) const { return (pass.step << 8) | stream_; }
  std::int64_t size_;
  float p_;
  std::uint64_t stream_;
};

class Attention final : public Layer {
 public:
  Attention(std::string name, std::int64_t steps, std::int64_t features, std::int64_t hidden)
      : Layer(std::move(name)), steps_(steps), features_(features), hidden_(hidden) {}
  std::vector<TensorSpec> parameter_specs() const override {
    return {{"proj.weight", {hidden_, features_}, Init::uniform_fan_in, features_},
            {"proj.bias", {hidden_}, Init::uniform_fan_in, features_},
            {"score.weight", {1, hidden_}, Init::uniform_fan_in, hidden_}};
  }
  void allocate(Backend& backend, int max_batch) override {
    const auto shape = shape_for(max_batch);
    alpha_ = Buffer(backend, static_cast<std::size_t>(max_batch * steps_));
    u_ = Buffer(backend, static_cast<std::size_t>(max_batch * steps_ * hidden_));
    workspace_ = Buffer(backend, backend.attention_workspace_size(shape));
  }
  std::int64_t input_size() const override { return steps_ * features_; }
  std::int64_t output_size() const override { return features_; }
  void forward(const Pass& pass, float* y, const float* x) override {
    pass.backend.attention_forward(y, alpha_.data(), u_.data(), x, w(), b(), v(), shape_for(pass.batch));
  }
  void backward(const Pass& pass, float* dx, const float* dy, const float* x, const float*) override {
    float* dw = gradients_;
    float* db = dw + hidden_ * features_;
    float* dv = db + hidden_;
    pass.backend.attention_backward(dx, dw, db, dv, workspace_.data(), dy, x, alpha_.data(), u_.data(), w(), v(),
                                    shape_for(pass.batch));
  }
  LayerCost cost() const override {
    const double t = static_cast<double>(steps_), d = static_cast<double>(features_), a = static_cast<double>(hidden_);
    LayerCost c;
    c.parameters = hidden_ * features_ + 2 * hidden_;
    c.forward_flops = 2.0 * t * d * a + 2.0 * t * a + 2.0 * t * d + 5.0 * t * a;
    c.backward_flops = 4.0 * t * d * a + 4.0 * t * a + 4.0 * t * d + 5.0 * t * a;
    c.input_gradient_flops = 2.0 * t * d * a + 2.0 * t * d;
    c.saved_floats = steps_ * (hidden_ + 1);
    return c;
  }

 private:
  kernels::AttentionShape shape_for(int batch) const {
    return {batch, static_cast<int>(steps_), static_cast<int>(features_), static_cast<int>(hidden_)};
  }
  const float* w() const { return parameters_; }                        // (A, D)
  const float* b() const { return parameters_ + hidden_ * features_; }  // (A)
  const float* v() const { return b() + hidden_; }                      // (A)
  std::int64_t steps_, features_, hidden_;
  Buffer alpha_, u_, workspace_;
};

}  // namespace

std::unique_ptr<Layer> linear(std::string name, std::int64_t in, std::int64_t out) {
  return std::make_unique<Linear>(std::move(name), in, out);
}
std::unique_ptr<Layer> bilstm(std::string name, std::int64_t steps, std::int64_t input, std::int64_t hidden) {
  return std::make_unique<BiLstm>(std::move(name), steps, input, hidden);
}
std::unique_ptr<Layer> batchnorm(std::string name, std::int64_t features, std::int64_t rows_per_sample) {
  return std::make_unique<BatchNorm>(std::move(name), features, rows_per_sample);
}
std::unique_ptr<Layer> relu(std::string name, std::int64_t size) {
  return std::make_unique<Relu>(std::move(name), size);
}
std::unique_ptr<Layer> dropout(std::string name, std::int64_t size, float p, std::uint64_t stream) {
  return std::make_unique<Dropout>(std::move(name), size, p, stream);
}
std::unique_ptr<Layer> attention(std::string name, std::int64_t steps, std::int64_t features, std::int64_t hidden) {
  return std::make_unique<Attention>(std::move(name), steps, features, hidden);
}

}  // namespace parbench::models
