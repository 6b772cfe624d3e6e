// The default state handling of Strategy: one replica with the whole optimizer state.
#include "strategies/strategy.h"

namespace parbench::strategies {

namespace {

std::vector<float> download(kernels::Backend& backend, const float* device, std::size_t count) {
  std::vector<float> host(count);
  if (count) backend.download(host.data(), device, count);
  return host;
}

}  // namespace

FullState Strategy::state() {
  models::Model& m = evaluation_model();
  kernels::Backend& b = backend();
  FullState s;
  s.parameters = download(b, m.parameter_data(), m.parameter_count());
  s.buffers = download(b, m.buffer_data(), m.buffer_count());
  if (optimizer().state_floats()) {
    s.m = download(b, optimizer().m(), m.parameter_count());
    s.v = download(b, optimizer().v(), m.parameter_count());
  }
  return s;
}

void Strategy::load_state(const FullState& s) {
  models::Model& m = model();
  kernels::Backend& b = backend();
  b.upload(m.parameter_data(), s.parameters.data(), m.parameter_count());
  if (m.buffer_count()) b.upload(m.buffer_data(), s.buffers.data(), m.buffer_count());
  if (optimizer().state_floats()) {
    b.upload(optimizer().m(), s.m.data(), m.parameter_count());
    b.upload(optimizer().v(), s.v.data(), m.parameter_count());
  }
}

}  // namespace parbench::strategies
