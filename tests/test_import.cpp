// data::import_npy: .npy feature caches in every accepted dtype and layout become a valid dataset
// with the same values, and every input we must reject is an Error naming the .npy file and the
// problem (checked, where the check is cheap, before any output is written).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/half.h"
#include "data/h5.h"
#include "data/import.h"
#include "data/npy.h"
#include "data/schema.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;
namespace fs = std::filesystem;
namespace npy = data::npy;

constexpr std::int64_t kN = 13, kT = 5, kD = 7;  // violence test sizes (odd N on purpose)
constexpr std::int64_t kShopN = 9;

template <typename T>
fs::path write_npy(const fs::path& path, npy::DType dtype, const std::vector<std::int64_t>& shape,
                   const std::vector<T>& values) {
  std::size_t elements = 1;
  for (const auto d : shape) elements *= static_cast<std::size_t>(d);
  EXPECT_EQ(values.size(), elements) << path;
  EXPECT_EQ(sizeof(T), npy::dtype_size(dtype)) << path;
  npy::write(path, dtype, shape, values.data());
  return path;
}

// Features of every float class: negative, zero, -0, subnormal, large, and plain fractions.
std::vector<float> float_values(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.37f - 11.0f;
  if (n > 3) {
    v[1] = -0.0f;
    v[2] = 1e-40f;  // subnormal
    v[3] = 3.0e38f;
  }
  return v;
}

// Half bit patterns spread over the whole range (both signs, subnormals), never Inf or NaN.
std::vector<std::uint16_t> half_bits(std::int64_t n) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    auto bits = static_cast<std::uint16_t>((static_cast<std::uint32_t>(i) * 40503u + 17u) & 0xffffu);
    if ((bits & 0x7c00u) == 0x7c00u) bits = static_cast<std::uint16_t>(bits & 0xfbffu);
    v[static_cast<std::size_t>(i)] = bits;
  }
  return v;
}

std::vector<std::int64_t> violence_labels(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = (i % 3 == 1) ? 1 : 0;
  return v;
}

std::vector<std::uint32_t> bits_of(const std::vector<float>& values) {
  std::vector<std::uint32_t> bits(values.size());
  if (!values.empty()) std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

template <typename T>
std::vector<T> read_all(hid_t file, const std::string& name, hid_t memory_type) {
  h5::Dataset dataset = h5::open_dataset(file, name);
  const std::vector<std::int64_t> shape = h5::shape(dataset.get());
  std::size_t elements = 1;
  for (const auto d : shape) elements *= static_cast<std::size_t>(d);
  std::vector<T> out(elements);
  h5::read_rows(dataset.get(), memory_type, 0, shape.at(0), out.data());
  return out;
}

std::vector<std::int64_t> counts_of(const std::vector<std::int64_t>& labels, std::size_t classes) {
  std::vector<std::int64_t> counts(classes, 0);
  for (const auto label : labels) ++counts.at(static_cast<std::size_t>(label));
  return counts;
}

std::vector<std::int32_t> as_int32(const std::vector<std::int64_t>& values) { return {values.begin(), values.end()}; }

// import_npy must throw parbench::Error (not another exception) whose message contains every
// needle. `nothing_written`: the problem is found by the cheap checks before the output exists.
void expect_import_error(const data::ImportOptions& options, const fs::path& out,
                         const std::vector<std::string>& needles, bool nothing_written = true) {
  try {
    data::import_npy(options, out);
    ADD_FAILURE() << "import succeeded; expected an error mentioning " << ::testing::PrintToString(needles);
  } catch (const parbench::Error& error) {
    const std::string message = error.what();
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos) << "message lacks '" << needle << "': " << message;
    }
  } catch (const std::exception& error) {
    ADD_FAILURE() << "not a parbench::Error: " << error.what();
  }
  if (nothing_written) {
    EXPECT_FALSE(fs::exists(out)) << "output written before the inputs were checked";
  }
}

struct ViolenceInputs {
  fs::path features, labels;
};

data::ImportOptions violence_options(const ViolenceInputs& in) {
  data::ImportOptions options;
  options.workload = "violence";
  options.files = {{"features", in.features}, {"labels", in.labels}};
  return options;
}

// A valid violence import of float32 features (N, T, D) and int64 labels.
ViolenceInputs good_violence(const TempDir& dir) {
  return {write_npy(dir / "features.npy", npy::DType::f32, {kN, kT, kD}, float_values(kN * kT * kD)),
          write_npy(dir / "labels.npy", npy::DType::i64, {kN}, violence_labels(kN))};
}

