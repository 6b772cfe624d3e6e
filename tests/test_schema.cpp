// The validator against every kind of bad dataset: each error names the file, the dataset and
// what was expected, and a valid file passes with the right class counts.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "data/h5.h"
#include "data/schema.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

struct FakeDataset {
  std::string name;
  h5::Dtype dtype;
  std::vector<std::int64_t> shape;
  std::function<double(std::int64_t)> value = [](std::int64_t i) { return static_cast<double>(i % 2); };
};

// Writes a split at the root with the given datasets and the standard attributes.
std::filesystem::path write_file(const TempDir& dir, const std::string& workload,
                                 const std::vector<FakeDataset>& datasets, bool attributes = true) {
  auto path = dir / "bad.h5";
  h5::File file = h5::create(path);
  h5::Group root = h5::open_group(file.get(), "/");
  if (attributes) data::write_split_attributes(root.get(), workload, "test");
  for (const auto& d : datasets) {
    std::int64_t elements = 1;
    for (auto s : d.shape) elements *= s;
    std::vector<double> values(static_cast<std::size_t>(elements));
    for (std::int64_t i = 0; i < elements; ++i) values[static_cast<std::size_t>(i)] = d.value(i);
    const hsize_t dims_count = d.shape.size();
    std::vector<hsize_t> dims(d.shape.begin(), d.shape.end());
    // Raw HDF5 so that dtypes parbench never writes (float64, int64) can be tested too.
    h5::Space space{H5Screate_simple(static_cast<int>(dims_count), dims.data(), nullptr)};
    hid_t type = d.dtype == h5::Dtype::f64   ? H5T_IEEE_F64LE
                 : d.dtype == h5::Dtype::i64 ? H5T_STD_I64LE
                 : d.dtype == h5::Dtype::i32 ? H5T_STD_I32LE
                                             : H5T_IEEE_F32LE;
    h5::Dataset dataset{
        H5Dcreate2(root.get(), d.name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)};
    if (elements > 0) H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  }
  return path;
}

std::string validate_error(const std::filesystem::path& path, std::string_view workload = {}, bool scan = true) {
  try {
    h5::File file = h5::open_read(path);
    data::validate_split(file.get(), "/", {.workload = workload, .scan_values = scan});
  } catch (const parbench::Error& error) {
    return error.what();
  }
  return "(valid)";
}

const FakeDataset kLabels{"labels", h5::Dtype::i32, {6}};
const FakeDataset kFeatures{"features", h5::Dtype::f32, {6, 3, 4}};

#define EXPECT_MESSAGE(message, text) EXPECT_NE((message).find(text), std::string::npos) << (message)

TEST(Schema, ValidViolenceFilePasses) {
  TempDir dir;
  const auto path = write_file(dir, "violence", {kFeatures, kLabels});
  h5::File file = h5::open_read(path);
  const data::SplitInfo info = data::validate_split(file.get(), "/", {.workload = "violence", .scan_values = true});
  EXPECT_EQ(info.samples, 6);
  EXPECT_EQ(info.fields.at("features").shape, (std::vector<std::int64_t>{6, 3, 4}));
  EXPECT_EQ(info.fields.at("labels").class_counts, (std::vector<std::int64_t>{3, 3}));
}

TEST(Schema, WrongRank) {
  TempDir dir;
  const std::string m = validate_error(write_file(dir, "violence", {{"features", h5::Dtype::f32, {6, 12}}, kLabels}));
  EXPECT_MESSAGE(m, "bad.h5:/features");
  EXPECT_MESSAGE(m, "rank 2, expected rank 3 (N, T, D)");
}

TEST(Schema, WrongShape) {
  TempDir dir;
  const std::string m = validate_error(write_file(dir, "shoplifting",
                                                  {{"visual", h5::Dtype::f32, {6, 1024}},
                                                   {"pose", h5::Dtype::f32, {6, 16, 34}},
                                                   kLabels,
                                                   {"action", h5::Dtype::i32, {6}}}));
  EXPECT_MESSAGE(m, "bad.h5:/visual");
  EXPECT_MESSAGE(m, "(6, 1024) does not match (N, 2048)");
}

TEST(Schema, WrongDtypes) {
  TempDir dir;
  std::string m = validate_error(write_file(dir, "violence", {{"features", h5::Dtype::f64, {6, 3, 4}}, kLabels}));
  EXPECT_MESSAGE(m, "bad.h5:/features: dtype float64, expected float32 or float16");
  m = validate_error(write_file(dir, "violence", {kFeatures, {"labels", h5::Dtype::i64, {6}}}));
  EXPECT_MESSAGE(m, "bad.h5:/labels: dtype int64, expected int32");
}

