// Workload dataset specs and the validator.
#include "data/schema.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/ranges.h>

#include "core/build_info.h"
#include "core/half.h"
#include "core/interrupt.h"

namespace parbench::data {

namespace {

const std::vector<WorkloadSpec>& specs() {
  static const std::vector<WorkloadSpec> all = {
      {"violence",
       {{"features", false, {kAny, kAny}, "(N, T, D)", {}}, {"labels", true, {}, "(N,)", {"non-violent", "violent"}}}},
      {"shoplifting",
       {{"visual", false, {2048}, "(N, 2048)", {}},
        {"pose", false, {kAny, 34}, "(N, T, 34)", {}},
        {"labels", true, {}, "(N,)", {"normal", "anomaly"}},
        {"action",
         true,
         {},
         "(N,)",
         {"Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting", "RoadAccidents", "Robbery",
          "Shooting", "Shoplifting", "Stealing", "Vandalism", "Normal"}}}},
  };
  return all;
}

std::string join_group(const std::string& group, const std::string& name) {
  return group == "/" ? "/" + name : group + "/" + name;
}

// Reads every value of a float input in blocks of about 16 MiB and checks it is finite.
void scan_values(hid_t dataset, const FieldInfo& info, const std::string& where) {
  std::int64_t row_elements = 1;
  for (std::size_t i = 1; i < info.shape.size(); ++i) row_elements *= info.shape[i];
  const std::int64_t rows = info.shape[0];
  const std::int64_t block = std::max<std::int64_t>(1, (std::int64_t{4} << 20) / row_elements);
  std::vector<float> values(static_cast<std::size_t>(std::min(block, rows) * row_elements));
  std::vector<std::uint16_t> halves(info.dtype == h5::Dtype::f16 ? values.size() : 0);
  const h5::Type half = h5::half_type();
  for (std::int64_t first = 0; first < rows; first += block) {
    interrupt::throw_if_interrupted();  // a full scan of a large file (data inspect) must answer Ctrl-C
    const std::int64_t count = std::min(block, rows - first);
    // float16 is read raw and widened here: HDF5's own conversion of a custom float type is slow.
    if (info.dtype == h5::Dtype::f16) {
      h5::read_rows(dataset, half.get(), first, count, halves.data());
      half_to_float(halves.data(), values.data(), static_cast<std::size_t>(count * row_elements));
    } else {
      h5::read_rows(dataset, H5T_NATIVE_FLOAT, first, count, values.data());
    }
    check_finite(values.data(), count, row_elements, first, where);
  }
}

}  // namespace

const FieldSpec& WorkloadSpec::field(std::string_view field_name) const {
  for (const auto& f : fields) {
    if (f.name == field_name) return f;
  }
  raise("workload {} has no dataset {}", name, field_name);
}

std::vector<const FieldSpec*> WorkloadSpec::inputs() const {
  std::vector<const FieldSpec*> result;
  for (const auto& f : fields) {
    if (!f.is_target) result.push_back(&f);
  }
  return result;
}

std::vector<const FieldSpec*> WorkloadSpec::targets() const {
  std::vector<const FieldSpec*> result;
  for (const auto& f : fields) {
    if (f.is_target) result.push_back(&f);
  }
  return result;
}

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for (const auto& spec : specs()) names.push_back(spec.name);
  return names;
}

const WorkloadSpec& workload_spec(std::string_view name) {
  for (const auto& spec : specs()) {
    if (spec.name == name) return spec;
  }
  raise("unknown workload '{}'; valid workloads: {}", name, fmt::join(workload_names(), ", "));
}

void write_split_attributes(hid_t group, const std::string& workload, const std::string& source) {
  const WorkloadSpec& spec = workload_spec(workload);
  h5::write_attribute(group, "schema", std::string(kDatasetSchema));
  h5::write_attribute(group, "workload", workload);
  h5::write_attribute(group, "class_names", spec.field("labels").class_names);
  h5::write_attribute(group, "source", source);
  h5::write_attribute(group, "created_by",
                      fmt::format("parbench {} (git {}{})", build_info::version, build_info::git_commit,
                                  build_info::git_dirty ? ", dirty" : ""));
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return shape.size() == 1 ? fmt::format("({},)", shape[0]) : fmt::format("({})", fmt::join(shape, ", "));
}

bool all_finite(std::span<const float> values) {
  // NaN and +-Inf are exactly the floats whose 8 exponent bits are all ones. Tested on the bits with
  // integer operations, GCC vectorises this loop without -ffast-math; the std::isfinite() reduction
  // it replaces stayed scalar ("not vectorized: no vectype"), several times slower per batch.
  constexpr std::uint32_t kExponent = 0x7f800000u;
  std::uint32_t bad = 0;
  for (const float value : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    bad |= static_cast<std::uint32_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

void check_finite(const float* values, std::int64_t rows, std::int64_t row_elements, std::int64_t first_row,
                  std::string_view where) {
  const std::int64_t n = rows * row_elements;
  // A branch-free pass first; locate the culprit only when something is wrong.
  if (all_finite({values, static_cast<std::size_t>(n)})) return;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) {
      raise("{}: sample {} holds {} at element {}; inputs must be finite (fix or drop that sample)", where,
            first_row + i / row_elements, values[i], i % row_elements);
    }
  }
}