// Opens the imported file, validates it (values scanned) and checks shapes and label counts.
void validate_violence(const fs::path& out, h5::Dtype dtype) {
  h5::File file = h5::open_read(out);
  data::SplitInfo split;
  try {
    split = data::validate_split(file.get(), "/", {});
    data::ValidateOptions scan;
    scan.scan_values = true;
    data::validate_split(file.get(), "/", scan);
  } catch (const parbench::Error& error) {
    ADD_FAILURE() << "imported file is invalid: " << error.what();
    return;
  }
  EXPECT_EQ(split.workload, "violence");
  EXPECT_EQ(split.samples, kN);
  EXPECT_EQ(split.fields.at("features").shape, (std::vector<std::int64_t>{kN, kT, kD}));
  EXPECT_EQ(split.fields.at("features").dtype, dtype);
  EXPECT_EQ(split.fields.at("labels").shape, (std::vector<std::int64_t>{kN}));
  EXPECT_EQ(split.fields.at("labels").dtype, h5::Dtype::i32);
  EXPECT_EQ(split.fields.at("labels").class_counts, counts_of(violence_labels(kN), 2));
  h5::Group root = h5::open_group(file.get(), "/");
  EXPECT_EQ(h5::read_string_attribute(root.get(), "schema"), std::string(data::kDatasetSchema));
  const auto source = h5::read_string_attribute(root.get(), "source");
  ASSERT_TRUE(source.has_value());
  EXPECT_NE(source->find("features.npy"), std::string::npos) << *source;
  EXPECT_EQ(read_all<std::int32_t>(file.get(), "/labels", H5T_NATIVE_INT32), as_int32(violence_labels(kN)));
}

// ---------------------------------------------------------------------------------------------
// Violence: every accepted feature dtype

TEST(ImportViolence, Float32FeaturesAreBitwiseEqualOnDisk) {
  TempDir dir;
  const ViolenceInputs in = good_violence(dir);
  const fs::path out = dir / "out.h5";
  const data::ImportReport report = data::import_npy(violence_options(in), out);
  EXPECT_EQ(report.samples, kN);
  EXPECT_EQ(report.input_bytes, fs::file_size(in.features) + fs::file_size(in.labels));
  EXPECT_EQ(report.logical_bytes, static_cast<std::uint64_t>(kN * kT * kD * 4 + kN * 4));
  validate_violence(out, h5::Dtype::f32);
  h5::File file = h5::open_read(out);
  EXPECT_EQ(bits_of(read_all<float>(file.get(), "/features", H5T_NATIVE_FLOAT)), bits_of(float_values(kN * kT * kD)));
  h5::Dataset features = h5::open_dataset(file.get(), "/features");
  const h5::Layout layout = h5::layout(features.get());
  EXPECT_EQ(layout.chunk.size(), 3u);
  EXPECT_EQ(layout.filters, (std::vector<std::string>{"shuffle", "gzip(4)"}));
}

TEST(ImportViolence, Float16FeaturesKeptAsFloat16KeepTheirBits) {
  TempDir dir;
  const std::vector<std::uint16_t> halves = half_bits(kN * kT * kD);
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f16, {kN, kT, kD}, halves),
                    write_npy(dir / "labels.npy", npy::DType::i64, {kN}, violence_labels(kN))};
  data::ImportOptions options = violence_options(in);
  options.dtype = h5::Dtype::f16;
  const fs::path out = dir / "out.h5";
  data::import_npy(options, out);
  validate_violence(out, h5::Dtype::f16);
  h5::File file = h5::open_read(out);
  const h5::Type half = h5::half_type();
  EXPECT_EQ(read_all<std::uint16_t>(file.get(), "/features", half.get()), halves);
}

TEST(ImportViolence, Float16FeaturesWidenedToFloat32) {
  TempDir dir;
  const std::vector<std::uint16_t> halves = half_bits(kN * kT * kD);
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f16, {kN, kT, kD}, halves),
                    write_npy(dir / "labels.npy", npy::DType::i64, {kN}, violence_labels(kN))};
  const fs::path out = dir / "out.h5";
  data::import_npy(violence_options(in), out);
  validate_violence(out, h5::Dtype::f32);
  std::vector<float> expected(halves.size());
  for (std::size_t i = 0; i < halves.size(); ++i) expected[i] = half_to_float(halves[i]);
  h5::File file = h5::open_read(out);
  EXPECT_EQ(bits_of(read_all<float>(file.get(), "/features", H5T_NATIVE_FLOAT)), bits_of(expected));
}