TEST(Schema, LabelsOutOfRange) {
  TempDir dir;
  FakeDataset labels = kLabels;
  labels.value = [](std::int64_t i) { return i == 4 ? 2.0 : 0.0; };
  const std::string m = validate_error(write_file(dir, "violence", {kFeatures, labels}));
  EXPECT_MESSAGE(m, "bad.h5:/labels: label 2 at sample 4 is out of range; expected 0..1");
  labels.value = [](std::int64_t) { return -1.0; };
  EXPECT_MESSAGE(validate_error(write_file(dir, "violence", {kFeatures, labels})), "label -1 at sample 0");
}

TEST(Schema, NanAndInfInFeatures) {
  TempDir dir;
  FakeDataset features = kFeatures;
  features.value = [](std::int64_t i) { return i == 12 * 5 + 7 ? std::numeric_limits<double>::quiet_NaN() : 1.0; };
  const auto path = write_file(dir, "violence", {features, kLabels});
  const std::string m = validate_error(path);
  EXPECT_MESSAGE(m, "bad.h5:/features: sample 5 holds nan at element 7");
  EXPECT_EQ(validate_error(path, {}, false), "(valid)");  // structure alone is fine
  features.value = [](std::int64_t i) { return i == 0 ? -std::numeric_limits<double>::infinity() : 1.0; };
  EXPECT_MESSAGE(validate_error(write_file(dir, "violence", {features, kLabels})), "sample 0 holds -inf");
}

TEST(Schema, ZeroSamples) {
  TempDir dir;
  const std::string m = validate_error(
      write_file(dir, "violence", {{"features", h5::Dtype::f32, {0, 3, 4}}, {"labels", h5::Dtype::i32, {0}}}));
  EXPECT_MESSAGE(m, "bad.h5:/features: holds no samples (N = 0)");
}

TEST(Schema, MismatchedSampleCounts) {
  TempDir dir;
  const std::string m = validate_error(write_file(dir, "violence", {kFeatures, {"labels", h5::Dtype::i32, {5}}}));
  EXPECT_MESSAGE(m, "bad.h5:/labels: 5 samples, but features has 6");
}

TEST(Schema, MissingDatasetAndAttributes) {
  TempDir dir;
  EXPECT_MESSAGE(validate_error(write_file(dir, "violence", {kFeatures})), "missing dataset labels");
  EXPECT_MESSAGE(validate_error(write_file(dir, "violence", {kFeatures, kLabels}, false)),
                 "bad.h5:/: no 'schema' attribute");
}

TEST(Schema, WrongSchemaVersionAndWorkload) {
  TempDir dir;
  const auto path = write_file(dir, "violence", {kFeatures, kLabels});
  EXPECT_MESSAGE(validate_error(path, "shoplifting"), "holds data for workload 'violence', expected 'shoplifting'");
  {
    h5::File file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)};
    h5::Group root = h5::open_group(file.get(), "/");
    h5::write_attribute(root.get(), "schema", std::string("parbench.dataset/9"));
  }
  EXPECT_MESSAGE(validate_error(path), "schema is 'parbench.dataset/9', expected 'parbench.dataset/1'");
  {
    h5::File file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)};
    h5::Group root = h5::open_group(file.get(), "/");
    h5::write_attribute(root.get(), "schema", std::string(data::kDatasetSchema));
    h5::write_attribute(root.get(), "workload", std::string("forensics"));
  }
  const std::string m = validate_error(path);
  EXPECT_MESSAGE(m, "unknown workload 'forensics'; valid workloads: violence, shoplifting");
}

TEST(Schema, UnknownWorkloadListsNames) {
  EXPECT_THROW(data::workload_spec("vit"), parbench::Error);
  try {
    data::workload_spec("vit");
  } catch (const parbench::Error& error) {
    EXPECT_MESSAGE(std::string(error.what()), "valid workloads: violence, shoplifting");
  }
}

TEST(Schema, FindSplits) {
  TempDir dir;
  data::SynthOptions options{.workload = "violence", .samples = 10, .frames = 2, .feature_dim = 3};
  options.splits = data::parse_splits("train,val,test");
  data::synthesize(options, dir / "split.h5");
  h5::File file = h5::open_read(dir / "split.h5");
  EXPECT_EQ(data::find_splits(file.get()), (std::vector<std::string>{"/test", "/train", "/val"}));
  EXPECT_EQ(data::validate_split(file.get(), "/train", {}).samples, 8);
  EXPECT_EQ(data::validate_split(file.get(), "/val", {}).samples, 1);
  EXPECT_MESSAGE(
      [&] {
        try {
          data::validate_split(file.get(), "/holdout", {});
        } catch (const parbench::Error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      "no group /holdout");
}

}  // namespace
