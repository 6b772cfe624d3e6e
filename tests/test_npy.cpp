// Tests for data/npy: round trips through write(), blockwise reads against whole reads, header
// variants NumPy (old and new) produces, and the Error raised for each file we must reject.
// Files go to a fresh folder under the system temp directory that each test removes.
#include "data/npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "core/half.h"

namespace parbench::data::npy {
namespace {

namespace fs = std::filesystem;

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("parbench_npy_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file(const std::string& name) const { return dir_ / name; }

  // Runs `action`, which must throw parbench::Error mentioning the file and `word`.
  static void expect_error(const std::function<void()>& action, const fs::path& path, const std::string& word) {
    try {
      action();
      ADD_FAILURE() << "no Error for " << path << " (expected one mentioning '" << word << "')";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << "message lacks the file name: " << message;
      EXPECT_NE(message.find(word), std::string::npos) << "message lacks '" << word << "': " << message;
    }
  }

  static std::string bytes_of(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

std::int64_t product(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

// Multiples of 1/4 in [-64, 64): exact in float16, so f16 round trips compare with ==.
std::vector<float> test_values(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = static_cast<float>((i * 37) % 512 - 256) * 0.25f;
  return v;
}

const std::vector<std::vector<std::int64_t>> kShapes = {{7}, {13, 5}, {7, 3, 5}, {13, 1, 3}};

// Reads rows in uneven blocks (1, 2, 3, ... rows) starting at odd offsets and checks each block
// against the matching slice of the whole-array read.
template <typename T, typename ReadFn>
void check_blocks(Reader& reader, const std::vector<T>& whole, ReadFn read) {
  const std::int64_t rows = reader.header().rows();
  const auto row = static_cast<std::int64_t>(reader.header().row_elements());
  for (std::int64_t first = 1; first < rows; first += 2) {
    for (std::int64_t count = 1; first + count <= rows; count += 2) {
      std::vector<T> block(static_cast<std::size_t>(count * row));
      read(reader, first, count, block.data());
      for (std::int64_t i = 0; i < count * row; ++i) {
        ASSERT_EQ(block[static_cast<std::size_t>(i)], whole[static_cast<std::size_t>(first * row + i)])
            << "rows [" << first << ", " << first + count << ") element " << i;
      }
    }
  }
}

TEST_F(NpyTest, DTypeNamesAndSizes) {
  EXPECT_EQ(dtype_name(DType::f16), "float16");
  EXPECT_EQ(dtype_name(DType::f32), "float32");
  EXPECT_EQ(dtype_name(DType::i64), "int64");
  EXPECT_EQ(dtype_name(DType::u8), "uint8");
  EXPECT_EQ(dtype_name(DType::boolean), "bool");
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::i16), 2u);
  EXPECT_EQ(dtype_size(DType::boolean), 1u);
}

TEST_F(NpyTest, WriteProducesNumpyLayout) {
  const auto values = test_values(13 * 5);
  const fs::path path = file("layout.npy");
  write(path, DType::f32, {13, 5}, values.data());
  const std::string bytes = bytes_of(path);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::string dict = bytes.substr(10, header_length);
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (13, 5), }", 0), 0u) << dict;
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_EQ((10 + header_length) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + header_length + values.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(bytes.data() + 10 + header_length, values.data(), values.size() * sizeof(float)), 0);

  const Header h = read_header(path);
  EXPECT_EQ(h.dtype, DType::f32);
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_EQ(h.item_size, 4u);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{13, 5}));
  EXPECT_EQ(h.data_offset, 10 + header_length);
  EXPECT_EQ(h.rows(), 13);
  EXPECT_EQ(h.row_elements(), 5u);
  EXPECT_EQ(h.data_bytes(), 13u * 5u * 4u);
}

TEST_F(NpyTest, Float32RoundTripAndBlockReads) {
  for (const auto& shape : kShapes) {
    SCOPED_TRACE(::testing::PrintToString(shape));
    const auto values = test_values(product(shape));
    const fs::path path = file("f32.npy");
    write(path, DType::f32, shape, values.data());
    Reader reader(path);
    EXPECT_EQ(reader.path(), path);
    EXPECT_EQ(reader.header().shape, shape);
    std::vector<float> whole(values.size(), -1000.0f);
    reader.read_f32(0, shape[0], whole.data());
    ASSERT_EQ(whole, values);
    check_blocks(reader, whole, [](Reader& r, std::int64_t f, std::int64_t c, float* o) { r.read_f32(f, c, o); });
  }
}

