// Reader (and small writer) for NumPy .npy files.
// Python pipelines hand over feature caches as np.save output; this reads them block by block so
// files larger than memory can be imported, and rejects layouts it cannot read with a clear Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::data::npy {

enum class DType { f16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, boolean };

// NumPy's name for the type: "float32", "int64", "bool", ...
std::string_view dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);

struct Header {
  DType dtype = DType::f32;
  std::size_t item_size = 0;        // bytes per element
  std::vector<std::int64_t> shape;  // C order; empty for a scalar
  std::uint64_t data_offset = 0;    // bytes from file start to first element
  std::string descr;                // as in the file, e.g. "<f4"
  int major_version = 1;

  std::int64_t rows() const;         // shape[0] (1 for a scalar)
  std::size_t row_elements() const;  // product of shape[1:]
  std::uint64_t elements() const;    // product of shape
  std::uint64_t data_bytes() const;
};

// Reads and validates the header; every problem (missing file, bad magic, unsupported version,
// malformed dict, Fortran order, big-endian, unsupported dtype, truncated data) is a
// parbench::Error naming the file.
Header read_header(const std::filesystem::path& file);

// Reads blocks of leading-axis rows with seek + read, never the whole file.
class Reader {
 public:
  explicit Reader(std::filesystem::path file);

  const Header& header() const { return header_; }
  const std::filesystem::path& path() const { return path_; }

  // Rows [first, first+count) as float32, converted from f16, f32 or f64.
  // out holds count * row_elements() floats.
  void read_f32(std::int64_t first, std::int64_t count, float* out);
  // The same rows as raw little-endian half bits; f16 files only.
  void read_f16_bits(std::int64_t first, std::int64_t count, std::uint16_t* out);
  // Integer or bool rows as int32; values outside int32 are an Error naming the element index.
  void read_i32(std::int64_t first, std::int64_t count, std::int32_t* out);

 private:
  // Seeks to row `first` after checking the range; returns the number of elements to read.
  std::size_t seek_rows(std::int64_t first, std::int64_t count);
  void read_bytes(void* out, std::size_t bytes);

  std::filesystem::path path_;
  Header header_;
  std::ifstream stream_;
};

// Writes a C-order little-endian version 1.0 .npy whose data starts at a multiple of 64, as
// NumPy does. `data` holds product(shape) * dtype_size(dtype) bytes.
void write(const std::filesystem::path& file, DType dtype, const std::vector<std::int64_t>& shape, const void* data);

// Writes a valid magic and version followed by `header_dict` verbatim (no padding or newline
// added) and `bytes` of data; lets tests produce malformed headers.
void write_raw(const std::filesystem::path& file, std::string_view header_dict, const void* data, std::size_t bytes,
               int major_version = 1);

}  // namespace parbench::data::npy
