// Reads whole rows of a chunked dataset by fetching the raw chunks (H5Dread_chunk) and undoing
// the filters (shuffle, gzip) ourselves. The thread-safe HDF5 build holds one global lock for
// every call, so when HDF5 decompresses, K loader threads decompress one at a time; here only the
// raw chunk read is under the lock, and inflating runs in parallel in the calling threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/h5.h"

namespace parbench::data {

class ChunkReader {
 public:
  // `dataset` must stay open while the reader is used.
  explicit ChunkReader(hid_t dataset);

  // False when the layout needs HDF5's own path: not chunked along rows only, a filter other than
  // shuffle/gzip, or a stored type that is not little-endian float32/float16 (the element size
  // that read_rows delivers).
  bool usable() const { return usable_; }
  const std::string& reason() const { return reason_; }
  std::size_t element_size() const { return element_size_; }

  // The listed rows (ascending, distinct) packed into `out` as stored (float32 or float16 bits).
  void read_rows(std::span<const std::int64_t> rows, void* out) const;

 private:
  hid_t dataset_;
  bool usable_ = false;
  std::string reason_;
  std::string name_;
  std::vector<std::int64_t> shape_;
  std::int64_t chunk_rows_ = 0;
  std::size_t element_size_ = 0;
  std::size_t row_bytes_ = 0;
  bool shuffle_ = false, gzip_ = false;
  unsigned shuffle_bit_ = 0, gzip_bit_ = 0;  // positions in the filter pipeline (the filter mask)
};

// HDF5's byte shuffle undone: `in` holds byte k of every element, then byte k+1, ...
void unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size);

}  // namespace parbench::data
