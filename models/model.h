// A workload's model: its layers, its parameters in one flat buffer (and gradients in another,
// same layout), its loss, and a backward pass that reports each layer's gradients as soon as
// they are complete. Strategies build on exactly this: DDP buckets and ZeRO shards are ranges of
// the flat buffers, and communication hangs on the "gradients ready" callback.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/layer.h"

namespace parbench::models {

// One named tensor (PyTorch name and shape) inside a flat buffer.
struct Parameter {
  std::string name;  // "lstm1.weight_ih_l0"
  std::vector<std::int64_t> shape;
  std::size_t offset = 0;  // in floats, into the flat buffer
  std::size_t count = 0;
  Init init = Init::zeros;
  std::int64_t fan_in = 1;
};

// The parameters of one layer: a contiguous range of the flat buffers, forward order.
struct LayerSpan {
  std::string layer;
  std::size_t offset = 0, count = 0;
};

// Inputs and targets of one batch (or shard): device pointers by dataset name, rows = batch.
struct BatchView {
  std::map<std::string, const float*> inputs;          // e.g. "features" (B, T, D)
  std::map<std::string, const std::int32_t*> targets;  // e.g. "labels" (B)
  std::map<std::string, std::int64_t> sample_floats;   // per input: floats per row (T * D)
  bool staged = false;  // pointers are the model's backend memory (Model::stage), not the host's

  // Rows [begin, ...) of this batch: every pointer advanced by `begin` rows.
  BatchView rows_from(int begin) const;
};

// One classification head: its logits' class count, the dataset holding its targets, its weight
// in the total loss.
struct Head {
  std::string name;
  std::string target;
  int classes = 2;
  float loss_weight = 1.0f;
};

struct LossConfig {
  kernels::LossSpec spec;
  std::map<std::string, std::vector<float>> class_weights;  // by head; empty = all 1
};

struct LayerReport {
  std::string name;
  LayerCost cost;
};

class Model {
 public:
  using GradientsReady = std::function<void(std::size_t span)>;

  explicit Model(Backend& backend) : backend_(backend) {}
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  virtual std::string workload() const = 0;
  virtual std::vector<Head> heads() const = 0;
  Backend& backend() const { return backend_; }

  const std::vector<Parameter>& parameters() const { return parameters_; }
  const std::vector<Parameter>& buffers() const { return buffers_; }  // BatchNorm running statistics
  const std::vector<LayerSpan>& spans() const { return spans_; }
  std::size_t parameter_count() const { return parameter_count_; }
  float* parameter_data() { return shared_parameters_ ? shared_parameters_ : parameter_values_.data(); }
  float* gradient_data() { return gradients_.data(); }
  float* buffer_data() { return buffer_values_.data(); }
  std::size_t buffer_count() const { return buffer_values_.size(); }

  // Binds every layer to `values` (parameter_count() floats, same layout) owned by someone else
  // (replicas sharing one copy of the parameters) and frees this model's own copy.
  void share_parameters(float* values);
  // Binds the layer of `span` to `values` (its span's count floats), e.g. a gathered ZeRO-3 unit.
  void bind_span(std::size_t span, float* values);
  // Binds the layer of `span` to `gradients` (its span's count floats): a sharded strategy's
  // unit-sized gradient buffer, reduce-scattered as soon as the unit's backward is done.
  void bind_span_gradients(std::size_t span, float* gradients);
  // Free this model's own gradient (parameter) buffer for a strategy that keeps only shards
  // (ZeRO-2, ZeRO-3): every span must then be bound with bind_span_gradients (bind_span or
  // share_parameters) before its layer runs; gradient_data() (parameter_data()) is nullptr meanwhile.
  void release_gradients();
  void release_parameters();

  // PyTorch's default initialisation, drawn from a counter-based generator keyed by (seed, name).
  void initialize(std::uint64_t seed);
  void zero_gradients();
  // Buffers for batches of up to max_batch rows; must precede forward.
  void allocate(int max_batch);
  int max_batch() const { return max_batch_; }

  // `batch` (host memory, `rows` rows) where this model's backend reads it: `batch` itself on a
  // host-memory backend or when already staged, else a copy in device buffers the model keeps
  // (sized by allocate's max_batch, reused by every step, overwritten by the next call).
  BatchView stage(const BatchView& batch, int rows);

