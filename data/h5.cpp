// HDF5 RAII layer: error-stack capture, typed helpers for files, datasets and attributes.
#include "data/h5.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <set>
#include <system_error>

namespace parbench::h5 {

namespace fs = std::filesystem;

void init() {
  thread_local bool silenced = false;
  if (silenced) return;
  H5open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  silenced = true;
}

namespace {

herr_t collect_error(unsigned depth, const H5E_error2_t* error, void* data) {
  auto* text = static_cast<std::string*>(data);
  // The innermost entries say what actually went wrong ("truncated file: eof = ..."); keep a few.
  if (depth >= 6) return 0;
  if (!text->empty()) *text += "; ";
  *text += fmt::format("{}: {}", error->func_name ? error->func_name : "?", error->desc ? error->desc : "?");
  return 0;
}

std::vector<hsize_t> to_hsize(const std::vector<std::int64_t>& values) { return {values.begin(), values.end()}; }

// The hyperslab of rows [first, first + count) of a dataset whose shape is `dims`.
void select_rows(hid_t space, const std::vector<hsize_t>& dims, hsize_t first, hsize_t count) {
  std::vector<hsize_t> start(dims.size(), 0), size = dims;
  start[0] = first;
  size[0] = count;
  call(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, size.data(), nullptr), "selecting rows {}..{}",
       first, first + count);
}

std::vector<hsize_t> space_dims(hid_t space) {
  const int rank = call(H5Sget_simple_extent_ndims(space), "reading dataspace rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  call(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "reading dataspace dimensions");
  return dims;
}

std::string dataset_name(hid_t dataset) {
  char name[512] = {};
  H5Iget_name(dataset, name, sizeof name);
  return fmt::format("{}:{}", file_name(dataset), name);
}

// Rows [first, first + count) of `dataset` must lie inside it; callers pass computed ranges.
void check_rows(hid_t dataset, const std::vector<hsize_t>& dims, std::int64_t first, std::int64_t count) {
  // NOLINTNEXTLINE(bugprone-misplaced-widening-cast): int64 to hsize_t is 64 to 64 bits, nothing widens
  if (dims.empty() || first < 0 || count < 0 || static_cast<hsize_t>(first + count) > dims[0]) {
    throw Error(fmt::format("{}: rows {}..{} are outside the dataset's {} rows", dataset_name(dataset), first,
                            first + count, dims.empty() ? 0 : dims[0]));
  }
}

void transfer_rows(hid_t dataset, hid_t memory_type, std::int64_t first, std::int64_t count, void* data, bool write) {
  init();
  Space file_space{call(H5Dget_space(dataset), "{}: reading dataspace", dataset_name(dataset))};
  std::vector<hsize_t> dims = space_dims(file_space.get());
  check_rows(dataset, dims, first, count);
  if (count == 0) return;
  select_rows(file_space.get(), dims, static_cast<hsize_t>(first), static_cast<hsize_t>(count));
  dims[0] = static_cast<hsize_t>(count);
  Space memory_space{call(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "memory space")};
  if (write) {
    call(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data),
         "{}: writing rows {}..{}", dataset_name(dataset), first, first + count);
  } else {
    call(H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data),
         "{}: reading rows {}..{}", dataset_name(dataset), first, first + count);
  }
}

}  // namespace

std::string take_error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "(HDF5 gave no details)" : text;
}

// ---------------------------------------------------------------------------------------------

