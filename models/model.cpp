// Model: flat parameter/gradient/buffer storage, initialisation, costs, and the head losses
// shared by the workloads.
#include "models/model.h"

#include <cmath>
#include <string_view>

#include <fmt/ranges.h>

#include "core/check.h"
#include "core/error.h"
#include "core/rng.h"

namespace parbench::models {

namespace {

std::uint64_t name_key(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then mixed: a stable key per tensor name
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return rng::mix(h);
}

}  // namespace

BatchView BatchView::rows_from(int begin) const {
  BatchView view = *this;
  for (auto& [name, pointer] : view.inputs) {
    const auto size = sample_floats.find(name);
    PB_CHECK(size != sample_floats.end(), "batch input {} has no row size", name);
    pointer += static_cast<std::ptrdiff_t>(begin) * size->second;
  }
  for (auto& [name, pointer] : view.targets) pointer += begin;
  return view;
}

BatchView Model::stage(const BatchView& batch, int rows) {
  if (backend_.host_memory() || batch.staged) return batch;
  PB_CHECK(rows >= 0 && rows <= max_batch_, "a batch of {} rows staged for a model allocated for {}", rows, max_batch_);
  BatchView device = batch;
  device.staged = true;
  const auto capacity = static_cast<std::size_t>(max_batch_);
  for (auto& [name, pointer] : device.inputs) {
    const auto floats = static_cast<std::size_t>(batch.sample_floats.at(name));
    Buffer& buffer = staged_inputs_[name];
    if (buffer.size() != capacity * floats) buffer = Buffer(backend_, capacity * floats);
    backend_.upload(buffer.data(), pointer, static_cast<std::size_t>(rows) * floats);
    pointer = buffer.data();
  }
  for (auto& [name, pointer] : device.targets) {
    Buffer& buffer = staged_targets_[name];
    if (buffer.size() != capacity) buffer = Buffer(backend_, capacity);
    // An int32 label in each float slot: the backend allocates floats only.
    static_assert(sizeof(std::int32_t) == sizeof(float));
    auto* labels = reinterpret_cast<std::int32_t*>(buffer.data());
    backend_.upload_targets(labels, pointer, static_cast<std::size_t>(rows));
    pointer = labels;
  }
  return device;
}

std::size_t Model::add(std::unique_ptr<Layer> layer, bool reads_model_input) {
  layers_.push_back(std::move(layer));
  reads_model_input_.push_back(reads_model_input);
  return layers_.size() - 1;
}

void Model::finalize() {
  std::size_t offset = 0, buffer_offset = 0;
  for (const auto& layer : layers_) {
    const auto specs = layer->parameter_specs();
    if (specs.empty()) {
      span_of_layer_.push_back(std::size_t(-1));
    } else {
      span_of_layer_.push_back(spans_.size());
      spans_.push_back({layer->name(), offset, 0});
    }
    for (const auto& spec : specs) {
      const auto count = static_cast<std::size_t>(spec.count());
      parameters_.push_back({layer->name() + "." + spec.name, spec.shape, offset, count, spec.init, spec.fan_in});
      offset += count;
    }
    if (!specs.empty()) spans_.back().count = offset - spans_.back().offset;
    for (const auto& spec : layer->buffer_specs()) {
      const auto count = static_cast<std::size_t>(spec.count());
      buffers_.push_back({layer->name() + "." + spec.name, spec.shape, buffer_offset, count, spec.init, 1});
      buffer_offset += count;
    }
  }
  parameter_count_ = offset;
  parameter_values_ = Buffer(backend_, offset);
  gradients_ = Buffer(backend_, offset);
  buffer_values_ = Buffer(backend_, buffer_offset);
  std::size_t p = 0, b = 0;
  for (const auto& layer : layers_) {
    layer->bind(parameter_values_.data() + p, gradients_.data() + p, buffer_values_.data() + b);
    for (const auto& spec : layer->parameter_specs()) p += static_cast<std::size_t>(spec.count());
    for (const auto& spec : layer->buffer_specs()) b += static_cast<std::size_t>(spec.count());
  }
  zero_gradients();
  initialize(0);
}

void Model::share_parameters(float* values) {
  for (std::size_t s = 0; s < spans_.size(); ++s) bind_span(s, values + spans_[s].offset);
  shared_parameters_ = values;
  parameter_values_ = Buffer();
}

void Model::bind_span(std::size_t span, float* values) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (span_of_layer_[i] == span) layers_[i]->bind_parameters(values);
  }
}

void Model::bind_span_gradients(std::size_t span, float* gradients) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (span_of_layer_[i] == span) layers_[i]->bind_gradients(gradients);
  }
}

void Model::release_gradients() {
  for (std::size_t s = 0; s < spans_.size(); ++s) bind_span_gradients(s, nullptr);
  gradients_ = Buffer();
}

void Model::release_parameters() {
  for (std::size_t s = 0; s < spans_.size(); ++s) bind_span(s, nullptr);
  shared_parameters_ = nullptr;
  parameter_values_ = Buffer();
}

void Model::initialize(std::uint64_t seed) {
  auto fill = [&](const std::vector<Parameter>& tensors, float* device) {
    for (const auto& tensor : tensors) {
      std::vector<float> values(tensor.count);
      const float bound = 1.0f / std::sqrt(static_cast<float>(tensor.fan_in));
      const std::uint64_t key = name_key(tensor.name);
      for (std::size_t i = 0; i < values.size(); ++i) {
        switch (tensor.init) {
          case Init::uniform_fan_in: values[i] = (2.0f * rng::uniform(rng::hash(seed, key, i)) - 1.0f) * bound; break;
          case Init::ones: values[i] = 1.0f; break;
          case Init::zeros: values[i] = 0.0f; break;
        }
      }
      backend_.upload(device + tensor.offset, values.data(), values.size());
    }
  };
  fill(parameters_, parameter_data());
  fill(buffers_, buffer_values_.data());
}

