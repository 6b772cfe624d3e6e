// .npy -> HDF5 import: validate all headers and labels first (cheap), then stream the inputs.
#include "data/import.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/ranges.h>

#include "core/half.h"
#include "core/interrupt.h"
#include "data/npy.h"
#include "data/schema.h"

namespace parbench::data {

namespace {

bool is_float(npy::DType d) { return d == npy::DType::f16 || d == npy::DType::f32 || d == npy::DType::f64; }

// The per-sample shape the .npy provides for `field`: (T, 17, 2) pose arrays are accepted as
// (T, 34) since the C-order bytes are the same.
std::vector<std::int64_t> sample_shape(const FieldSpec& field, const npy::Header& header,
                                       const std::filesystem::path& path) {
  std::vector<std::int64_t> dims(header.shape.begin() + (header.shape.empty() ? 0 : 1), header.shape.end());
  if (field.name == "pose" && dims.size() == 3 && dims[1] == 17 && dims[2] == 2) dims = {dims[0], 34};
  if (field.is_target && dims.size() == 1 && dims[0] == 1) dims.clear();  // (N, 1) label columns
  bool ok = !header.shape.empty() && dims.size() == field.dims.size();
  for (std::size_t i = 0; ok && i < dims.size(); ++i) {
    ok = field.dims[i] == kAny ? dims[i] >= 1 : dims[i] == field.dims[i];
  }
  if (!ok) {
    raise("{}: shape {} does not fit {} {}", path.string(), shape_text(header.shape), field.name, field.dims_text);
  }
  return dims;
}

// float16 tops out at 65504: larger values would silently become infinity on disk.
void check_half_range(const float* values, std::int64_t rows, std::int64_t row_elements, std::int64_t first_row,
                      const std::string& where) {
  for (std::int64_t i = 0; i < rows * row_elements; ++i) {
    if (std::abs(values[i]) > 65504.0f) {
      raise("{}: sample {} holds {}, which does not fit float16; import with --dtype f32", where,
            first_row + i / row_elements, values[i]);
    }
  }
}

}  // namespace

ImportReport import_npy(const ImportOptions& options, const std::filesystem::path& path,
                        const std::function<void(const WriteProgress&)>& progress) {
  const WorkloadSpec& spec = workload_spec(options.workload);
  if (options.dtype != h5::Dtype::f32 && options.dtype != h5::Dtype::f16) raise("--dtype must be f32 or f16");
  if (options.gzip_level < 0 || options.gzip_level > 9)
    raise("--compression must be 0..9 (got {})", options.gzip_level);
  for (const auto& [name, file] : options.files) {
    bool known = false;
    for (const auto& field : spec.fields) known |= field.name == name;
    if (!known) raise("--{} {}: workload {} has no {} dataset", name, file.string(), spec.name, name);
  }
  const auto start = std::chrono::steady_clock::now();

  struct Input {
    const FieldSpec* field;
    npy::Reader reader;
    std::vector<std::int64_t> dims;
    std::int64_t row_elements;
  };
  std::vector<Input> inputs;
  ImportReport report;
  std::int64_t samples = -1;
  std::string first_file;
  for (const auto& field : spec.fields) {
    const auto it = options.files.find(field.name);
    if (it == options.files.end()) {
      raise("workload {} needs --{} FILE.npy ({} {})", spec.name, field.name, field.name, field.dims_text);
    }
    npy::Reader reader(it->second);
    const npy::Header& header = reader.header();
    if (field.is_target == is_float(header.dtype)) {
      raise("{}: dtype {}, expected {}", it->second.string(), npy::dtype_name(header.dtype),
            field.is_target ? "integer labels" : "float16, float32 or float64 features");
    }
    std::vector<std::int64_t> dims = sample_shape(field, header, it->second);
    if (header.rows() == 0) raise("{}: holds no samples (N = 0)", it->second.string());
    if (samples >= 0 && header.rows() != samples) {
      raise("{}: {} samples, but {} has {}; all files must hold the same samples", it->second.string(), header.rows(),
            first_file, samples);
    }
    samples = header.rows();
    if (first_file.empty()) first_file = it->second.string();
    report.input_bytes += std::filesystem::file_size(it->second);
    const auto row_elements = static_cast<std::int64_t>(header.row_elements());
    inputs.push_back({&field, std::move(reader), std::move(dims), row_elements});
  }

  // Labels are small: read and range-check them all before writing anything.
  std::map<std::string, std::vector<std::int32_t>> labels;
  for (auto& input : inputs) {
    if (!input.field->is_target) continue;
    std::vector<std::int32_t> values(static_cast<std::size_t>(samples));
    input.reader.read_i32(0, samples, values.data());
    const auto classes = static_cast<std::int32_t>(input.field->class_names.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] >= classes) {
        raise("{}: label {} at sample {} is out of range; expected 0..{} ({})", input.reader.path().string(), values[i],
              i, classes - 1, fmt::join(input.field->class_names, ", "));
      }
    }
    labels.emplace(input.field->name, std::move(values));
  }

  const std::int64_t value_bytes = options.dtype == h5::Dtype::f16 ? 2 : 4;
  std::int64_t largest_row = 1;
  for (const auto& input : inputs) largest_row = std::max(largest_row, input.row_elements);
  const std::int64_t chunk =
      options.chunk_samples > 0 ? options.chunk_samples : default_chunk_samples(largest_row * value_bytes);
  const std::int64_t block = chunk * std::max<std::int64_t>(1, (std::int64_t{16} << 20) / (chunk * largest_row * 4));

  h5::File file = h5::create(path);
  h5::Group root = h5::open_group(file.get(), "/");
  std::vector<std::string> sources;
  sources.reserve(inputs.size());
  for (const auto& input : inputs) sources.push_back(input.reader.path().filename().string());
  write_split_attributes(root.get(), spec.name, fmt::format("imported from {}", fmt::join(sources, ", ")));

  h5::Type half = h5::half_type();
  std::vector<float> values;
  std::vector<std::uint16_t> halves;
  for (auto& input : inputs) {
    std::vector<std::int64_t> shape = input.dims;
    shape.insert(shape.begin(), samples);
    std::vector<std::int64_t> chunk_dims = shape;
    chunk_dims[0] = std::min(input.field->is_target ? std::max<std::int64_t>(chunk, 4096) : chunk, samples);
    h5::Dataset dataset =
        h5::create_dataset(root.get(), input.field->name, input.field->is_target ? h5::Dtype::i32 : options.dtype,
                           shape, {chunk_dims, options.gzip_level});
    if (input.field->is_target) {
      h5::write_attribute(dataset.get(), "class_names", input.field->class_names);
      h5::write_rows(dataset.get(), H5T_NATIVE_INT32, 0, samples, labels.at(input.field->name).data());
    } else {
      const std::string where = input.reader.path().string();
      const bool copy_halves = options.dtype == h5::Dtype::f16 && input.reader.header().dtype == npy::DType::f16;
      for (std::int64_t first = 0; first < samples; first += block) {
        interrupt::throw_if_interrupted();  // per block of chunks: unwind, the caller's temporary goes
        const std::int64_t count = std::min(block, samples - first);
        const auto n = static_cast<std::size_t>(count * input.row_elements);
        values.resize(n);
        halves.resize(options.dtype == h5::Dtype::f16 ? n : 0);
        if (copy_halves) {
          input.reader.read_f16_bits(first, count, halves.data());
          half_to_float(halves.data(), values.data(), n);
        } else {
          input.reader.read_f32(first, count, values.data());
        }
        check_finite(values.data(), count, input.row_elements, first, where);
        if (options.dtype == h5::Dtype::f16 && !copy_halves) {
          check_half_range(values.data(), count, input.row_elements, first, where);
          float_to_half(values.data(), halves.data(), n);
        }
        if (options.dtype == h5::Dtype::f16) {
          h5::write_rows(dataset.get(), half.get(), first, count, halves.data());
        } else {
          h5::write_rows(dataset.get(), H5T_NATIVE_FLOAT, first, count, values.data());
        }
        if (progress) {
          const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          progress({input.field->name, first + count, samples,
                    static_cast<double>((first + count) * input.row_elements * value_bytes), seconds});
        }
      }
    }
    const h5::Layout layout = h5::layout(dataset.get());
    report.logical_bytes += layout.logical_bytes;
    report.stored_bytes += layout.stored_bytes;
  }
  root.reset();
  file.close();  // a full disk may show only here
  report.samples = samples;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace parbench::data