TEST_F(NpyTest, Float16RoundTripConvertsAndKeepsBits) {
  for (const auto& shape : kShapes) {
    SCOPED_TRACE(::testing::PrintToString(shape));
    const auto values = test_values(product(shape));
    std::vector<std::uint16_t> halves(values.size());
    float_to_half(values.data(), halves.data(), values.size());
    const fs::path path = file("f16.npy");
    write(path, DType::f16, shape, halves.data());
    Reader reader(path);
    EXPECT_EQ(reader.header().descr, "<f2");
    EXPECT_EQ(reader.header().item_size, 2u);
    std::vector<float> whole(values.size());
    reader.read_f32(0, shape[0], whole.data());
    ASSERT_EQ(whole, values);
    std::vector<std::uint16_t> bits(values.size());
    reader.read_f16_bits(0, shape[0], bits.data());
    ASSERT_EQ(bits, halves);
    check_blocks(reader, whole, [](Reader& r, std::int64_t f, std::int64_t c, float* o) { r.read_f32(f, c, o); });
    check_blocks(reader, bits,
                 [](Reader& r, std::int64_t f, std::int64_t c, std::uint16_t* o) { r.read_f16_bits(f, c, o); });
  }
}

TEST_F(NpyTest, Float64NarrowsToFloat32) {
  const std::vector<std::int64_t> shape = {7, 3};
  std::vector<double> values(21);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.1 * static_cast<double>(i) - 1.0;
  values[5] = 1e300;
  const fs::path path = file("f64.npy");
  write(path, DType::f64, shape, values.data());
  Reader reader(path);
  std::vector<float> whole(values.size());
  reader.read_f32(0, 7, whole.data());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i == 5) {
      EXPECT_TRUE(std::isinf(whole[i]));
    } else {
      EXPECT_EQ(whole[i], static_cast<float>(values[i])) << i;
    }
  }
  check_blocks(reader, whole, [](Reader& r, std::int64_t f, std::int64_t c, float* o) { r.read_f32(f, c, o); });
}

TEST_F(NpyTest, ReadsSpanningManyConversionBuffers) {
  // Converting reads go through a bounded buffer (about 1 MiB); these arrays need several refills.
  const std::vector<std::int64_t> shape = {100003, 7};
  const auto values = test_values(product(shape));
  std::vector<std::uint16_t> halves(values.size());
  float_to_half(values.data(), halves.data(), values.size());
  std::vector<double> doubles(values.begin(), values.end());
  write(file("big16.npy"), DType::f16, shape, halves.data());
  write(file("big64.npy"), DType::f64, shape, doubles.data());
  for (const char* name : {"big16.npy", "big64.npy"}) {
    SCOPED_TRACE(name);
    Reader reader(file(name));
    std::vector<float> whole(values.size());
    reader.read_f32(0, shape[0], whole.data());
    ASSERT_EQ(whole, values);
    std::vector<float> block(static_cast<std::size_t>(90001 * 7));
    reader.read_f32(9001, 90001, block.data());
    ASSERT_TRUE(std::equal(block.begin(), block.end(), values.begin() + 9001 * 7));
  }
}

TEST_F(NpyTest, IntegerLabelsRoundTrip) {
  const std::int64_t n = 13;
  std::vector<std::int32_t> expected(n);
  for (std::int64_t i = 0; i < n; ++i)
    expected[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7919) % 1000 - 3);

  std::vector<std::int64_t> as_i64(expected.begin(), expected.end());
  write(file("i64.npy"), DType::i64, {n}, as_i64.data());
  write(file("i32.npy"), DType::i32, {n}, expected.data());
  std::vector<std::int16_t> as_i16(expected.begin(), expected.end());
  write(file("i16.npy"), DType::i16, {n}, as_i16.data());

  for (const char* name : {"i64.npy", "i32.npy", "i16.npy"}) {
    SCOPED_TRACE(name);
    Reader reader(file(name));
    std::vector<std::int32_t> whole(n, 12345);
    reader.read_i32(0, n, whole.data());
    ASSERT_EQ(whole, expected);
    check_blocks(reader, whole,
                 [](Reader& r, std::int64_t f, std::int64_t c, std::int32_t* o) { r.read_i32(f, c, o); });
  }
}

