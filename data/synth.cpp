// Synthetic data generator. Violence: post-ReLU "fc2-like" features (sparse, non-negative) with a
// class-dependent oscillation in a 256-dimensional subspace: slow drift for non-violent clips, fast
// and stronger motion for violent ones. Shoplifting: visual features carrying an action prototype
// and an anomaly direction, and 17-keypoint pose tracks whose arms move faster and wider in
// anomalous clips. Only the temporal pattern and prototypes carry the label; the rest is noise.
#include "data/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "core/half.h"
#include "core/interrupt.h"
#include "core/rng.h"
#include "data/schema.h"

namespace parbench::data {

namespace {

// Streams of the counter-based generator, one per kind of draw.
enum Stream : std::uint64_t {
  kLabel = 1,
  kPhase,
  kAmplitude,
  kSignalDim,
  kSignalSign,
  kBase,
  kPrototype,
  kAction,
  kShift,
  kNoise = 1000
};

constexpr std::int64_t kSignalDims = 256;
constexpr std::int64_t kVisualDim = 2048;
constexpr std::int64_t kPoseDim = 34;
constexpr std::int64_t kActionClasses = 13;  // crimes; class 13 is Normal
constexpr std::int64_t kPrototypeDims = 48;
constexpr float kTwoPi = 2.0f * std::numbers::pi_v<float>;

std::int64_t frames_of(const SynthOptions& options) {
  if (options.frames > 0) return options.frames;
  return options.workload == "shoplifting" ? 16 : 20;
}

float draw(const SynthOptions& o, Stream stream, std::uint64_t counter) {
  return rng::uniform(rng::hash(o.seed, stream, counter));
}

void generate_violence(const SynthOptions& o, std::int64_t first, std::int64_t count, SynthBlock& block) {
  const std::int64_t frames = frames_of(o), dim = o.feature_dim;
  const std::int64_t signal_dims = std::min(kSignalDims, dim);
  block.features.resize(static_cast<std::size_t>(count * frames * dim));
  block.labels.resize(static_cast<std::size_t>(count));
  std::vector<float> base(static_cast<std::size_t>(dim));  // per-feature mean level, the same for every sample
  for (std::int64_t d = 0; d < dim; ++d)
    base[static_cast<std::size_t>(d)] = 0.3f * draw(o, kBase, static_cast<std::uint64_t>(d));
  for (std::int64_t s = 0; s < count; ++s) {
    const auto i = static_cast<std::uint64_t>(first + s);
    const int label = draw(o, kLabel, i) < o.positive_fraction ? 1 : 0;
    block.labels[static_cast<std::size_t>(s)] = label;
    const float phase = kTwoPi * draw(o, kPhase, i);
    const float amplitude = (0.8f + 0.4f * draw(o, kAmplitude, i)) * (label ? 1.5f : 1.0f);
    const float cycles_per_frame = label ? 0.2f : 0.05f;
    const std::uint64_t sample_key = rng::hash(o.seed, kNoise, i);
    float* x = block.features.data() + s * frames * dim;  // (T, D)
    for (std::int64_t t = 0; t < frames; ++t) {
      for (std::int64_t d = 0; d < dim; ++d) {
        const auto e = static_cast<std::uint64_t>(t * dim + d);
        x[e] = base[static_cast<std::size_t>(d)] + 0.5f * rng::normal(rng::mix(sample_key ^ e));
      }
    }
    for (std::int64_t k = 0; k < signal_dims; ++k) {
      const std::int64_t d = k * (dim / signal_dims);
      const float sign = draw(o, kSignalSign, static_cast<std::uint64_t>(k)) < 0.5f ? -1.0f : 1.0f;
      const float offset = kTwoPi * draw(o, kSignalDim, static_cast<std::uint64_t>(k));
      for (std::int64_t t = 0; t < frames; ++t) {
        x[t * dim + d] +=
            sign * amplitude * std::sin(kTwoPi * cycles_per_frame * static_cast<float>(t) + phase + offset);
      }
    }
    for (std::int64_t e = 0; e < frames * dim; ++e) x[e] = std::max(x[e], 0.0f);
  }
}

void generate_shoplifting(const SynthOptions& o, std::int64_t first, std::int64_t count, SynthBlock& block) {
  const std::int64_t frames = frames_of(o);
  block.visual.resize(static_cast<std::size_t>(count * kVisualDim));
  block.pose.resize(static_cast<std::size_t>(count * frames * kPoseDim));
  block.labels.resize(static_cast<std::size_t>(count));
  block.action.resize(static_cast<std::size_t>(count));
  for (std::int64_t s = 0; s < count; ++s) {
    const auto i = static_cast<std::uint64_t>(first + s);
    const int anomaly = draw(o, kLabel, i) < o.positive_fraction ? 1 : 0;
    const auto action = anomaly ? static_cast<std::int32_t>(rng::hash(o.seed, kAction, i) % kActionClasses)
                                : static_cast<std::int32_t>(kActionClasses);
    block.labels[static_cast<std::size_t>(s)] = anomaly;
    block.action[static_cast<std::size_t>(s)] = action;
    const float amplitude = 0.8f + 0.4f * draw(o, kAmplitude, i);
    const std::uint64_t sample_key = rng::hash(o.seed, kNoise, i);

    float* v = block.visual.data() + s * kVisualDim;  // (2048)
    for (std::int64_t d = 0; d < kVisualDim; ++d) {
      v[d] = 0.5f * draw(o, kBase, static_cast<std::uint64_t>(d)) +
             0.5f * rng::normal(rng::mix(sample_key ^ static_cast<std::uint64_t>(d)));
    }
    // Prototype dims of the action class (classes 0..13), and a direction shared by all anomalies.
    for (std::int64_t k = 0; k < kPrototypeDims; ++k) {
      const auto action_dim = rng::hash(o.seed, kPrototype, static_cast<std::uint64_t>(action * kPrototypeDims + k));
      v[action_dim % kVisualDim] += 1.2f * amplitude;
      if (anomaly) {
        const auto shared_dim = rng::hash(o.seed, kPrototype, static_cast<std::uint64_t>(1000 + k));
        v[shared_dim % kVisualDim] += 0.8f * amplitude;
      }
    }
    for (std::int64_t d = 0; d < kVisualDim; ++d) v[d] = std::max(v[d], 0.0f);

    // 17 keypoints (x, y) in [0, 1]: a fixed skeleton, shifted per clip; arms (keypoints 7..10:
    // elbows and wrists) oscillate, fast and wide in anomalous clips.
    float* p = block.pose.data() + s * frames * kPoseDim;  // (T, 34)
    const float shift_x = 0.2f * draw(o, kShift, 2 * i) - 0.1f, shift_y = 0.2f * draw(o, kShift, 2 * i + 1) - 0.1f;
    const float swing = anomaly ? 0.06f + 0.01f * static_cast<float>(action % 4) : 0.015f;
    const float cycles_per_frame = anomaly ? 0.25f : 0.06f;
    const float phase = kTwoPi * draw(o, kPhase, i);
    for (std::int64_t t = 0; t < frames; ++t) {
      for (std::int64_t j = 0; j < 17; ++j) {
        const auto jj = static_cast<std::uint64_t>(j);
        float x = 0.35f + 0.3f * draw(o, kBase, 4096 + 2 * jj) + shift_x;
        float y = 0.2f + 0.6f * draw(o, kBase, 4096 + 2 * jj + 1) + shift_y;
        if (j >= 7 && j <= 10) {
          const float angle = kTwoPi * cycles_per_frame * static_cast<float>(t) + phase + static_cast<float>(j);
          x += swing * amplitude * std::sin(angle);
          y += swing * amplitude * std::cos(angle);
        }
        const auto e = static_cast<std::uint64_t>((t * 17 + j) * 2);
        x += 0.01f * rng::normal(rng::mix(sample_key ^ (0x100000 + e)));
        y += 0.01f * rng::normal(rng::mix(sample_key ^ (0x100000 + e + 1)));
        p[t * kPoseDim + 2 * j] = std::clamp(x, 0.0f, 1.0f);
        p[t * kPoseDim + 2 * j + 1] = std::clamp(y, 0.0f, 1.0f);
      }
    }
  }
}

void check_options(const SynthOptions& o) {
  workload_spec(o.workload);
  if (o.samples < 1) raise("--samples must be at least 1 (got {})", o.samples);
  if (o.dtype != h5::Dtype::f32 && o.dtype != h5::Dtype::f16) raise("--dtype must be f32 or f16");
  if (o.gzip_level < 0 || o.gzip_level > 9) raise("--compression must be 0..9 (got {})", o.gzip_level);
  if (!(o.positive_fraction >= 0.0 && o.positive_fraction <= 1.0)) {
    raise("--balance must be in [0, 1] (got {})", o.positive_fraction);
  }
  if (o.frames < 0 || o.feature_dim < 1) raise("--frames and --dim must be positive");
  if (o.chunk_samples < 0) raise("--chunk-samples must be positive (got {})", o.chunk_samples);
}

struct Output {
  std::string name;
  h5::Dataset dataset;
  std::int64_t row_elements;
  bool is_float;
};

}  // namespace

std::vector<SplitFraction> parse_splits(const std::string& text) {
  std::vector<SplitFraction> splits;
  bool explicit_fractions = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const std::size_t eq = item.find('=');
    SplitFraction split{item.substr(0, eq), 0.0};
    if (eq != std::string::npos) {
      explicit_fractions = true;
      try {
        split.fraction = std::stod(item.substr(eq + 1));
      } catch (const std::exception&) {
        raise("--split: '{}' is not name=fraction", item);
      }
    }
    if (split.name.empty() || split.name.find('/') != std::string::npos) raise("--split: bad split name in '{}'", text);
    for (const auto& other : splits) {
      if (other.name == split.name) raise("--split: {} named twice", split.name);
    }
    splits.push_back(split);
    start = comma + 1;
  }
  if (!explicit_fractions) {
    static const std::vector<std::vector<double>> defaults = {{1.0}, {0.8, 0.2}, {0.8, 0.1, 0.1}};
    if (splits.size() > defaults.size()) raise("--split: give fractions (name=fraction) for more than three splits");
    for (std::size_t i = 0; i < splits.size(); ++i) splits[i].fraction = defaults[splits.size() - 1][i];
  }
  double total = 0;
  for (const auto& split : splits) {
    if (!(split.fraction > 0)) raise("--split: fraction of {} must be positive", split.name);
    total += split.fraction;
  }
  if (std::abs(total - 1.0) > 1e-6) raise("--split: fractions add up to {}, expected 1", total);
  return splits;
}

