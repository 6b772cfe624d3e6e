// ChunkReader: raw chunk reads plus zlib inflate and unshuffle.
#include "data/chunk_reader.h"

#include <zlib.h>

#include <cstring>

namespace parbench::data {

void unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size) {
  const std::size_t elements = bytes / element_size;
  for (std::size_t j = 0; j < element_size; ++j) {
    const std::uint8_t* plane = in + j * elements;
    for (std::size_t i = 0; i < elements; ++i) out[i * element_size + j] = plane[i];
  }
  // Trailing bytes that do not form a whole element are stored unshuffled, as HDF5 does.
  const std::size_t tail = elements * element_size;
  std::memcpy(out + tail, in + tail, bytes - tail);
}

ChunkReader::ChunkReader(hid_t dataset) : dataset_(dataset) {
  h5::init();
  char name[512] = {};
  H5Iget_name(dataset, name, sizeof name);
  name_ = fmt::format("{}:{}", h5::file_name(dataset), name);
  const h5::Layout layout = h5::layout(dataset);
  shape_ = layout.shape;
  if (layout.chunk.empty() || shape_.empty()) {
    reason_ = "not chunked";
    return;
  }
  for (std::size_t i = 1; i < shape_.size(); ++i) {
    if (layout.chunk[i] != shape_[i]) {
      reason_ = "chunks split a row";
      return;
    }
  }
  chunk_rows_ = layout.chunk[0];

  h5::Type type{h5::call(H5Dget_type(dataset), "{}: reading type", name_)};
  const h5::Type half = h5::half_type();
  if (H5Tequal(type.get(), H5T_IEEE_F32LE) > 0) {
    element_size_ = 4;
  } else if (H5Tequal(type.get(), half.get()) > 0) {
    element_size_ = 2;
  } else {
    reason_ = "stored type is not little-endian float32/float16";
    return;
  }
  row_bytes_ = element_size_;
  for (std::size_t i = 1; i < shape_.size(); ++i) row_bytes_ *= static_cast<std::size_t>(shape_[i]);

  h5::Plist create{h5::call(H5Dget_create_plist(dataset), "{}: reading creation properties", name_)};
  const int filters = H5Pget_nfilters(create.get());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t value_count = 0;
    const H5Z_filter_t id =
        H5Pget_filter2(create.get(), static_cast<unsigned>(i), &flags, &value_count, nullptr, 0, nullptr, &config);
    if (id == H5Z_FILTER_SHUFFLE && !gzip_) {
      shuffle_ = true;
      shuffle_bit_ = static_cast<unsigned>(i);
    } else if (id == H5Z_FILTER_DEFLATE) {
      gzip_ = true;
      gzip_bit_ = static_cast<unsigned>(i);
    } else {
      reason_ = "a filter other than shuffle then gzip";
      return;
    }
  }
  usable_ = true;
}

void ChunkReader::read_rows(std::span<const std::int64_t> rows, void* out) const {
  h5::init();
  if (!usable_) throw h5::Error(fmt::format("{}: direct chunk reads unusable: {}", name_, reason_));
  const std::size_t chunk_bytes = static_cast<std::size_t>(chunk_rows_) * row_bytes_;
  thread_local std::vector<std::uint8_t> stored, inflated, plain;
  plain.resize(chunk_bytes);
  auto* dest = static_cast<std::uint8_t*>(out);
  std::vector<hsize_t> offset(shape_.size(), 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= shape_[0] || (i > 0 && rows[i] <= rows[i - 1])) {
      throw h5::Error(
          fmt::format("{}: rows must be ascending, distinct and below {} (row {})", name_, shape_[0], rows[i]));
    }
  }
  for (std::size_t i = 0; i < rows.size();) {
    const std::int64_t chunk = rows[i] / chunk_rows_;
    offset[0] = static_cast<hsize_t>(chunk * chunk_rows_);  // NOLINT(bugprone-misplaced-widening-cast): 64 to 64 bits
    hsize_t stored_size = 0;
    h5::call(H5Dget_chunk_storage_size(dataset_, offset.data(), &stored_size), "{}: size of chunk {}", name_, chunk);
    stored.resize(stored_size);
    std::uint32_t mask = 0;
    // The only call under HDF5's lock: the raw bytes of one chunk.
    h5::call(H5Dread_chunk(dataset_, H5P_DEFAULT, offset.data(), &mask, stored.data()), "{}: reading chunk {}", name_,
             chunk);
    const std::uint8_t* data = stored.data();
    std::size_t size = stored.size();
    if (gzip_ && !(mask & (1u << gzip_bit_))) {
      inflated.resize(chunk_bytes);
      uLongf length = chunk_bytes;
      const int status = uncompress(inflated.data(), &length, data, size);
      if (status != Z_OK || length != chunk_bytes) {
        throw h5::Error(fmt::format("{}: chunk {} does not inflate to {} bytes (zlib status {}); the file is corrupt",
                                    name_, chunk, chunk_bytes, status));
      }
      data = inflated.data();
      size = length;
    }
    if (size != chunk_bytes) {
      throw h5::Error(fmt::format("{}: chunk {} holds {} bytes, expected {}", name_, chunk, size, chunk_bytes));
    }
    if (shuffle_ && !(mask & (1u << shuffle_bit_))) {
      unshuffle(data, plain.data(), size, element_size_);
      data = plain.data();
    }
    // Every listed row in this chunk.
    const std::int64_t chunk_end = (chunk + 1) * chunk_rows_;
    for (; i < rows.size() && rows[i] < chunk_end; ++i) {
      std::memcpy(dest + i * row_bytes_, data + static_cast<std::size_t>(rows[i] - offset[0]) * row_bytes_, row_bytes_);
    }
  }
}

}  // namespace parbench::data