TEST_F(NpyTest, SmallIntegerAndBoolLabels) {
  const std::vector<std::uint8_t> u8 = {0, 1, 255, 7, 128};
  write(file("u8.npy"), DType::u8, {5}, u8.data());
  const std::vector<std::int8_t> i8 = {-128, -1, 0, 1, 127};
  write(file("i8.npy"), DType::i8, {5}, i8.data());
  const std::vector<std::uint8_t> flags = {0, 1, 1, 0, 2};  // NumPy treats any non-zero byte as True
  write(file("bool.npy"), DType::boolean, {5}, flags.data());
  const std::vector<std::uint64_t> u64 = {0, 2147483647ull, 5, 9, 1};
  write(file("u64.npy"), DType::u64, {5}, u64.data());

  std::vector<std::int32_t> out(5);
  Reader(file("u8.npy")).read_i32(0, 5, out.data());
  EXPECT_EQ(out, (std::vector<std::int32_t>{0, 1, 255, 7, 128}));
  Reader(file("i8.npy")).read_i32(0, 5, out.data());
  EXPECT_EQ(out, (std::vector<std::int32_t>{-128, -1, 0, 1, 127}));
  Reader bools(file("bool.npy"));
  EXPECT_EQ(bools.header().descr, "|b1");
  bools.read_i32(0, 5, out.data());
  EXPECT_EQ(out, (std::vector<std::int32_t>{0, 1, 1, 0, 1}));
  Reader(file("u64.npy")).read_i32(0, 5, out.data());
  EXPECT_EQ(out, (std::vector<std::int32_t>{0, 2147483647, 5, 9, 1}));
}

TEST_F(NpyTest, LabelOutsideInt32NamesElement) {
  const std::vector<std::int64_t> labels = {1, 2, 3, 4, 5, 6, 3000000000, 8, 9};
  const fs::path path = file("big_labels.npy");
  write(path, DType::i64, {3, 3}, labels.data());
  Reader reader(path);
  std::vector<std::int32_t> out(9);
  expect_error([&] { reader.read_i32(0, 3, out.data()); }, path, "element 6");
  expect_error([&] { reader.read_i32(2, 1, out.data()); }, path, "int32");
  reader.read_i32(1, 1, out.data());  // rows not containing the value still read
  EXPECT_EQ(out[0], 4);
  EXPECT_EQ(out[2], 6);
}

TEST_F(NpyTest, ScalarAndEmptyArrays) {
  const float scalar = 3.5f;
  write(file("scalar.npy"), DType::f32, {}, &scalar);
  Reader reader(file("scalar.npy"));
  EXPECT_TRUE(reader.header().shape.empty());
  EXPECT_EQ(reader.header().rows(), 1);
  EXPECT_EQ(reader.header().row_elements(), 1u);
  EXPECT_EQ(reader.header().data_bytes(), 4u);
  float out = 0;
  reader.read_f32(0, 1, &out);
  EXPECT_EQ(out, 3.5f);
  EXPECT_NE(bytes_of(file("scalar.npy")).find("'shape': ()"), std::string::npos);

  write(file("empty.npy"), DType::f32, {0, 4}, nullptr);
  Reader empty(file("empty.npy"));
  EXPECT_EQ(empty.header().rows(), 0);
  EXPECT_EQ(empty.header().row_elements(), 4u);
  EXPECT_EQ(empty.header().data_bytes(), 0u);
  empty.read_f32(0, 0, &out);
}

TEST_F(NpyTest, Version2And3Headers) {
  const auto values = test_values(13 * 2);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (13, 2), }\n";
  for (const int version : {2, 3}) {
    SCOPED_TRACE(version);
    // Built in steps: GCC 12 -O3 reports a false -Wrestrict on "v" + std::to_string(...) (GCC bug 105329).
    std::string name = "v";
    name += std::to_string(version);
    name += ".npy";
    const fs::path path = file(name);
    write_raw(path, dict, values.data(), values.size() * sizeof(float), version);
    Reader reader(path);
    EXPECT_EQ(reader.header().major_version, version);
    EXPECT_EQ(reader.header().data_offset, 12 + dict.size());
    std::vector<float> whole(values.size());
    reader.read_f32(0, 13, whole.data());
    EXPECT_EQ(whole, values);
    check_blocks(reader, whole, [](Reader& r, std::int64_t f, std::int64_t c, float* o) { r.read_f32(f, c, o); });
  }
}

