// Layers of the workloads, built only from the Backend interface. A layer declares its
// parameters (PyTorch names and shapes), computes forward and backward on caller-owned
// activation buffers, keeps what its backward needs, and states its own cost (parameters,
// FLOPs, saved activations) so that `parbench describe` and the reports derive them, never
// hard-code them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/buffer.h"

namespace parbench::models {

using kernels::Backend;
using kernels::Buffer;

// How a tensor is initialised: PyTorch's defaults (Linear and LSTM weights uniform in
// +-1/sqrt(fan_in); BatchNorm weight 1, bias 0; running variance 1).
enum class Init { uniform_fan_in, ones, zeros };

struct TensorSpec {
  std::string name;  // suffix after the layer name: "weight_ih_l0"
  std::vector<std::int64_t> shape;
  Init init = Init::uniform_fan_in;
  std::int64_t fan_in = 1;
  std::int64_t count() const;
};

// Around each parameter-owning layer's forward and backward, so that a sharded strategy (ZeRO-3,
// FSDP FULL_SHARD) can gather the layer's parameters just before and release them just after.
enum class UnitEvent { before_forward, after_forward, before_backward, after_backward };
using UnitHook = std::function<void(std::size_t span, UnitEvent event)>;

// What one forward/backward call needs besides tensors.
struct Pass {
  Backend& backend;
  int batch = 0;           // rows of this (shard of the) batch
  bool training = true;    // BatchNorm batch statistics and dropout on
  std::uint64_t seed = 0;  // dropout: masks keyed by (seed, step, layer, global sample, element)
  std::uint64_t step = 0;
  std::int64_t first_sample = 0;  // global index of row 0 of this batch
  // Set when this batch is one replica's shard of a larger batch and BatchNorm must use the
  // statistics of the whole batch (--sync-bn); nullptr: statistics of this batch.
  const kernels::ReplicaSum* sync = nullptr;
  const UnitHook* units = nullptr;  // nullptr: parameters stay where they are bound
};

struct LayerCost {
  std::int64_t parameters = 0;
  double forward_flops = 0;         // per sample
  double backward_flops = 0;        // per sample, including the input gradient
  double input_gradient_flops = 0;  // the part of backward_flops that computes dx (skipped for the first layer)
  std::int64_t saved_floats = 0;    // per sample: kept from forward to backward inside the layer
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  const std::string& name() const { return name_; }

  virtual std::vector<TensorSpec> parameter_specs() const { return {}; }
  virtual std::vector<TensorSpec> buffer_specs() const { return {}; }  // running statistics
  // Views into the model's flat buffers, in parameter_specs()/buffer_specs() order.
  void bind(float* parameters, float* gradients, float* buffers) {
    parameters_ = parameters;
    gradients_ = gradients;
    buffers_ = buffers;
  }
  void bind_parameters(float* parameters) { parameters_ = parameters; }
  void bind_gradients(float* gradients) { gradients_ = gradients; }
  // Allocates what the layer keeps between forward and backward for up to `max_batch` rows.
  virtual void allocate(Backend&, int /*max_batch*/) {}

  virtual std::int64_t input_size() const = 0;   // floats per sample in
  virtual std::int64_t output_size() const = 0;  // floats per sample out
  // y (batch, output_size) = layer(x (batch, input_size)).
  virtual void forward(const Pass& pass, float* y, const float* x) = 0;
  // dx (batch, input_size) += ..., parameter gradients +=; dx may be nullptr. x and y are the
  // forward call's input and output.
  virtual void backward(const Pass& pass, float* dx, const float* dy, const float* x, const float* y) = 0;
  virtual LayerCost cost() const = 0;

 protected:
  float* parameters_ = nullptr;
  float* gradients_ = nullptr;
  float* buffers_ = nullptr;

 private:
  std::string name_;
};

// y (B, out) = x (B, in) W^T + b; W (out, in), b (out).
std::unique_ptr<Layer> linear(std::string name, std::int64_t in, std::int64_t out);
// One bidirectional LSTM layer over (B, T, I) -> (B, T, 2H), nn.LSTM(I, H, bidirectional=True).
std::unique_ptr<Layer> bilstm(std::string name, std::int64_t steps, std::int64_t input, std::int64_t hidden);
// BatchNorm1d over `features` columns; a sample holds rows_per_sample rows (T for (B, T, C)).
std::unique_ptr<Layer> batchnorm(std::string name, std::int64_t features, std::int64_t rows_per_sample = 1);
std::unique_ptr<Layer> relu(std::string name, std::int64_t size);
// Inverted dropout; `stream` tells this layer's masks from the other dropout layers'.
std::unique_ptr<Layer> dropout(std::string name, std::int64_t size, float p, std::uint64_t stream);
// Additive attention over time: (B, T, D) -> (B, D); parameters proj (A, D) + bias (A), score (1, A).
std::unique_ptr<Layer> attention(std::string name, std::int64_t steps, std::int64_t features, std::int64_t hidden);

}  // namespace parbench::models