TEST(ImportViolence, Float64FeaturesNarrowedToFloat32) {
  TempDir dir;
  std::vector<double> doubles(static_cast<std::size_t>(kN * kT * kD));
  for (std::size_t i = 0; i < doubles.size(); ++i) doubles[i] = 0.1 * static_cast<double>(i) - 3.3;
  doubles[5] = 1e30;
  doubles[6] = -2.5e-42;  // a float32 subnormal
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f64, {kN, kT, kD}, doubles),
                    write_npy(dir / "labels.npy", npy::DType::i64, {kN}, violence_labels(kN))};
  const fs::path out = dir / "out.h5";
  data::import_npy(violence_options(in), out);
  validate_violence(out, h5::Dtype::f32);
  std::vector<float> expected(doubles.size());
  for (std::size_t i = 0; i < doubles.size(); ++i) expected[i] = static_cast<float>(doubles[i]);
  h5::File file = h5::open_read(out);
  EXPECT_EQ(bits_of(read_all<float>(file.get(), "/features", H5T_NATIVE_FLOAT)), bits_of(expected));
}

TEST(ImportViolence, Float32FeaturesStoredAsFloat16) {
  TempDir dir;
  std::vector<float> values = float_values(kN * kT * kD);
  values[3] = 60000.0f;  // the only value in float_values beyond float16 range
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f32, {kN, kT, kD}, values),
                    write_npy(dir / "labels.npy", npy::DType::i64, {kN}, violence_labels(kN))};
  data::ImportOptions options = violence_options(in);
  options.dtype = h5::Dtype::f16;
  const fs::path out = dir / "out.h5";
  data::import_npy(options, out);
  validate_violence(out, h5::Dtype::f16);
  std::vector<std::uint16_t> expected(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) expected[i] = float_to_half(values[i]);
  h5::File file = h5::open_read(out);
  const h5::Type half = h5::half_type();
  EXPECT_EQ(read_all<std::uint16_t>(file.get(), "/features", half.get()), expected);
}

// ---------------------------------------------------------------------------------------------
// Shoplifting

struct ShopliftingInputs {
  std::vector<float> visual, pose;
  std::vector<std::int64_t> labels;
  std::vector<std::int32_t> action;
  data::ImportOptions options;
};

ShopliftingInputs shoplifting(const TempDir& dir, bool pose_as_keypoints) {
  ShopliftingInputs in;
  in.visual = float_values(kShopN * 2048);
  in.pose.resize(static_cast<std::size_t>(kShopN * 16 * 34));
  for (std::size_t i = 0; i < in.pose.size(); ++i) in.pose[i] = static_cast<float>(i % 101) / 100.0f;
  for (std::int64_t i = 0; i < kShopN; ++i) {
    in.labels.push_back(i % 2);
    in.action.push_back(i % 2 == 1 ? static_cast<std::int32_t>(i % 13) : 13);
  }
  const std::vector<std::int64_t> pose_shape =
      pose_as_keypoints ? std::vector<std::int64_t>{kShopN, 16, 17, 2} : std::vector<std::int64_t>{kShopN, 16, 34};
  in.options.workload = "shoplifting";
  in.options.files = {
      {"visual", write_npy(dir / "visual.npy", npy::DType::f32, {kShopN, 2048}, in.visual)},
      {"pose", write_npy(dir / "pose.npy", npy::DType::f32, pose_shape, in.pose)},
      {"labels", write_npy(dir / "labels.npy", npy::DType::i64, {kShopN}, in.labels)},
      {"action", write_npy(dir / "action.npy", npy::DType::i32, {kShopN}, in.action)},
  };
  return in;
}

void check_shoplifting_import(bool pose_as_keypoints) {
  TempDir dir;
  const ShopliftingInputs in = shoplifting(dir, pose_as_keypoints);
  const fs::path out = dir / "out.h5";
  EXPECT_EQ(data::import_npy(in.options, out).samples, kShopN);
  h5::File file = h5::open_read(out);
  data::SplitInfo split;
  ASSERT_NO_THROW(split = data::validate_split(file.get(), "/", {}));
  EXPECT_EQ(split.workload, "shoplifting");
  EXPECT_EQ(split.samples, kShopN);
  EXPECT_EQ(split.fields.at("visual").shape, (std::vector<std::int64_t>{kShopN, 2048}));
  EXPECT_EQ(split.fields.at("pose").shape, (std::vector<std::int64_t>{kShopN, 16, 34}));
  EXPECT_EQ(split.fields.at("labels").class_counts, counts_of(in.labels, 2));
  std::vector<std::int64_t> action_counts(14, 0);
  for (const auto a : in.action) ++action_counts[static_cast<std::size_t>(a)];
  EXPECT_EQ(split.fields.at("action").class_counts, action_counts);
  EXPECT_EQ(bits_of(read_all<float>(file.get(), "/visual", H5T_NATIVE_FLOAT)), bits_of(in.visual));
  EXPECT_EQ(bits_of(read_all<float>(file.get(), "/pose", H5T_NATIVE_FLOAT)), bits_of(in.pose));
  EXPECT_EQ(read_all<std::int32_t>(file.get(), "/labels", H5T_NATIVE_INT32), as_int32(in.labels));
  EXPECT_EQ(read_all<std::int32_t>(file.get(), "/action", H5T_NATIVE_INT32), in.action);
}