namespace {

bool open_for_writing(hid_t file) {
  unsigned intent = 0;
  return H5Fget_intent(file, &intent) >= 0 && (intent & H5F_ACC_RDWR) != 0;
}

// Points the sec2 descriptor of `file` at an anonymous in-memory file (once per file): HDF5's later
// writes to it (a close writes its caches) succeed and go nowhere, and the real file is no longer
// held open. Reads of what was never written there return zeros, which a close does not need.
void discard_writes(hid_t file) noexcept {
  static std::mutex mutex;
  static std::set<hid_t> discarded;  // HDF5 1.10 never reuses an id
  const std::lock_guard lock(mutex);
  if (discarded.contains(file)) return;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) return;
  const int fd = *static_cast<int*>(handle);
  const int sink = ::memfd_create("parbench-discarded-hdf5", MFD_CLOEXEC);
  if (sink < 0) return;
  if (::dup2(sink, fd) >= 0) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    discarded.insert(file);
  }
  ::close(sink);
}

}  // namespace

namespace detail {

void abandon_file_of(hid_t object) noexcept {
  const H5I_type_t type = H5Iget_type(object);
  if (type != H5I_FILE && type != H5I_GROUP && type != H5I_DATASET && type != H5I_ATTR && type != H5I_DATATYPE) return;
  const hid_t file = H5Iget_file_id(object);  // a new reference, or an error for a transient type
  if (file < 0) {
    H5Eclear2(H5E_DEFAULT);
    return;
  }
  if (open_for_writing(file)) discard_writes(file);
  H5Fclose(file);
}

}  // namespace detail

namespace {

int descriptor_of(hid_t file) {
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  return *static_cast<int*>(handle);
}

// HDF5 1.10 cannot recover from a metadata flush that failed: its skip list stays filled, every
// later flush fails, and an H5Fclose then frees the file but leaves its id behind, on which
// H5_term_library crashes at exit. So a full disk must show before that flush: this allocates the
// disk blocks of the file as it is plus room for everything HDF5 still holds (the metadata cache,
// the metadata accumulator, the aggregators' blocks). Returns why it could not, or "" (also when
// the file system has no fallocate: the flush then decides). The price: a file that would leave
// less than about 1 MiB free is refused as if it did not fit.
std::string reserve_space(hid_t file, int fd) {
  hsize_t size = 0;
  std::size_t max_size = 0, min_clean = 0, cached = 0;
  int entries = 0;
  if (fd < 0 || H5Fget_filesize(file, &size) < 0 ||
      H5Fget_mdc_size(file, &max_size, &min_clean, &cached, &entries) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  // Beyond the end HDF5 has written so far (filesize): the cache's dirty metadata, at most all it
  // holds; the accumulator's unwritten metadata, at most 1 MiB; two 2 KiB aggregator blocks.
  const auto room = static_cast<off_t>(size + cached + (std::size_t{1} << 20) + (std::size_t{64} << 10));
  // KEEP_SIZE: the file's length stays what HDF5 knows; close() frees what was not used.
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, room) != 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) {
    return std::generic_category().message(errno);
  }
  return {};
}

// After a failed metadata flush HDF5 1.10 can neither close the file nor leave it for its own
// shutdown (H5_term_library crashes on it at exit). The last resort: the process, which reports the
// failure and exits 1 anyway, ends before that shutdown. An atexit handler registered now runs
// before HDF5's, which was registered when the library started.
void skip_library_shutdown() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit([] {
      std::fflush(nullptr);
      std::_Exit(1);
    });
  });
}

}  // namespace

void File::release(bool abandon) noexcept {
  if (id_ < 0) return;
  init();
  if (open_for_writing(id_)) {
    if (abandon) {
      discard_writes(id_);
    } else if (H5Fflush(id_, H5F_SCOPE_LOCAL) < 0) {
      // See reserve_space: this file can no longer be closed.
      discard_writes(id_);
      skip_library_shutdown();
      H5Eclear2(H5E_DEFAULT);
      id_ = H5I_INVALID_HID;
      return;
    }
  }
  H5Fclose(id_);
  H5Eclear2(H5E_DEFAULT);
  id_ = H5I_INVALID_HID;
}