std::int64_t default_chunk_samples(std::int64_t sample_bytes) {
  return std::max<std::int64_t>(1, (std::int64_t{256} << 10) / std::max<std::int64_t>(1, sample_bytes));
}

void generate(const SynthOptions& options, std::int64_t first, std::int64_t count, SynthBlock& block) {
  if (options.workload == "violence") {
    generate_violence(options, first, count, block);
  } else if (options.workload == "shoplifting") {
    generate_shoplifting(options, first, count, block);
  } else {
    workload_spec(options.workload);
    raise("parbench data synth has no generator for workload {}", options.workload);
  }
}

WriteReport synthesize(const SynthOptions& options, const std::filesystem::path& path,
                       const std::function<void(const WriteProgress&)>& progress) {
  check_options(options);
  const WorkloadSpec& spec = workload_spec(options.workload);
  const auto start = std::chrono::steady_clock::now();
  std::vector<SplitFraction> splits = options.splits;
  if (splits.empty()) splits.push_back({"", 1.0});
  // Split sizes: floor of each share, the remainder to the first split.
  std::vector<std::int64_t> counts;
  std::int64_t assigned = 0;
  for (const auto& split : splits) {
    counts.push_back(static_cast<std::int64_t>(std::floor(split.fraction * static_cast<double>(options.samples))));
    assigned += counts.back();
  }
  counts[0] += options.samples - assigned;
  for (std::size_t k = 0; k < splits.size(); ++k) {
    if (counts[k] < 1) raise("--samples {} leaves split {} empty; use more samples", options.samples, splits[k].name);
  }

  const std::int64_t frames = frames_of(options);
  auto row_elements = [&](const FieldSpec& field) -> std::int64_t {
    if (field.is_target) return 1;
    if (field.name == "features") return frames * options.feature_dim;
    if (field.name == "pose") return frames * kPoseDim;
    return kVisualDim;
  };
  auto row_shape = [&](const FieldSpec& field) -> std::vector<std::int64_t> {
    if (field.is_target) return {};
    if (field.name == "features") return {frames, options.feature_dim};
    if (field.name == "pose") return {frames, kPoseDim};
    return {kVisualDim};
  };
  const std::int64_t value_bytes = options.dtype == h5::Dtype::f16 ? 2 : 4;
  std::int64_t largest_row = 1, sample_bytes = 0;
  for (const auto* input : spec.inputs()) {
    largest_row = std::max(largest_row, row_elements(*input));
    sample_bytes += row_elements(*input) * value_bytes;
  }
  const std::int64_t chunk =
      options.chunk_samples > 0 ? options.chunk_samples : default_chunk_samples(largest_row * value_bytes);
  // Blocks of whole chunks, about 16 MiB of the largest input: the memory bound of the writer.
  const std::int64_t block_samples =
      chunk * std::max<std::int64_t>(1, (std::int64_t{16} << 20) / (chunk * largest_row * value_bytes));

  h5::File file = h5::create(path);
  const std::string source = fmt::format("synthetic (parbench data synth: seed {}, positive fraction {})", options.seed,
                                         options.positive_fraction);
  WriteReport report;
  h5::Type half = h5::half_type();
  std::vector<std::uint16_t> halves;
  SynthBlock block;
  std::int64_t global_first = 0;
  for (std::size_t k = 0; k < splits.size(); ++k) {
    const std::string& split_name = splits[k].name;
    h5::Group group = split_name.empty() ? h5::open_group(file.get(), "/") : h5::create_group(file.get(), split_name);
    write_split_attributes(group.get(), spec.name, source);
    std::vector<Output> outputs;
    for (const auto& field : spec.fields) {
      std::vector<std::int64_t> shape = row_shape(field);
      shape.insert(shape.begin(), counts[k]);
      std::vector<std::int64_t> chunk_dims = shape;
      chunk_dims[0] = std::min(field.is_target ? std::max<std::int64_t>(chunk, 4096) : chunk, counts[k]);
      h5::Dataset dataset =
          h5::create_dataset(group.get(), field.name, field.is_target ? h5::Dtype::i32 : options.dtype, shape,
                             {chunk_dims, options.gzip_level});
      if (field.is_target) h5::write_attribute(dataset.get(), "class_names", field.class_names);
      outputs.push_back({field.name, std::move(dataset), row_elements(field), !field.is_target});
    }
    for (std::int64_t done = 0; done < counts[k];) {
      interrupt::throw_if_interrupted();  // per block of chunks: unwind, the caller's temporary goes
      const std::int64_t count = std::min(block_samples, counts[k] - done);
      generate(options, global_first + done, count, block);
      for (auto& output : outputs) {
        if (!output.is_float) {
          const auto& labels = output.name == "labels" ? block.labels : block.action;
          h5::write_rows(output.dataset.get(), H5T_NATIVE_INT32, done, count, labels.data());
          continue;
        }
        const auto& values = output.name == "features" ? block.features
                             : output.name == "visual" ? block.visual
                                                       : block.pose;
        if (options.dtype == h5::Dtype::f16) {
          halves.resize(values.size());
          float_to_half(values.data(), halves.data(), values.size());
          h5::write_rows(output.dataset.get(), half.get(), done, count, halves.data());
        } else {
          h5::write_rows(output.dataset.get(), H5T_NATIVE_FLOAT, done, count, values.data());
        }
      }
      done += count;
      if (progress) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const std::int64_t written = global_first + done;
        progress({split_name.empty() ? "/" : split_name, written, options.samples,
                  static_cast<double>(written * sample_bytes), seconds});
      }
    }
    global_first += counts[k];
    for (auto& output : outputs) {
      const h5::Layout layout = h5::layout(output.dataset.get());
      report.logical_bytes += layout.logical_bytes;
      report.stored_bytes += layout.stored_bytes;
    }
  }
  file.close();  // a full disk may show only here
  report.samples = options.samples;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace parbench::data