TEST(ImportShoplifting, PoseAsFlatKeypoints) { check_shoplifting_import(false); }

TEST(ImportShoplifting, PoseAsKeypointPairs) { check_shoplifting_import(true); }

// ---------------------------------------------------------------------------------------------
// Inputs that must be rejected

TEST(ImportErrors, FortranOrder) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  const std::vector<float> values = float_values(kN * kT * kD);
  npy::write_raw(in.features, "{'descr': '<f4', 'fortran_order': True, 'shape': (13, 5, 7), }", values.data(),
                 values.size() * sizeof(float));
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "Fortran"});
}

TEST(ImportErrors, BigEndian) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  const std::vector<float> values = float_values(kN * kT * kD);
  npy::write_raw(in.features, "{'descr': '>f4', 'fortran_order': False, 'shape': (13, 5, 7), }", values.data(),
                 values.size() * sizeof(float));
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "big-endian"});
}

TEST(ImportErrors, ObjectArray) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  const std::vector<std::uint64_t> pointers(static_cast<std::size_t>(kN), 0);
  npy::write_raw(in.labels, "{'descr': '|O', 'fortran_order': False, 'shape': (13,), }", pointers.data(),
                 pointers.size() * sizeof(std::uint64_t));
  expect_import_error(violence_options(in), dir / "out.h5", {in.labels.string(), "object"});
}

TEST(ImportErrors, TruncatedFile) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  fs::resize_file(in.features, fs::file_size(in.features) - 10);
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "truncated"});
}

TEST(ImportErrors, MismatchedSampleCounts) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  write_npy(in.labels, npy::DType::i64, {kN - 1}, violence_labels(kN - 1));
  const fs::path out = dir / "out.h5";
  try {
    data::import_npy(violence_options(in), out);
    ADD_FAILURE() << "no error for features of 13 samples and labels of 12";
  } catch (const parbench::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("labels.npy"), std::string::npos) << message;
    const bool names_both_files = message.find("features.npy") != std::string::npos;
    const bool names_both_counts = message.find("13") != std::string::npos && message.find("12") != std::string::npos;
    EXPECT_TRUE(names_both_files || names_both_counts) << message;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(ImportErrors, LabelOutOfRange) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  std::vector<std::int64_t> labels = violence_labels(kN);
  labels[4] = 2;
  write_npy(in.labels, npy::DType::i64, {kN}, labels);
  expect_import_error(violence_options(in), dir / "out.h5",
                      {in.labels.string(), "label 2", "sample 4", "out of range"});
}

TEST(ImportErrors, NegativeLabel) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  std::vector<std::int64_t> labels = violence_labels(kN);
  labels[12] = -1;
  write_npy(in.labels, npy::DType::i64, {kN}, labels);
  expect_import_error(violence_options(in), dir / "out.h5", {in.labels.string(), "label -1", "sample 12"});
}

TEST(ImportErrors, NaNInFeatures) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  std::vector<float> values = float_values(kN * kT * kD);
  values[static_cast<std::size_t>(6 * kT * kD + 3)] = std::numeric_limits<float>::quiet_NaN();
  write_npy(in.features, npy::DType::f32, {kN, kT, kD}, values);
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "sample 6", "nan", "finite"}, false);
}

TEST(ImportErrors, InfInFeatures) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  std::vector<float> values = float_values(kN * kT * kD);
  values[static_cast<std::size_t>(kN * kT * kD - 1)] = -std::numeric_limits<float>::infinity();
  write_npy(in.features, npy::DType::f32, {kN, kT, kD}, values);
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "sample 12", "inf"}, false);
}