void File::close() {
  if (id_ < 0) return;
  init();
  const std::string name = file_name(id_);
  int kept = -1;  // a second descriptor, to free the reserved blocks the file did not use
  if (open_for_writing(id_)) {
    const int fd = descriptor_of(id_);
    if (const std::string reason = reserve_space(id_, fd); !reason.empty()) {
      discard_writes(id_);  // nothing failed inside HDF5 yet: the close below is clean
      release(true);
      throw Error(fmt::format("{}: cannot write the file out: {}", name, reason));
    }
    if (H5Fflush(id_, H5F_SCOPE_LOCAL) < 0) {
      const std::string stack = take_error_stack();
      discard_writes(id_);
      skip_library_shutdown();
      id_ = H5I_INVALID_HID;  // see reserve_space: this file can no longer be closed
      throw Error(fmt::format("{}: cannot write the file out: {}", name, stack));
    }
    if (fd >= 0) kept = ::dup(fd);
  }
  const herr_t closed = H5Fclose(id_);
  id_ = H5I_INVALID_HID;
  const std::string stack = closed < 0 ? take_error_stack() : std::string();
  if (kept >= 0) {
    struct stat status {};
    if (::fstat(kept, &status) == 0) static_cast<void>(::ftruncate(kept, status.st_size));
    ::close(kept);
  }
  if (closed < 0) throw Error(fmt::format("{}: cannot close the file: {}", name, stack));
}

File open_read(const fs::path& path) {
  init();
  std::error_code ec;
  if (!fs::exists(path, ec)) raise("{}: no such file", path.string());
  if (fs::is_directory(path, ec)) raise("{}: is a folder, not an HDF5 file", path.string());
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) raise("{}: not an HDF5 file (no HDF5 signature found)", path.string());
  call(is_hdf5, "{}: cannot read file", path.string());
  return File{call(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                   "{}: cannot open HDF5 file (truncated or corrupt?)", path.string())};
}

File create(const fs::path& path) {
  init();
  Plist access{call(H5Pcreate(H5P_FILE_ACCESS), "file access properties")};
  // sec2: File::close relies on its handle being a plain descriptor. Strong: closing the file
  // closes what is still open in it, so nothing of it outlives the File.
  call(H5Pset_fapl_sec2(access.get()), "sec2 driver");
  call(H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG), "strong close degree");
  // No raw-data caching (chunk cache, sieve buffer): every byte of data is written by the H5Dwrite
  // that passes it, whose failure is reported, and no close has data left to write. Each write
  // here covers whole chunks or a whole tensor, so the caches saved nothing.
  call(H5Pset_cache(access.get(), 0, 0, 0, 1.0), "no chunk cache");
  call(H5Pset_sieve_buf_size(access.get(), 0), "no sieve buffer");
  return File{call(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), "{}: cannot create HDF5 file",
                   path.string())};
}

std::string file_name(hid_t object) {
  init();
  const ssize_t size = H5Fget_name(object, nullptr, 0);
  if (size <= 0) return "?";
  std::string name(static_cast<std::size_t>(size), '\0');
  H5Fget_name(object, name.data(), name.size() + 1);
  return name;
}

bool exists(hid_t location, const std::string& path) {
  init();
  // H5Lexists fails (instead of answering false) when an intermediate group is missing.
  std::string prefix;
  std::size_t start = path.starts_with('/') ? 1 : 0;
  if (start == 1) prefix = "/";
  while (start < path.size()) {
    const std::size_t slash = path.find('/', start);
    prefix += path.substr(start, slash - start);
    if (call(H5Lexists(location, prefix.c_str(), H5P_DEFAULT), "checking {}", prefix) <= 0) return false;
    if (slash == std::string::npos) break;
    prefix += '/';
    start = slash + 1;
  }
  return true;
}

Group open_group(hid_t location, const std::string& path) {
  init();
  return Group{
      call(H5Gopen2(location, path.c_str(), H5P_DEFAULT), "{}: cannot open group {}", file_name(location), path)};
}