std::vector<std::string> find_splits(hid_t file) {
  const std::vector<std::string> root = h5::children(file);
  for (const auto& spec : specs()) {
    for (const auto& field : spec.fields) {
      if (std::find(root.begin(), root.end(), field.name) != root.end()) return {"/"};
    }
  }
  std::vector<std::string> groups;
  for (const auto& name : root) {
    H5O_info_t info{};
    if (H5Oget_info_by_name(file, name.c_str(), &info, H5P_DEFAULT) < 0) {
      h5::take_error_stack();
      continue;
    }
    if (info.type != H5O_TYPE_GROUP) continue;
    h5::Group group = h5::open_group(file, name);
    if (h5::read_string_attribute(group.get(), "schema")) groups.push_back("/" + name);
  }
  return groups;
}

SplitInfo validate_split(hid_t file, const std::string& group_path, const ValidateOptions& options) {
  const std::string path = h5::file_name(file);
  const std::string where = fmt::format("{}:{}", path, group_path);
  if (!h5::exists(file, group_path)) raise("{}: no group {} in the file", path, group_path);
  h5::Group group = h5::open_group(file, group_path);

  const auto schema = h5::read_string_attribute(group.get(), "schema");
  if (!schema) {
    raise(
        "{}: no 'schema' attribute; expected schema = {} (write files with 'parbench data synth' or 'parbench data "
        "import')",
        where, kDatasetSchema);
  }
  if (*schema != kDatasetSchema) raise("{}: schema is '{}', expected '{}'", where, *schema, kDatasetSchema);
  const auto workload = h5::read_string_attribute(group.get(), "workload");
  if (!workload) raise("{}: no 'workload' attribute; expected one of {}", where, fmt::join(workload_names(), ", "));
  const WorkloadSpec& spec = workload_spec(*workload);
  if (!options.workload.empty() && options.workload != spec.name) {
    raise("{}: holds data for workload '{}', expected '{}'", where, spec.name, options.workload);
  }

  SplitInfo split;
  split.group = group_path;
  split.workload = spec.name;
  split.samples = -1;
  std::string first_field;
  for (const auto& field : spec.fields) {
    const std::string name = join_group(group_path, field.name);
    const std::string at = fmt::format("{}:{}", path, name);
    if (!h5::exists(file, name))
      raise("{}: missing dataset {}; workload {} needs {} {}", where, field.name, spec.name, field.name,
            field.dims_text);
    h5::Dataset dataset = h5::open_dataset(file, name);
    FieldInfo info;
    info.shape = h5::shape(dataset.get());
    info.dtype = h5::dtype_of(dataset.get());
    const std::size_t rank = field.dims.size() + 1;
    if (info.shape.size() != rank) {
      raise("{}: shape {} has rank {}, expected rank {} {}", at, shape_text(info.shape), info.shape.size(), rank,
            field.dims_text);
    }
    for (std::size_t i = 0; i < field.dims.size(); ++i) {
      const std::int64_t found = info.shape[i + 1];
      if ((field.dims[i] == kAny && found < 1) || (field.dims[i] != kAny && found != field.dims[i])) {
        raise("{}: shape {} does not match {}", at, shape_text(info.shape), field.dims_text);
      }
    }
    if (field.is_target && info.dtype != h5::Dtype::i32) {
      raise("{}: dtype {}, expected int32 labels", at, h5::dtype_name(info.dtype));
    }
    if (!field.is_target && info.dtype != h5::Dtype::f32 && info.dtype != h5::Dtype::f16) {
      raise("{}: dtype {}, expected float32 or float16", at, h5::dtype_name(info.dtype));
    }
    if (info.shape[0] == 0) raise("{}: holds no samples (N = 0)", at);
    if (split.samples >= 0 && info.shape[0] != split.samples) {
      raise("{}: {} samples, but {} has {}; every dataset of a split needs the same N", at, info.shape[0], first_field,
            split.samples);
    }
    split.samples = info.shape[0];
    if (first_field.empty()) first_field = field.name;

    if (field.is_target) {
      std::vector<std::int32_t> labels(static_cast<std::size_t>(info.shape[0]));
      h5::read_rows(dataset.get(), H5T_NATIVE_INT32, 0, info.shape[0], labels.data());
      const auto classes = static_cast<std::int32_t>(field.class_names.size());
      info.class_counts.assign(field.class_names.size(), 0);
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] >= classes) {
          raise("{}: label {} at sample {} is out of range; expected 0..{} ({})", at, labels[i], i, classes - 1,
                fmt::join(field.class_names, ", "));
        }
        ++info.class_counts[static_cast<std::size_t>(labels[i])];
      }
    } else if (options.scan_values) {
      scan_values(dataset.get(), info, at);
    }
    split.fields.emplace(field.name, std::move(info));
  }
  return split;
}

}  // namespace parbench::data