TEST(ImportErrors, NaNInFloat16FeaturesKeptAsFloat16) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  std::vector<std::uint16_t> halves = half_bits(kN * kT * kD);
  halves[static_cast<std::size_t>(9 * kT * kD)] = 0x7e00;  // quiet NaN
  write_npy(in.features, npy::DType::f16, {kN, kT, kD}, halves);
  data::ImportOptions options = violence_options(in);
  options.dtype = h5::Dtype::f16;
  expect_import_error(options, dir / "out.h5", {in.features.string(), "sample 9", "nan"}, false);
}

// A NaN in the last block is found only after earlier blocks were written; the error still
// names the sample (the CLI test checks that no output is left behind).
TEST(ImportErrors, NaNInLastBlockAfterWritingBegan) {
  constexpr std::int64_t n = 300, t = 4, d = 4096;  // 64 KiB samples: 16 MiB blocks of 256
  TempDir dir;
  std::vector<float> values(static_cast<std::size_t>(n * t * d), 0.25f);
  values[static_cast<std::size_t>((n - 1) * t * d + t * d - 1)] = std::numeric_limits<float>::quiet_NaN();
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f32, {n, t, d}, values),
                    write_npy(dir / "labels.npy", npy::DType::i64, {n}, violence_labels(n))};
  values = {};
  std::vector<std::int64_t> written;
  try {
    data::import_npy(violence_options(in), dir / "out.h5",
                     [&](const data::WriteProgress& progress) { written.push_back(progress.done); });
    ADD_FAILURE() << "no error for a NaN in sample 299";
  } catch (const parbench::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(in.features.string()), std::string::npos) << message;
    EXPECT_NE(message.find("sample 299"), std::string::npos) << message;
    EXPECT_NE(message.find("nan"), std::string::npos) << message;
  }
  ASSERT_FALSE(written.empty()) << "the import failed before writing any block";
  EXPECT_LT(written.back(), n);
}

TEST(ImportErrors, Float32BeyondFloat16Range) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);  // sample 0 holds 3e38
  data::ImportOptions options = violence_options(in);
  options.dtype = h5::Dtype::f16;
  expect_import_error(options, dir / "out.h5", {in.features.string(), "sample 0", "float16"}, false);
}

TEST(ImportErrors, WrongFeatureRank) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  write_npy(in.features, npy::DType::f32, {kN, kT * kD}, float_values(kN * kT * kD));
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "(13, 35)", "(N, T, D)"});
}

TEST(ImportErrors, WrongVisualWidth) {
  TempDir dir;
  ShopliftingInputs in = shoplifting(dir, false);
  write_npy(in.options.files.at("visual"), npy::DType::f32, {kShopN, 1024}, float_values(kShopN * 1024));
  expect_import_error(in.options, dir / "out.h5", {in.options.files.at("visual").string(), "1024", "2048"});
}

TEST(ImportErrors, IntegerFeatures) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  write_npy(in.features, npy::DType::i32, {kN, kT, kD}, std::vector<std::int32_t>(kN * kT * kD, 1));
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "int32", "float"});
}

TEST(ImportErrors, FloatLabels) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  write_npy(in.labels, npy::DType::f32, {kN}, std::vector<float>(kN, 1.0f));
  expect_import_error(violence_options(in), dir / "out.h5", {in.labels.string(), "float32", "integer"});
}

TEST(ImportErrors, MissingRequiredFile) {
  TempDir dir;
  ShopliftingInputs in = shoplifting(dir, false);
  in.options.files.erase("pose");
  expect_import_error(in.options, dir / "out.h5", {"shoplifting", "--pose"});
}

TEST(ImportErrors, MissingNpyFile) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  fs::remove(in.labels);
  expect_import_error(violence_options(in), dir / "out.h5", {in.labels.string(), "no such file"});
}

TEST(ImportErrors, DatasetTheWorkloadDoesNotHave) {
  TempDir dir;
  ViolenceInputs in = good_violence(dir);
  data::ImportOptions options = violence_options(in);
  options.files["pose"] = write_npy(dir / "pose.npy", npy::DType::f32, {kN, 16, 34}, std::vector<float>(kN * 16 * 34));
  expect_import_error(options, dir / "out.h5", {(dir / "pose.npy").string(), "violence", "pose"});
}

TEST(ImportErrors, NoSamples) {
  TempDir dir;
  ViolenceInputs in{write_npy(dir / "features.npy", npy::DType::f32, {0, kT, kD}, std::vector<float>{}),
                    write_npy(dir / "labels.npy", npy::DType::i64, {0}, std::vector<std::int64_t>{})};
  expect_import_error(violence_options(in), dir / "out.h5", {in.features.string(), "N = 0"});
}

}  // namespace