Group create_group(hid_t location, const std::string& path) {
  init();
  return Group{call(H5Gcreate2(location, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "{}: cannot create group {}", file_name(location), path)};
}

Dataset open_dataset(hid_t location, const std::string& path) {
  init();
  return Dataset{
      call(H5Dopen2(location, path.c_str(), H5P_DEFAULT), "{}: cannot open dataset {}", file_name(location), path)};
}

// ---------------------------------------------------------------------------------------------

std::string_view dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::f16: return "float16";
    case Dtype::f32: return "float32";
    case Dtype::f64: return "float64";
    case Dtype::i8: return "int8";
    case Dtype::i16: return "int16";
    case Dtype::i32: return "int32";
    case Dtype::i64: return "int64";
    case Dtype::u8: return "uint8";
    case Dtype::u16: return "uint16";
    case Dtype::u32: return "uint32";
    case Dtype::u64: return "uint64";
    case Dtype::other: return "other";
  }
  return "other";
}

Dtype dtype_of(hid_t dataset) {
  init();
  Type type{call(H5Dget_type(dataset), "{}: reading type", dataset_name(dataset))};
  const std::size_t size = H5Tget_size(type.get());
  switch (H5Tget_class(type.get())) {
    case H5T_FLOAT:
      if (size == 2) return Dtype::f16;
      if (size == 4) return Dtype::f32;
      if (size == 8) return Dtype::f64;
      return Dtype::other;
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
      switch (size) {
        case 1: return is_signed ? Dtype::i8 : Dtype::u8;
        case 2: return is_signed ? Dtype::i16 : Dtype::u16;
        case 4: return is_signed ? Dtype::i32 : Dtype::u32;
        case 8: return is_signed ? Dtype::i64 : Dtype::u64;
        default: return Dtype::other;
      }
    }
    default: return Dtype::other;
  }
}

Type half_type() {
  init();
  // Same construction as h5py's IEEE_F16LE: sign bit 15, exponent bits 10..14 (bias 15), mantissa 0..9.
  Type type{call(H5Tcopy(H5T_IEEE_F32LE), "copying float type")};
  call(H5Tset_fields(type.get(), 15, 10, 5, 0, 10), "setting half fields");
  call(H5Tset_size(type.get(), 2), "setting half size");
  call(H5Tset_ebias(type.get(), 15), "setting half exponent bias");
  return type;
}

Type file_type(Dtype dtype) {
  init();
  switch (dtype) {
    case Dtype::f16: return half_type();
    case Dtype::f32: return Type{call(H5Tcopy(H5T_IEEE_F32LE), "copying type")};
    case Dtype::i32: return Type{call(H5Tcopy(H5T_STD_I32LE), "copying type")};
    default: raise("parbench does not store {} datasets", dtype_name(dtype));
  }
}

std::vector<std::int64_t> shape(hid_t dataset) {
  init();
  Space space{call(H5Dget_space(dataset), "{}: reading dataspace", dataset_name(dataset))};
  const std::vector<hsize_t> dims = space_dims(space.get());
  return {dims.begin(), dims.end()};
}

Layout layout(hid_t dataset) {
  init();
  Layout result;
  result.dtype = dtype_of(dataset);
  result.shape = shape(dataset);
  Type type{call(H5Dget_type(dataset), "{}: reading type", dataset_name(dataset))};
  const auto elements =
      std::accumulate(result.shape.begin(), result.shape.end(), std::uint64_t{1},
                      [](std::uint64_t a, std::int64_t b) { return a * static_cast<std::uint64_t>(b); });
  result.logical_bytes = elements * H5Tget_size(type.get());
  result.stored_bytes = H5Dget_storage_size(dataset);

  Plist create{call(H5Dget_create_plist(dataset), "{}: reading creation properties", dataset_name(dataset))};
  if (H5Pget_layout(create.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(result.shape.size());
    call(H5Pget_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data()), "reading chunk dimensions");
    result.chunk.assign(chunk.begin(), chunk.end());
  }
  const int filters = H5Pget_nfilters(create.get());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    unsigned values[8] = {};
    std::size_t value_count = 8;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(create.get(), static_cast<unsigned>(i), &flags, &value_count, values,
                                           sizeof name, name, &config);
    if (id == H5Z_FILTER_DEFLATE) {
      result.filters.push_back(fmt::format("gzip({})", value_count > 0 ? values[0] : 0));
    } else if (id == H5Z_FILTER_SHUFFLE) {
      result.filters.emplace_back("shuffle");
    } else if (id == H5Z_FILTER_FLETCHER32) {
      result.filters.emplace_back("fletcher32");
    } else {
      result.filters.push_back(fmt::format("{}(id {})", name[0] ? name : "filter", id));
    }
  }
  return result;
}

