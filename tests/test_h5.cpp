// The HDF5 layer: errors carry the path and HDF5's reason, ids are closed on every error path,
// attributes and float16 round-trip, sparse row reads return the right rows.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <thread>

#include "data/h5.h"
#include "data/loader.h"
#include "data/schema.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::error_of;
using parbench::test::TempDir;

// Open HDF5 objects of every kind: the same before and after an operation means nothing leaked.
std::vector<ssize_t> open_ids() {
  h5::init();
  std::vector<ssize_t> counts{H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)};
  for (H5I_type_t type : {H5I_FILE, H5I_GROUP, H5I_DATATYPE, H5I_DATASPACE, H5I_DATASET, H5I_ATTR, H5I_GENPROP_LST}) {
    hsize_t members = 0;
    H5Inmembers(type, &members);
    counts.push_back(static_cast<ssize_t>(members));
  }
  return counts;
}

std::filesystem::path small_violence(const TempDir& dir, const std::string& name) {
  data::SynthOptions options;
  options.workload = "violence";
  options.samples = 9;
  options.frames = 3;
  options.feature_dim = 5;
  data::synthesize(options, dir / name);
  return dir / name;
}

TEST(H5, MissingFileNotHdf5AndTruncatedAreDistinguished) {
  TempDir dir;
  EXPECT_NE(error_of([&] { h5::open_read(dir / "nope.h5"); }).find("nope.h5: no such file"), std::string::npos);

  std::ofstream(dir / "text.h5") << "just some text, not HDF5\n";
  EXPECT_NE(error_of([&] { h5::open_read(dir / "text.h5"); }).find("text.h5: not an HDF5 file"), std::string::npos);

  const auto path = small_violence(dir, "cut.h5");
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  const std::string message = error_of([&] { h5::open_read(path); });
  EXPECT_NE(message.find("cut.h5: cannot open HDF5 file"), std::string::npos) << message;
  // HDF5's own reason travels with the error.
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(H5, NoIdsLeakAfterErrors) {
  TempDir dir;
  const auto good = small_violence(dir, "good.h5");
  std::filesystem::copy_file(good, dir / "cut.h5");
  std::filesystem::resize_file(dir / "cut.h5", std::filesystem::file_size(good) / 2);
  const auto before = open_ids();

  // A failure deep inside: open file, group, dataset, then a bad row range.
  EXPECT_THROW(
      {
        h5::File file = h5::open_read(good);
        h5::Dataset features = h5::open_dataset(file.get(), "/features");
        std::vector<float> out(100);
        h5::read_rows(features.get(), H5T_NATIVE_FLOAT, 8, 2, out.data());
      },
      parbench::Error);
  EXPECT_THROW(h5::open_read(dir / "cut.h5"), parbench::Error);
  EXPECT_THROW(
      {
        h5::File file = h5::open_read(good);
        data::validate_split(file.get(), "/", {.workload = "shoplifting"});
      },
      parbench::Error);
  EXPECT_THROW(data::Loader(good, {.batch = 100}), parbench::Error);
  EXPECT_THROW(
      {
        h5::File file = h5::open_read(good);
        h5::open_dataset(file.get(), "/no_such_dataset");
      },
      parbench::Error);
  EXPECT_EQ(open_ids(), before);
  EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

TEST(H5, AttributesRoundTrip) {
  TempDir dir;
  {
    h5::File file = h5::create(dir / "a.h5");
    h5::Group root = h5::open_group(file.get(), "/");
    h5::write_attribute(root.get(), "name", std::string("violence"));
    h5::write_attribute(root.get(), "names", std::vector<std::string>{"a", "bb", "ccc"});
    h5::write_attribute(root.get(), "step", std::int64_t{42});
    h5::write_attribute(root.get(), "name", std::string("replaced"));
  }
  h5::File file = h5::open_read(dir / "a.h5");
  h5::Group root = h5::open_group(file.get(), "/");
  EXPECT_EQ(h5::read_string_attribute(root.get(), "name"), "replaced");
  EXPECT_EQ(h5::read_strings_attribute(root.get(), "names"), (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_EQ(h5::read_string_attribute(root.get(), "missing"), std::nullopt);
  EXPECT_THROW(h5::read_string_attribute(root.get(), "step"), parbench::Error);
}

TEST(H5, Float16StoresIeeeHalf) {
  TempDir dir;
  const std::vector<std::uint16_t> halves = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555};  // 1, -2, 65504, ...
  {
    h5::File file = h5::create(dir / "h.h5");
    h5::Dataset d = h5::create_dataset(file.get(), "x", h5::Dtype::f16, {3, 2}, {{1, 2}, 4});
    h5::Type half = h5::half_type();
    h5::write_rows(d.get(), half.get(), 0, 3, halves.data());
  }
  h5::File file = h5::open_read(dir / "h.h5");
  h5::Dataset d = h5::open_dataset(file.get(), "x");
  EXPECT_EQ(h5::dtype_of(d.get()), h5::Dtype::f16);
  std::vector<float> values(6);
  // HDF5's own conversion agrees with IEEE binary16: the type is really a half.
  h5::read_rows(d.get(), H5T_NATIVE_FLOAT, 0, 3, values.data());
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 65504.0f);
  EXPECT_EQ(values[3], std::ldexp(1.0f, -24));
  const h5::Layout layout = h5::layout(d.get());
  EXPECT_EQ(layout.chunk, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(layout.filters, (std::vector<std::string>{"shuffle", "gzip(4)"}));
  EXPECT_EQ(layout.logical_bytes, 12u);
}

TEST(H5, SparseRowReadsReturnRowsInOrder) {
  TempDir dir;
  std::vector<float> values(20 * 3);
  std::iota(values.begin(), values.end(), 0.0f);
  {
    h5::File file = h5::create(dir / "r.h5");
    h5::Dataset d = h5::create_dataset(file.get(), "x", h5::Dtype::f32, {20, 3}, {{4, 3}, 1});
    h5::write_rows(d.get(), H5T_NATIVE_FLOAT, 0, 20, values.data());
  }
  h5::File file = h5::open_read(dir / "r.h5");
  h5::Dataset d = h5::open_dataset(file.get(), "x");
  const std::vector<std::int64_t> rows = {0, 2, 3, 4, 11, 19};
  std::vector<float> out(rows.size() * 3);
  h5::read_rows(d.get(), H5T_NATIVE_FLOAT, rows, out.data());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(out[i * 3 + j], values[static_cast<std::size_t>(rows[i] * 3 + j)]);
  }
  const std::vector<std::int64_t> unsorted = {3, 1};
  EXPECT_NE(error_of([&] { h5::read_rows(d.get(), H5T_NATIVE_FLOAT, unsorted, out.data()); }).find("ascending"),
            std::string::npos);
  const std::vector<std::int64_t> outside = {5, 20};
  EXPECT_NE(error_of([&] { h5::read_rows(d.get(), H5T_NATIVE_FLOAT, outside, out.data()); }).find("outside"),
            std::string::npos);
}

TEST(H5, ErrorsInOtherThreadsAreSilentAndCaught) {
  TempDir dir;
  std::string message;
  std::thread worker([&] { message = error_of([&] { h5::open_read(dir / "missing.h5"); }); });
  worker.join();
  EXPECT_NE(message.find("no such file"), std::string::npos);
}

}  // namespace