TEST_F(NpyTest, AcceptsHeaderVariants) {
  const std::vector<std::int64_t> data = {10, 20, 30, 40, 50, 60};
  // What different NumPy versions and hand-written tools produce: key order, quoting, spacing,
  // Python 2 longs, native/explicit byte order, and padding like NumPy >= 1.14's growth space.
  const std::vector<std::string> dicts = {
      "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }" + std::string(60, ' ') + "\n",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<i8'}\n",
      "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{ 'descr' : '=i8' ,'fortran_order':False,'shape':(2L, 3L) , }   \n",
      "{'descr': 'i8', 'fortran_order': False, 'shape': [2, 3], }\n",
  };
  for (std::size_t k = 0; k < dicts.size(); ++k) {
    SCOPED_TRACE(dicts[k]);
    const fs::path path = file("variant" + std::to_string(k) + ".npy");
    write_raw(path, dicts[k], data.data(), data.size() * sizeof(std::int64_t));
    const Header h = read_header(path);
    EXPECT_EQ(h.dtype, DType::i64);
    EXPECT_EQ(h.shape, (std::vector<std::int64_t>{2, 3}));
    std::vector<std::int32_t> out(6);
    Reader(path).read_i32(0, 2, out.data());
    EXPECT_EQ(out, (std::vector<std::int32_t>{10, 20, 30, 40, 50, 60}));
  }
}

TEST_F(NpyTest, OneDimensionalFortranOrderIsAccepted) {
  // np.save marks some 1-D arrays fortran_order True; the bytes are the same as C order.
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7};
  const fs::path path = file("f1d.npy");
  write_raw(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (7,), }\n", values.data(), 28);
  std::vector<float> out(7);
  Reader(path).read_f32(0, 7, out.data());
  EXPECT_EQ(out, values);
}

TEST_F(NpyTest, RejectsMissingFile) {
  const fs::path path = file("does_not_exist.npy");
  expect_error([&] { read_header(path); }, path, "no such file");
  expect_error([&] { Reader reader(path); }, path, "no such file");
  expect_error([&] { read_header(dir_); }, dir_, "not a regular file");
}

TEST_F(NpyTest, RejectsBadMagic) {
  const fs::path path = file("not_npy.npy");
  std::ofstream(path, std::ios::binary) << "PK\x03\x04 this is a zip, not an npy file";
  expect_error([&] { read_header(path); }, path, "magic");
  const fs::path empty = file("empty_file.npy");
  std::ofstream(empty, std::ios::binary).close();
  expect_error([&] { read_header(empty); }, empty, "magic");
}

TEST_F(NpyTest, RejectsUnsupportedVersion) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n";
  const float value = 1;
  const fs::path v4 = file("v4.npy");
  write_raw(v4, dict, &value, 4, 4);
  expect_error([&] { read_header(v4); }, v4, "version 4.0");
  const fs::path v11 = file("v11.npy");
  write_raw(v11, dict, &value, 4, 1);
  std::fstream patch(v11, std::ios::binary | std::ios::in | std::ios::out);
  patch.seekp(7);
  patch.put('\x01');
  patch.close();
  expect_error([&] { read_header(v11); }, v11, "version 1.1");
}

TEST_F(NpyTest, RejectsMalformedHeaders) {
  const float value = 1;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not a dict\n", "malformed"},
      {"{'descr': '<f4', 'fortran_order': False}\n", "missing key 'shape'"},
      {"{'descr': '<f4', 'shape': (1,)}\n", "missing key 'fortran_order'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}\n", "malformed"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)\n", "malformed"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", "non-negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': 1}\n", "tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}\n", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n", "twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk\n", "malformed"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n", "too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(100, '(') + ")}\n", "malformed"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(cases[k].first);
    const fs::path path = file("malformed" + std::to_string(k) + ".npy");
    write_raw(path, cases[k].first, &value, 4);
    expect_error([&] { read_header(path); }, path, cases[k].second);
  }
}