Dataset create_dataset(hid_t location, const std::string& name, Dtype dtype, const std::vector<std::int64_t>& shape,
                       const CreateOptions& options) {
  init();
  const std::vector<hsize_t> dims = to_hsize(shape);
  Space space{call(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "dataspace for {}", name)};
  Plist create{call(H5Pcreate(H5P_DATASET_CREATE), "creation properties")};
  if (!options.chunk.empty()) {
    const std::vector<hsize_t> chunk = to_hsize(options.chunk);
    call(H5Pset_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data()), "chunking {}", name);
    if (options.gzip_level > 0) {
      if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) raise("this HDF5 library was built without gzip (deflate)");
      call(H5Pset_shuffle(create.get()), "shuffle filter for {}", name);
      call(H5Pset_deflate(create.get(), static_cast<unsigned>(options.gzip_level)), "gzip filter for {}", name);
    }
  }
  Type type = file_type(dtype);
  return Dataset{
      call(H5Dcreate2(location, name.c_str(), type.get(), space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT),
           "{}: cannot create dataset {}", file_name(location), name)};
}

void write_rows(hid_t dataset, hid_t memory_type, std::int64_t first, std::int64_t count, const void* data) {
  transfer_rows(dataset, memory_type, first, count, const_cast<void*>(data), true);
}

void read_rows(hid_t dataset, hid_t memory_type, std::int64_t first, std::int64_t count, void* out) {
  transfer_rows(dataset, memory_type, first, count, out, false);
}

void read_rows(hid_t dataset, hid_t memory_type, std::span<const std::int64_t> rows, void* out) {
  init();
  if (rows.empty()) return;
  Space file_space{call(H5Dget_space(dataset), "{}: reading dataspace", dataset_name(dataset))};
  const std::vector<hsize_t> dims = space_dims(file_space.get());
  hsize_t row_elements = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) row_elements *= dims[i];
  const std::size_t row_bytes = row_elements * H5Tget_size(memory_type);
  // One H5Dread per run of consecutive rows. A single read over the union of the runs' hyperslabs
  // would be one call, but HDF5 1.10 walks irregular selections so slowly (measured here: 100 MB/s
  // against 9.6 GB/s for strided single rows from the page cache) that it dominates the loader.
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    if (i > 0 && rows[i] <= rows[i - 1]) {
      throw Error(fmt::format("{}: row list must be ascending and distinct (row {} after {})", dataset_name(dataset),
                              rows[i], rows[i - 1]));
    }
    transfer_rows(dataset, memory_type, rows[i], static_cast<std::int64_t>(j - i),
                  static_cast<char*>(out) + i * row_bytes, false);
    i = j;
  }
}

// ---------------------------------------------------------------------------------------------