void Model::zero_gradients() { backend_.fill(gradients_.data(), 0.0f, gradients_.size()); }

void Model::allocate(int max_batch) {
  if (max_batch < 1) raise("batch size must be at least 1 (got {})", max_batch);
  max_batch_ = max_batch;
  outputs_.clear();
  output_gradients_.clear();
  for (const auto& layer : layers_) {
    layer->allocate(backend_, max_batch);
    const auto size = static_cast<std::size_t>(max_batch * layer->output_size());
    outputs_.emplace_back(backend_, size);
    output_gradients_.emplace_back(backend_, size);
  }
  allocate_extra(max_batch);
}

const float* Model::forward_chain(const Pass& pass, std::size_t first, std::size_t last, const float* input) {
  PB_CHECK(pass.batch >= 1 && pass.batch <= max_batch_, "batch {} outside 1..{} (allocate first)", pass.batch,
           max_batch_);
  const float* x = input;
  for (std::size_t i = first; i <= last; ++i) {
    const std::size_t span = span_of_layer_[i];
    if (pass.units && span != std::size_t(-1)) (*pass.units)(span, UnitEvent::before_forward);
    layers_[i]->forward(pass, outputs_[i].data(), x);
    if (pass.units && span != std::size_t(-1)) (*pass.units)(span, UnitEvent::after_forward);
    x = outputs_[i].data();
  }
  return x;
}

void Model::backward_chain(const Pass& pass, std::size_t first, std::size_t last, const float* input, float* dinput,
                           const GradientsReady& ready) {
  // Gradients accumulate: clear the chain's inner output gradients (output_gradient(last) is
  // the caller's seed and stays).
  for (std::size_t i = first; i < last; ++i) {
    backend_.fill(output_gradients_[i].data(), 0.0f, static_cast<std::size_t>(pass.batch * layers_[i]->output_size()));
  }
  for (std::size_t i = last + 1; i-- > first;) {
    const float* x = i == first ? input : outputs_[i - 1].data();
    float* dx = i == first ? dinput : output_gradients_[i - 1].data();
    const std::size_t span = span_of_layer_[i];
    if (pass.units && span != std::size_t(-1)) (*pass.units)(span, UnitEvent::before_backward);
    layers_[i]->backward(pass, dx, output_gradients_[i].data(), x, outputs_[i].data());
    if (pass.units && span != std::size_t(-1)) (*pass.units)(span, UnitEvent::after_backward);
    if (span != std::size_t(-1) && ready) ready(span);
  }
}

std::string Model::first_nonfinite_layer(int rows) const {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<float> values(static_cast<std::size_t>(rows * layers_[i]->output_size()));
    backend_.download(values.data(), outputs_[i].data(), values.size());
    for (const float value : values) {
      if (!std::isfinite(value)) return layers_[i]->name();
    }
  }
  return "loss";
}

std::int64_t Model::activation_floats_per_sample() const {
  std::int64_t floats = 0;
  for (const auto& layer : layers_) floats += 2 * layer->output_size() + layer->cost().saved_floats;
  return floats;
}

std::vector<LayerReport> Model::describe() const {
  std::vector<LayerReport> reports;
  for (const auto& layer : layers_) reports.push_back({layer->name(), layer->cost()});
  return reports;
}

double Model::forward_flops() const {
  double flops = 0;
  for (const auto& layer : layers_) flops += layer->cost().forward_flops;
  return flops;
}

double Model::training_flops() const {
  double flops = 0;
  for (const auto& layer : layers_) flops += layer->cost().forward_flops + layer->cost().backward_flops;
  // The inputs need no gradient: the first layer of each input branch skips dx.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (reads_model_input_[i]) flops -= layers_[i]->cost().input_gradient_flops;
  }
  return flops;
}

double Model::head_loss(const Pass& pass, const Head& head, const float* logits, float* probs, float* losses,
                        const BatchView& batch, const LossConfig& loss) const {
  const auto target = batch.targets.find(head.target);
  PB_CHECK(target != batch.targets.end(), "batch has no targets '{}' for head {}", head.target, head.name);
  backend_.softmax_forward(probs, logits, pass.batch, head.classes);
  backend_.loss_forward(losses, probs, target->second, class_weights(head, loss), pass.batch, head.classes, loss.spec);
  std::vector<float> host(static_cast<std::size_t>(pass.batch));
  backend_.download(host.data(), losses, host.size());
  double sum = 0;
  for (const float value : host) sum += value;
  return sum * head.loss_weight;
}

void Model::head_backward(const Pass& pass, const Head& head, float* dlogits, const float* probs,
                          const BatchView& batch, const LossConfig& loss, float scale) const {
  backend_.loss_backward(dlogits, probs, batch.targets.at(head.target), class_weights(head, loss), pass.batch,
                         head.classes, loss.spec, scale * head.loss_weight);
}

const float* Model::class_weights(const Head& head, const LossConfig& loss) const {
  const auto weights = loss.class_weights.find(head.name);
  if (weights == loss.class_weights.end() || weights->second.empty()) return nullptr;
  if (static_cast<int>(weights->second.size()) != head.classes) {
    raise("head {} has {} classes but {} class weights were given", head.name, head.classes, weights->second.size());
  }
  Buffer& device = class_weights_[head.name];
  if (device.size() != weights->second.size()) device = Buffer(backend_, weights->second.size());
  backend_.upload(device.data(), weights->second.data(), weights->second.size());
  return device.data();
}

}  // namespace parbench::models