TEST_F(NpyTest, RejectsFortranOrder) {
  const std::vector<float> values(6, 1.0f);
  const fs::path path = file("fortran.npy");
  write_raw(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", values.data(), 24);
  expect_error([&] { read_header(path); }, path, "Fortran");
  expect_error([&] { read_header(path); }, path, "np.ascontiguousarray");
}

TEST_F(NpyTest, RejectsBigEndian) {
  const std::vector<float> values(3, 1.0f);
  const fs::path path = file("big_endian.npy");
  write_raw(path, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }\n", values.data(), 12);
  expect_error([&] { read_header(path); }, path, "big-endian");
}

TEST_F(NpyTest, RejectsObjectArrays) {
  const fs::path path = file("object.npy");
  write_raw(path, "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }\n", "pickle-bytes", 12);
  expect_error([&] { read_header(path); }, path, "object");
}

TEST_F(NpyTest, RejectsOtherDtypes) {
  const std::vector<char> data(256, 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"'<c8'", "complex"},      {"'<U10'", "unicode string"}, {"'|S4'", "byte string"},
      {"'<M8[ns]'", "datetime"}, {"'<m8[s]'", "timedelta"},    {"'|V8'", "void"},
      {"'<f16'", "unsupported"}, {"'<i3'", "unsupported"},     {"[('x', '<f4'), ('y', '<i4')]", "structured"},
      {"''", "unsupported"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(cases[k].first);
    const fs::path path = file("dtype" + std::to_string(k) + ".npy");
    write_raw(path, "{'descr': " + cases[k].first + ", 'fortran_order': False, 'shape': (2,), }\n", data.data(),
              data.size());
    expect_error([&] { read_header(path); }, path, cases[k].second);
  }
}

TEST_F(NpyTest, RejectsTruncatedFiles) {
  const auto values = test_values(13 * 4);
  const fs::path full = file("full.npy");
  write(full, DType::f32, {13, 4}, values.data());
  const std::string bytes = bytes_of(full);
  const std::uint64_t offset = read_header(full).data_offset;

  const fs::path short_data = file("short_data.npy");
  std::ofstream(short_data, std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  expect_error([&] { read_header(short_data); }, short_data, "truncated");
  expect_error([&] { read_header(short_data); }, short_data,
               "expected " + std::to_string(offset + 13 * 4 * 4) + " bytes");
  expect_error([&] { read_header(short_data); }, short_data, "found " + std::to_string(bytes.size() - 5));

  const fs::path short_header = file("short_header.npy");
  std::ofstream(short_header, std::ios::binary) << bytes.substr(0, 40);
  expect_error([&] { read_header(short_header); }, short_header, "truncated");

  const fs::path only_magic = file("only_magic.npy");
  std::ofstream(only_magic, std::ios::binary) << bytes.substr(0, 4);
  expect_error([&] { read_header(only_magic); }, only_magic, "truncated");
}

TEST_F(NpyTest, RejectsWrongDtypeForRead) {
  const std::vector<std::int64_t> labels = {1, 2, 3};
  write(file("labels.npy"), DType::i64, {3}, labels.data());
  const std::vector<float> features = {1, 2, 3};
  write(file("features.npy"), DType::f32, {3}, features.data());

  Reader label_reader(file("labels.npy"));
  std::vector<float> f(3);
  expect_error([&] { label_reader.read_f32(0, 3, f.data()); }, file("labels.npy"), "int64");
  std::vector<std::uint16_t> h(3);
  expect_error([&] { label_reader.read_f16_bits(0, 3, h.data()); }, file("labels.npy"), "float16");
  Reader feature_reader(file("features.npy"));
  std::vector<std::int32_t> i(3);
  expect_error([&] { feature_reader.read_i32(0, 3, i.data()); }, file("features.npy"), "float32");
  expect_error([&] { feature_reader.read_f16_bits(0, 3, h.data()); }, file("features.npy"), "float32");
}

TEST_F(NpyTest, RejectsRowsOutOfRange) {
  const auto values = test_values(7 * 2);
  const fs::path path = file("rows.npy");
  write(path, DType::f32, {7, 2}, values.data());
  Reader reader(path);
  std::vector<float> out(16);
  expect_error([&] { reader.read_f32(6, 2, out.data()); }, path, "7 rows");
  expect_error([&] { reader.read_f32(-1, 1, out.data()); }, path, "rows");
  expect_error([&] { reader.read_f32(0, -1, out.data()); }, path, "rows");
  reader.read_f32(6, 1, out.data());
  EXPECT_EQ(out[0], values[12]);
  EXPECT_EQ(out[1], values[13]);
}

}  // namespace
}  // namespace parbench::data::npy