namespace {

Type variable_string_type() {
  Type type{call(H5Tcopy(H5T_C_S1), "string type")};
  call(H5Tset_size(type.get(), H5T_VARIABLE), "variable string type");
  call(H5Tset_cset(type.get(), H5T_CSET_UTF8), "utf-8 string type");
  return type;
}

Attribute create_attribute(hid_t object, const std::string& name, hid_t type, hid_t space) {
  if (call(H5Aexists(object, name.c_str()), "checking attribute {}", name) > 0) {
    call(H5Adelete(object, name.c_str()), "replacing attribute {}", name);
  }
  return Attribute{call(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        "{}: cannot create attribute {}", file_name(object), name)};
}

// Reads a string attribute of `count` elements, variable- or fixed-length (h5py writes either).
std::vector<std::string> read_strings(hid_t attribute, std::size_t count, const std::string& name) {
  Type stored{call(H5Aget_type(attribute), "type of attribute {}", name)};
  if (H5Tget_class(stored.get()) != H5T_STRING) raise("attribute {} is not a string", name);
  std::vector<std::string> values;
  if (H5Tis_variable_str(stored.get()) > 0) {
    Type memory = variable_string_type();
    std::vector<char*> pointers(count, nullptr);
    call(H5Aread(attribute, memory.get(), pointers.data()), "reading attribute {}", name);
    for (char* p : pointers) {
      values.emplace_back(p ? p : "");
      H5free_memory(p);
    }
  } else {
    const std::size_t size = H5Tget_size(stored.get());
    Type memory{call(H5Tcopy(H5T_C_S1), "string type")};
    call(H5Tset_size(memory.get(), size), "string size");
    std::vector<char> buffer(size * count);
    call(H5Aread(attribute, memory.get(), buffer.data()), "reading attribute {}", name);
    for (std::size_t i = 0; i < count; ++i) {
      std::string value(buffer.data() + i * size, size);
      values.push_back(value.substr(0, value.find('\0')));
    }
  }
  return values;
}

}  // namespace

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  init();
  Type type = variable_string_type();
  Space space{call(H5Screate(H5S_SCALAR), "scalar space")};
  Attribute attribute = create_attribute(object, name, type.get(), space.get());
  const char* text = value.c_str();
  call(H5Awrite(attribute.get(), type.get(), &text), "writing attribute {}", name);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values) {
  init();
  Type type = variable_string_type();
  const hsize_t count = values.size();
  Space space{call(H5Screate_simple(1, &count, nullptr), "attribute space")};
  Attribute attribute = create_attribute(object, name, type.get(), space.get());
  std::vector<const char*> texts;
  texts.reserve(values.size());
  for (const auto& value : values) texts.push_back(value.c_str());
  call(H5Awrite(attribute.get(), type.get(), texts.data()), "writing attribute {}", name);
}

void write_attribute(hid_t object, const std::string& name, std::int64_t value) {
  init();
  Space space{call(H5Screate(H5S_SCALAR), "scalar space")};
  Attribute attribute = create_attribute(object, name, H5T_STD_I64LE, space.get());
  call(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), "writing attribute {}", name);
}

std::optional<std::string> read_string_attribute(hid_t object, const std::string& name) {
  init();
  if (call(H5Aexists(object, name.c_str()), "checking attribute {}", name) <= 0) return std::nullopt;
  Attribute attribute{call(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute {}", name)};
  Space space{call(H5Aget_space(attribute.get()), "space of attribute {}", name)};
  if (H5Sget_simple_extent_npoints(space.get()) != 1) raise("attribute {} is not a single string", name);
  return read_strings(attribute.get(), 1, name).front();
}

std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name) {
  init();
  if (call(H5Aexists(object, name.c_str()), "checking attribute {}", name) <= 0) return {};
  Attribute attribute{call(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute {}", name)};
  Space space{call(H5Aget_space(attribute.get()), "space of attribute {}", name)};
  const hssize_t count = call(H5Sget_simple_extent_npoints(space.get()), "size of attribute {}", name);
  return read_strings(attribute.get(), static_cast<std::size_t>(count), name);
}

std::vector<std::string> children(hid_t group) {
  init();
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  call(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, visit, &names), "listing {}", file_name(group));
  return names;
}

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return fmt::format("{}.{}.{}", major, minor, release);
}

}  // namespace parbench::h5
