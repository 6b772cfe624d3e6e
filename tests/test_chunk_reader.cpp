// Direct chunk reads (raw chunk + our own inflate/unshuffle) must return exactly what HDF5's own
// reads return, for every layout the loader meets; other layouts say they are unusable.
#include <gtest/gtest.h>

#include <numeric>

#include "core/half.h"
#include "data/chunk_reader.h"
#include "data/h5.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::TempDir;

struct Layout {
  const char* name;
  hid_t type;
  std::int64_t chunk_rows;
  bool shuffle;
  int gzip;
  bool fletcher;
};

// A (13, 3, 5) dataset with the given layout; 13 rows so that multi-row chunks leave a partial one.
h5::Dataset make(hid_t file, const Layout& layout) {
  const hsize_t dims[3] = {13, 3, 5};
  const hsize_t chunk[3] = {static_cast<hsize_t>(layout.chunk_rows), 3, 5};
  h5::Space space{H5Screate_simple(3, dims, nullptr)};
  h5::Plist create{H5Pcreate(H5P_DATASET_CREATE)};
  H5Pset_chunk(create.get(), 3, chunk);
  if (layout.fletcher) H5Pset_fletcher32(create.get());
  if (layout.shuffle) H5Pset_shuffle(create.get());
  if (layout.gzip > 0) H5Pset_deflate(create.get(), static_cast<unsigned>(layout.gzip));
  h5::Dataset dataset{H5Dcreate2(file, layout.name, layout.type, space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT)};
  std::vector<float> values(13 * 15);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i % 7) * 0.5f - 1.0f + static_cast<float>(i) / 64.0f;
  h5::write_rows(dataset.get(), H5T_NATIVE_FLOAT, 0, 13, values.data());
  return dataset;
}

TEST(ChunkReader, MatchesHdf5ForEveryLoaderLayout) {
  TempDir dir;
  h5::File file = h5::create(dir / "c.h5");
  const h5::Type half = h5::half_type();
  const std::vector<Layout> layouts = {
      {"f32_shuffle_gzip", H5T_IEEE_F32LE, 1, true, 4, false}, {"f32_gzip", H5T_IEEE_F32LE, 4, false, 6, false},
      {"f32_plain", H5T_IEEE_F32LE, 3, false, 0, false},       {"f16_shuffle_gzip", half.get(), 5, true, 1, false},
      {"f16_shuffle", half.get(), 2, true, 0, false},
  };
  const std::vector<std::int64_t> rows = {0, 1, 4, 5, 6, 11, 12};
  for (const auto& layout : layouts) {
    SCOPED_TRACE(layout.name);
    h5::Dataset dataset = make(file.get(), layout);
    data::ChunkReader reader(dataset.get());
    ASSERT_TRUE(reader.usable()) << reader.reason();
    const std::size_t element = reader.element_size();
    std::vector<std::uint8_t> direct(rows.size() * 15 * element), expected(direct.size());
    reader.read_rows(rows, direct.data());
    h5::read_rows(dataset.get(), element == 2 ? half.get() : H5T_NATIVE_FLOAT, rows, expected.data());
    EXPECT_EQ(direct, expected);
  }
}

TEST(ChunkReader, OtherLayoutsAreUnusable) {
  TempDir dir;
  h5::File file = h5::create(dir / "c.h5");
  h5::Dataset checksummed = make(file.get(), {"fletcher", H5T_IEEE_F32LE, 2, true, 4, true});
  EXPECT_FALSE(data::ChunkReader(checksummed.get()).usable());
  h5::Dataset doubles = make(file.get(), {"f64", H5T_IEEE_F64LE, 2, true, 4, false});
  EXPECT_FALSE(data::ChunkReader(doubles.get()).usable());
  h5::Dataset big_endian = make(file.get(), {"f32be", H5T_IEEE_F32BE, 2, false, 0, false});
  data::ChunkReader reader(big_endian.get());
  EXPECT_FALSE(reader.usable());
  std::vector<float> out(15);
  const std::vector<std::int64_t> rows = {0};
  EXPECT_THROW(reader.read_rows(rows, out.data()), parbench::Error);
}

TEST(ChunkReader, RejectsUnsortedAndOutOfRangeRows) {
  TempDir dir;
  h5::File file = h5::create(dir / "c.h5");
  h5::Dataset dataset = make(file.get(), {"x", H5T_IEEE_F32LE, 2, true, 4, false});
  data::ChunkReader reader(dataset.get());
  std::vector<float> out(3 * 15);
  for (const std::vector<std::int64_t>& rows : {std::vector<std::int64_t>{3, 2}, {1, 1}, {13}, {-1}}) {
    EXPECT_THROW(reader.read_rows(rows, out.data()), parbench::Error);
  }
}

TEST(ChunkReader, UnshuffleInvertsHdf5Shuffle) {
  // 3 elements of 4 bytes plus 2 trailing bytes: planes of byte 0, 1, 2, 3, then the tail.
  const std::vector<std::uint8_t> shuffled = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 13};
  std::vector<std::uint8_t> plain(shuffled.size());
  data::unshuffle(shuffled.data(), plain.data(), shuffled.size(), 4);
  std::vector<std::uint8_t> expected(14);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(plain, expected);
}

}  // namespace
