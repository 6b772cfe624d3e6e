// checkpoint_diff A.h5 B.h5 TOL: compares two parbench checkpoints tensor by tensor (parameters,
// BatchNorm buffers, Adam m and v) with |a - b| <= TOL * (1e-3 + |b|), i.e. relative with an
// absolute floor for values near zero; prints the worst tensor of each group; exit 1 when a
// tensor is over, 2 on bad input.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/checkpoint.h"

namespace {

double worst(const std::vector<parbench::data::NamedTensor>& a, const std::vector<parbench::data::NamedTensor>& b,
             std::string& where) {
  if (a.size() != b.size()) parbench::raise("the checkpoints hold {} and {} tensors", a.size(), b.size());
  double result = 0;
  for (std::size_t t = 0; t < a.size(); ++t) {
    if (a[t].name != b[t].name || a[t].values.size() != b[t].values.size()) {
      parbench::raise("tensor {} of one checkpoint is {} in the other", a[t].name, b[t].name);
    }
    for (std::size_t i = 0; i < a[t].values.size(); ++i) {
      const double d =
          std::abs(static_cast<double>(a[t].values[i]) - b[t].values[i]) / (1e-3 + std::abs(b[t].values[i]));
      if (d > result) {
        result = d;
        where = a[t].name + "[" + std::to_string(i) + "]";
      }
    }
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: checkpoint_diff A.h5 B.h5 TOLERANCE\n");
    return 2;
  }
  try {
    const auto a = parbench::data::load_checkpoint(argv[1], "");
    const auto b = parbench::data::load_checkpoint(argv[2], "");
    const double tolerance = std::atof(argv[3]);
    bool over = false;
    const std::pair<const char*, std::pair<const std::vector<parbench::data::NamedTensor>*,
                                           const std::vector<parbench::data::NamedTensor>*>>
        groups[] = {{"params", {&a.params, &b.params}},
                    {"buffers", {&a.buffers, &b.buffers}},
                    {"adam_m", {&a.adam_m, &b.adam_m}},
                    {"adam_v", {&a.adam_v, &b.adam_v}}};
    for (const auto& [name, pair] : groups) {
      std::string where = "-";
      const double w = worst(*pair.first, *pair.second, where);
      std::printf("%-8s worst relative difference %.3g at %s\n", name, w, where.c_str());
      over = over || w > tolerance;
    }
    if (a.step != b.step) {
      std::printf("steps differ: %lld and %lld\n", static_cast<long long>(a.step), static_cast<long long>(b.step));
      over = true;
    }
    return over ? 1 : 0;
  } catch (const parbench::Error& error) {
    std::fprintf(stderr, "checkpoint_diff: %s\n", error.what());
    return 2;
  }
}