  // Forward pass and per-sample losses; returns the sum over the batch of each sample's weighted
  // loss (heads combined with their loss weights). pass.batch rows.
  virtual double forward(const Pass& pass, const BatchView& batch, const LossConfig& loss) = 0;
  // Backward from the last forward; gradients += scale * d(sum of losses); `ready(span)` is called
  // once per parameter-owning layer as soon as its gradients are final, in backward order.
  virtual void backward(const Pass& pass, const BatchView& batch, const LossConfig& loss, float scale,
                        const GradientsReady& ready) = 0;
  // Softmax probabilities of a head after forward: (batch, classes) on the device.
  virtual const float* probabilities(const std::string& head) const = 0;

  // After a forward pass that produced a non-finite loss: the first layer (in forward order)
  // whose output holds NaN or Inf, or "loss" when every output is finite.
  std::string first_nonfinite_layer(int rows) const;

  // Per layer: parameters, FLOPs per sample, saved activations (computed from the layers).
  std::vector<LayerReport> describe() const;
  // Activation floats per sample held between forward and backward: every layer's output, its
  // gradient, and what the layers keep for backward.
  std::int64_t activation_floats_per_sample() const;
  // FLOPs per sample of a training step (forward + backward, without the first layer's input
  // gradient, which is never computed) and of forward alone.
  double forward_flops() const;
  double training_flops() const;

 protected:
  // Adds a layer; `reads_model_input`: its input is a batch tensor, which needs no gradient.
  // Returns the layer's index.
  std::size_t add(std::unique_ptr<Layer> layer, bool reads_model_input = false);
  // Allocates the flat buffers and binds every layer to its range. Call once, after all add().
  void finalize();
  // Workload-specific buffers (beyond layer outputs and their gradients) for max_batch rows.
  virtual void allocate_extra(int max_batch) = 0;

  // Runs layers first..last (a chain) on `input`; returns the last layer's output.
  const float* forward_chain(const Pass& pass, std::size_t first, std::size_t last, const float* input);
  // Backward through the chain from output_gradient(last), which the caller has filled; dinput
  // (may be nullptr) += the gradient for `input`. Calls ready() after each layer with parameters.
  void backward_chain(const Pass& pass, std::size_t first, std::size_t last, const float* input, float* dinput,
                      const GradientsReady& ready);
  float* output(std::size_t layer) { return outputs_[layer].data(); }
  float* output_gradient(std::size_t layer) { return output_gradients_[layer].data(); }
  // Computes per-head softmax, losses and dlogits (+= scale * ...) for a head.
  double head_loss(const Pass& pass, const Head& head, const float* logits, float* probs, float* losses,
                   const BatchView& batch, const LossConfig& loss) const;
  void head_backward(const Pass& pass, const Head& head, float* dlogits, const float* probs, const BatchView& batch,
                     const LossConfig& loss, float scale) const;

  Backend& backend_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::size_t> span_of_layer_;  // index into spans_, or npos for layers without parameters
  std::vector<bool> reads_model_input_;

 private:
  std::vector<Parameter> parameters_, buffers_;
  std::vector<LayerSpan> spans_;
  Buffer parameter_values_, gradients_, buffer_values_;
  const float* class_weights(const Head& head, const LossConfig& loss) const;
  std::vector<Buffer> outputs_, output_gradients_;       // per layer: (max_batch, output_size)
  mutable std::map<std::string, Buffer> class_weights_;  // per head, on the device
  std::map<std::string, Buffer> staged_inputs_;          // by input: (max_batch, sample_floats)
  std::map<std::string, Buffer> staged_targets_;         // by target: (max_batch) int32 in float slots
  int max_batch_ = 0;
  std::size_t parameter_count_ = 0;  // kept: the buffers above may be shared or released
  float* shared_parameters_ = nullptr;
};

// Shapes come from the dataset; 0 selects the workload's default (violence T = 20, D = 4096;
// shoplifting pose T = 16).
struct ModelConfig {
  std::int64_t steps = 0;     // violence: frames T; shoplifting: pose frames
  std::int64_t features = 0;  // violence: feature size D
  float dropout = -1.0f;      // < 0: the workload's default (violence 0.5, shoplifting 0.3)
};

// Creates a workload's model; throws parbench::Error listing the workloads for an unknown name.
std::unique_ptr<Model> make_model(const std::string& workload, Backend& backend, const ModelConfig& config);
std::vector<std::string> model_names();
// The workload's loss (design.md §2): violence focal with label smoothing 0.1, shoplifting CE.
kernels::LossSpec default_loss(const std::string& workload);

}  // namespace parbench::models
