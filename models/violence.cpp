// `violence` (design.md §2): 3 bidirectional LSTM layers (128 per direction) each followed by
// BatchNorm over features and Dropout, additive attention over time, then a dense classifier
// 256 -> 128 -> 64 -> 2. One chain of layers; focal loss by default.
#include "models/workloads.h"

namespace parbench::models {

namespace {

constexpr std::int64_t kHidden = 128;  // per direction
constexpr std::int64_t kAttention = 128;

class Violence final : public Model {
 public:
  Violence(Backend& backend, const ModelConfig& config) : Model(backend) {
    const float p = config.dropout >= 0 ? config.dropout : 0.5f;
    const std::int64_t t = config.steps > 0 ? config.steps : 20, width = 2 * kHidden;
    std::uint64_t stream = 0;
    std::int64_t input = config.features > 0 ? config.features : 4096;
    for (int k = 1; k <= 3; ++k) {
      const std::size_t lstm = add(bilstm(fmt::format("lstm{}", k), t, input, kHidden), k == 1);
      if (k == 1) first_ = lstm;
      add(batchnorm(fmt::format("bn{}", k), width, t));
      add(dropout(fmt::format("drop{}", k), t * width, p, ++stream));
      input = width;
    }
    add(attention("attn", t, width, kAttention));
    add(linear("fc1", width, 256));
    add(relu("relu1", 256));
    add(batchnorm("bn4", 256));
    add(dropout("drop4", 256, p, ++stream));
    add(linear("fc2", 256, 128));
    add(relu("relu2", 128));
    add(batchnorm("bn5", 128));
    add(dropout("drop5", 128, p, ++stream));
    add(linear("fc3", 128, 64));
    add(relu("relu3", 64));
    add(dropout("drop6", 64, p, ++stream));
    last_ = add(linear("fc4", 64, 2));
    finalize();
  }

  std::string workload() const override { return "violence"; }
  std::vector<Head> heads() const override { return {{"violence", "labels", 2, 1.0f}}; }

  double forward(const Pass& pass, const BatchView& batch, const LossConfig& loss) override {
    const float* logits = forward_chain(pass, first_, last_, batch.inputs.at("features"));
    return head_loss(pass, heads()[0], logits, probs_.data(), losses_.data(), batch, loss);
  }

  void backward(const Pass& pass, const BatchView& batch, const LossConfig& loss, float scale,
                const GradientsReady& ready) override {
    float* dlogits = output_gradient(last_);
    backend_.fill(dlogits, 0.0f, static_cast<std::size_t>(pass.batch) * 2);
    head_backward(pass, heads()[0], dlogits, probs_.data(), batch, loss, scale);
    backward_chain(pass, first_, last_, batch.inputs.at("features"), nullptr, ready);
  }

  const float* probabilities(const std::string&) const override { return probs_.data(); }

 private:
  void allocate_extra(int max_batch) override {
    probs_ = Buffer(backend_, static_cast<std::size_t>(max_batch * 2));
    losses_ = Buffer(backend_, static_cast<std::size_t>(max_batch));
  }
  std::size_t first_ = 0, last_ = 0;
  Buffer probs_, losses_;
};

}  // namespace

std::unique_ptr<Model> make_violence(Backend& backend, const ModelConfig& config) {
  return std::make_unique<Violence>(backend, config);
}

}  // namespace parbench::models
