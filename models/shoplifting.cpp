// `shoplifting` (design.md §2): visual (2048) -> Dense 512 -> ReLU and pose (T x 34, flattened)
// -> Dense 256 -> ReLU, concatenated (768) into a shared trunk Dense 256 -> BN -> ReLU ->
// Dropout 0.3, and two heads: anomaly (2) and action (14). Loss CE(anomaly) + 0.5 CE(action).
#include "models/workloads.h"

namespace parbench::models {

namespace {

constexpr std::int64_t kVisual = 2048, kKeypoints = 34, kVisualOut = 512, kPoseOut = 256, kTrunk = 256;
constexpr int kActions = 14;

class Shoplifting final : public Model {
 public:
  Shoplifting(Backend& backend, const ModelConfig& config) : Model(backend) {
    const float p = config.dropout >= 0 ? config.dropout : 0.3f;
    const std::int64_t frames = config.steps > 0 ? config.steps : 16;
    visual_ = add(linear("visual", kVisual, kVisualOut), true);
    visual_relu_ = add(relu("visual_relu", kVisualOut));
    pose_ = add(linear("pose", frames * kKeypoints, kPoseOut), true);
    pose_relu_ = add(relu("pose_relu", kPoseOut));
    trunk_ = add(linear("trunk", kVisualOut + kPoseOut, kTrunk));
    add(batchnorm("trunk_bn", kTrunk));
    add(relu("trunk_relu", kTrunk));
    trunk_end_ = add(dropout("trunk_drop", kTrunk, p, 1));
    anomaly_ = add(linear("anomaly", kTrunk, 2));
    action_ = add(linear("action", kTrunk, kActions));
    finalize();
  }

  std::string workload() const override { return "shoplifting"; }
  std::vector<Head> heads() const override {
    return {{"anomaly", "labels", 2, 1.0f}, {"action", "action", kActions, 0.5f}};
  }

  double forward(const Pass& pass, const BatchView& batch, const LossConfig& loss) override {
    const int rows = pass.batch;
    const float* visual = forward_chain(pass, visual_, visual_relu_, batch.inputs.at("visual"));
    const float* pose = forward_chain(pass, pose_, pose_relu_, batch.inputs.at("pose"));
    // concat (B, 768) = [visual (B, 512) | pose (B, 256)]
    constexpr int width = kVisualOut + kPoseOut;
    backend_.copy_2d(concat_.data(), width, visual, kVisualOut, rows, kVisualOut);
    backend_.copy_2d(concat_.data() + kVisualOut, width, pose, kPoseOut, rows, kPoseOut);
    const float* trunk = forward_chain(pass, trunk_, trunk_end_, concat_.data());
    const auto head_list = heads();
    double total = 0;
    for (std::size_t h = 0; h < 2; ++h) {
      const std::size_t layer = h == 0 ? anomaly_ : action_;
      const float* logits = forward_chain(pass, layer, layer, trunk);
      total += head_loss(pass, head_list[h], logits, probs_[h].data(), losses_.data(), batch, loss);
    }
    return total;
  }

  void backward(const Pass& pass, const BatchView& batch, const LossConfig& loss, float scale,
                const GradientsReady& ready) override {
    const int rows = pass.batch;
    const auto head_list = heads();
    float* dtrunk = output_gradient(trunk_end_);
    backend_.fill(dtrunk, 0.0f, static_cast<std::size_t>(rows * kTrunk));
    // Heads in reverse order of forward; both add into the trunk's output gradient.
    for (std::size_t h = 2; h-- > 0;) {
      const std::size_t layer = h == 0 ? anomaly_ : action_;
      float* dlogits = output_gradient(layer);
      backend_.fill(dlogits, 0.0f, static_cast<std::size_t>(rows) * head_list[h].classes);
      head_backward(pass, head_list[h], dlogits, probs_[h].data(), batch, loss, scale);
      backward_chain(pass, layer, layer, output(trunk_end_), dtrunk, ready);
    }
    constexpr int width = kVisualOut + kPoseOut;
    backend_.fill(dconcat_.data(), 0.0f, static_cast<std::size_t>(rows) * width);
    backward_chain(pass, trunk_, trunk_end_, concat_.data(), dconcat_.data(), ready);
    // Split the concatenation's gradient back into the branches' output gradients.
    backend_.copy_2d(output_gradient(pose_relu_), kPoseOut, dconcat_.data() + kVisualOut, width, rows, kPoseOut);
    backward_chain(pass, pose_, pose_relu_, batch.inputs.at("pose"), nullptr, ready);
    backend_.copy_2d(output_gradient(visual_relu_), kVisualOut, dconcat_.data(), width, rows, kVisualOut);
    backward_chain(pass, visual_, visual_relu_, batch.inputs.at("visual"), nullptr, ready);
  }

  const float* probabilities(const std::string& head) const override {
    return probs_[head == "anomaly" ? 0 : 1].data();
  }

 private:
  void allocate_extra(int max_batch) override {
    const auto rows = static_cast<std::size_t>(max_batch);
    concat_ = Buffer(backend_, rows * (kVisualOut + kPoseOut));
    dconcat_ = Buffer(backend_, rows * (kVisualOut + kPoseOut));
    probs_[0] = Buffer(backend_, rows * 2);
    probs_[1] = Buffer(backend_, rows * kActions);
    losses_ = Buffer(backend_, rows);
  }
  std::size_t visual_ = 0, visual_relu_ = 0, pose_ = 0, pose_relu_ = 0, trunk_ = 0, trunk_end_ = 0, anomaly_ = 0,
              action_ = 0;
  Buffer concat_, dconcat_, losses_;
  Buffer probs_[2];
};

}  // namespace

std::unique_ptr<Model> make_shoplifting(Backend& backend, const ModelConfig& config) {
  return std::make_unique<Shoplifting>(backend, config);
}

}  // namespace parbench::models
