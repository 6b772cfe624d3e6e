// The dataset format of design.md §5 for each workload, and the validator that checks a file
// against it before any training starts: schema attribute, dataset names, ranks, shapes,
// dtypes, sample counts and label ranges, each failure naming the file, dataset and expectation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/h5.h"

namespace parbench::data {

inline constexpr std::string_view kDatasetSchema = "parbench.dataset/1";

// One dataset of a split. Inputs are float16/float32 of shape (N, dims...); targets are int32
// labels of shape (N,) with values in [0, classes).
struct FieldSpec {
  std::string name;
  bool is_target = false;
  std::vector<std::int64_t> dims;        // per-sample dimensions; kAny = any size >= 1
  std::string dims_text;                 // "(N, T, D)" for messages
  std::vector<std::string> class_names;  // targets: one name per class
};
inline constexpr std::int64_t kAny = -1;

struct WorkloadSpec {
  std::string name;
  std::vector<FieldSpec> fields;
  const FieldSpec& field(std::string_view name) const;
  std::vector<const FieldSpec*> inputs() const;
  std::vector<const FieldSpec*> targets() const;
};

// Throws parbench::Error listing the known workloads when `name` is not one.
const WorkloadSpec& workload_spec(std::string_view name);
std::vector<std::string> workload_names();

struct FieldInfo {
  h5::Dtype dtype = h5::Dtype::other;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> class_counts;  // targets only
};

// A split: the datasets of one group ("/" for a single-split file, "/train", "/val", "/test").
struct SplitInfo {
  std::string group;
  std::string workload;
  std::int64_t samples = 0;
  std::map<std::string, FieldInfo> fields;
};

struct ValidateOptions {
  std::string_view workload;  // expected workload; empty accepts the file's own
  bool scan_values = false;   // read every input value and reject NaN/Inf (reads the whole split)
};

// Validates the split stored under `group` of an open file (path for messages). Throws
// parbench::Error naming `path:group/dataset` and what was expected on the first problem.
SplitInfo validate_split(hid_t file, const std::string& group, const ValidateOptions& options);

// The groups of a file that hold a split: {"/"} when the datasets are at the root, else the
// child groups that carry a schema attribute ("/train", "/val", ...). Empty when neither.
std::vector<std::string> find_splits(hid_t file);

// "(N, T, D)" as NumPy prints shapes: "(7,)" for one dimension.
std::string shape_text(const std::vector<std::int64_t>& shape);

// Writes the attributes of design.md §5 (schema, workload, class_names, source, created_by)
// onto the group of a split.
void write_split_attributes(hid_t group, const std::string& workload, const std::string& source);

// True when no value is NaN or infinite (vectorised: the loader runs it on every batch it reads).
bool all_finite(std::span<const float> values);

// Throws parbench::Error naming the dataset and sample when a value is NaN or infinite;
// `values` holds rows [first_row, first_row + rows) of an input dataset.
void check_finite(const float* values, std::int64_t rows, std::int64_t row_elements, std::int64_t first_row,
                  std::string_view where);

}  // namespace parbench::data
