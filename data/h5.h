// A small RAII layer over the HDF5 C API: every id is closed on every path, HDF5's automatic
// error printing is silenced, and a failed call becomes an h5::Error carrying HDF5's own message.
// (Debian ships no HighFive/h5cpp; the C API plus this file is all parbench needs.)
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace parbench::h5 {

class Error : public parbench::Error {
 public:
  using parbench::Error::Error;
};

// Silences HDF5's error printing for the calling thread (the thread-safe build keeps one error
// stack per thread). Every function here calls it; threads that call HDF5 directly must too.
void init();

// The current thread's HDF5 error stack as text ("H5Fopen: unable to open file; ..."), cleared.
std::string take_error_stack();

// Throws h5::Error("<context>: <HDF5's messages>") when an HDF5 call returned a negative value.
template <typename T, typename... Args>
T call(T result, fmt::format_string<Args...> context, Args&&... args) {
  if (result < 0) {
    const std::string stack = take_error_stack();
    throw Error(fmt::format("{}: {}", fmt::format(context, std::forward<Args>(args)...), stack));
  }
  return result;
}

namespace detail {
// Called for an id that is closed while an exception unwinds past it. When the id belongs to a file
// open for writing, that file is being abandoned (its temporary is removed next): its descriptor is
// pointed at an anonymous in-memory file, so the writes HDF5 still owes it (chunk and sieve caches,
// metadata) go nowhere and cannot fail. A close that fails on a full disk would otherwise leave HDF5
// 1.10 with an id whose object it already freed, and H5_term_library crashes on it at exit.
void abandon_file_of(hid_t object) noexcept;
}  // namespace detail

// Owns one HDF5 id and closes it with the function of its kind.
template <herr_t (*Close)(hid_t)>
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id_ >= 0 && std::uncaught_exceptions() > unwinding_) detail::abandon_file_of(id_);
    reset();
  }

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Destructors must not throw: a failed close is reported by HDF5's stack, which we drop.
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  int unwinding_ = std::uncaught_exceptions();  // exceptions in flight when this id was made
};

// An open file. HDF5 writes what it still caches when a file closes, and an H5Fclose that fails
// there (a full disk) leaves a dangling id behind that crashes the process at exit (HDF5 1.10). So a
// writer ends with close(), which flushes first (a failed flush leaves HDF5 consistent) and reports
// the failure; the destructor never fails: on the way out of an exception, or after a failed flush,
// it discards the unwritten data (see detail::abandon_file_of) and then closes.
class File {
 public:
  File() = default;
  explicit File(hid_t id) : id_(id) {}
  File(File&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  File& operator=(File&& other) noexcept {
    if (this != &other) {
      release(false);
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() { release(std::uncaught_exceptions() > unwinding_); }

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Writes everything out and closes the file (and, as files are created with the strong close
  // degree, every id still open in it). Throws h5::Error when the data did not reach the disk; the
  // id is released either way, and the file must then be thrown away.
  void close();

 private:
  void release(bool abandon) noexcept;

  hid_t id_ = H5I_INVALID_HID;
  int unwinding_ = std::uncaught_exceptions();
};

using Group = Id<H5Gclose>;
using Dataset = Id<H5Dclose>;
using Space = Id<H5Sclose>;
using Type = Id<H5Tclose>;
using Plist = Id<H5Pclose>;
using Attribute = Id<H5Aclose>;

// ---------------------------------------------------------------------------------------------
// Files

// Opens read-only. Distinguishes a missing file, a file that is not HDF5 at all, and an HDF5
// file that HDF5 cannot open (truncated, corrupt), each with the path in the message.
File open_read(const std::filesystem::path& path);
// Creates (truncating) a file, with the latest format compatible with HDF5 1.10 readers. The
// sec2 driver and the strong close degree: closing the file closes everything open in it.
File create(const std::filesystem::path& path);
// Path of the file an object lives in.
std::string file_name(hid_t object);

bool exists(hid_t location, const std::string& path);
Group open_group(hid_t location, const std::string& path);
Group create_group(hid_t location, const std::string& path);
Dataset open_dataset(hid_t location, const std::string& path);

// ---------------------------------------------------------------------------------------------
// Types

enum class Dtype { f16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, other };
std::string_view dtype_name(Dtype dtype);
Dtype dtype_of(hid_t dataset);
// IEEE binary16, little-endian: HDF5 1.10 has no predefined half type; h5py reads this as float16.
Type half_type();
// The file type used to store `dtype` (f16, f32 or i32).
Type file_type(Dtype dtype);

// ---------------------------------------------------------------------------------------------
// Datasets

std::vector<std::int64_t> shape(hid_t dataset);

struct Layout {
  Dtype dtype = Dtype::other;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> chunk;   // empty when not chunked
  std::vector<std::string> filters;  // e.g. {"shuffle", "gzip(4)"}
  std::uint64_t stored_bytes = 0;    // on disk, after filters
  std::uint64_t logical_bytes = 0;   // elements * size of the stored type
};
Layout layout(hid_t dataset);

struct CreateOptions {
  std::vector<std::int64_t> chunk;  // chunk dimensions; must match the rank
  int gzip_level = 4;               // 0 = no compression; shuffle is on whenever gzip is
};
Dataset create_dataset(hid_t location, const std::string& name, Dtype dtype, const std::vector<std::int64_t>& shape,
                       const CreateOptions& options);

// Rows [first, first + count) along the leading axis, converted to/from `memory_type`.
void write_rows(hid_t dataset, hid_t memory_type, std::int64_t first, std::int64_t count, const void* data);
void read_rows(hid_t dataset, hid_t memory_type, std::int64_t first, std::int64_t count, void* out);
// The rows listed (ascending, distinct), packed in that order into `out`: one read per run of
// consecutive rows.
void read_rows(hid_t dataset, hid_t memory_type, std::span<const std::int64_t> rows, void* out);

// ---------------------------------------------------------------------------------------------
// Attributes (scalar strings, string lists, integers)

void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values);
void write_attribute(hid_t object, const std::string& name, std::int64_t value);
std::optional<std::string> read_string_attribute(hid_t object, const std::string& name);
std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name);

// Names of the links (datasets and groups) directly under a group, in name order.
std::vector<std::string> children(hid_t group);

// "1.10.8"
std::string library_version();

}  // namespace parbench::h5
