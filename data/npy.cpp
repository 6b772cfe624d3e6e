// NumPy .npy reader and writer: header parsing and validation, blockwise row reads with dtype
// conversion. Format: https://numpy.org/devdocs/reference/generated/numpy.lib.format.html
#include "data/npy.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/half.h"

namespace parbench::data::npy {

namespace fs = std::filesystem;

// Element bytes are used as they lie in the file, which is only correct on a little-endian host.
static_assert(std::endian::native == std::endian::little, "npy reader assumes a little-endian host");

namespace {

constexpr std::array<char, 6> kMagic = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
// Real headers are a few hundred bytes; the cap stops a corrupt length field from making us
// allocate gigabytes before noticing the file is not what it claims.
constexpr std::uint64_t kMaxHeaderBytes = 1 << 20;
// Conversion buffers are this large so a huge block read never doubles memory use.
constexpr std::size_t kBufferBytes = 1 << 20;
constexpr int kMaxNesting = 16;

std::string shape_string(const std::vector<std::int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// The header as it can be shown in a one-line message: control bytes replaced, long text cut.
std::string printable(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.remove_suffix(1);
  std::string out;
  for (const char c : text.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (text.size() > 200) out += "...";
  return out;
}

// A Python literal as it appears in an .npy header dict.
struct Value {
  enum class Kind { string, boolean, integer, none, sequence };
  Kind kind = Kind::none;
  std::string text;
  bool flag = false;
  std::int64_t number = 0;
  std::vector<Value> items;
};

// Parses the dict literal NumPy writes (repr of a dict of str, bool and tuples of ints). Anything
// beyond that subset is either a malformed header or a dtype we reject later anyway.
class DictParser {
 public:
  DictParser(std::string_view text, const fs::path& file) : text_(text), file_(file) {}

  std::vector<std::pair<std::string, Value>> parse() {
    std::vector<std::pair<std::string, Value>> entries;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (consume('}')) break;
      if (peek() != '\'' && peek() != '"') fail("expected a quoted key or '}'");
      std::string key = parse_string();
      skip_space();
      expect(':');
      entries.emplace_back(std::move(key), parse_value(0));
      skip_space();
      if (consume('}')) break;
      expect(',');
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    return entries;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    raise(
        "{}: malformed .npy header: {} at offset {}; expected a dict like "
        "{{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }}, found: {}",
        file_.string(), what, pos_, printable(text_));
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  void expect(char c) {
    if (!consume(c)) fail(fmt::format("expected '{}'", c));
  }

  std::string parse_string() {
    const char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == quote) return out;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unterminated string");
        out += text_[pos_++];
      } else {
        out += c;
      }
    }
  }

  std::int64_t parse_integer() {
    const bool negative = consume('-');
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - digit) / 10) {
        fail("integer too large");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail("expected a digit");
    // Python 2's repr of a long, found in files written by old NumPy versions.
    consume('L');
    const auto signed_value = static_cast<std::int64_t>(value);
    return negative ? -signed_value : signed_value;
  }

  // parse_sequence and parse_value recurse, at most kMaxNesting deep.
  Value parse_sequence(char close, int depth) {  // NOLINT(misc-no-recursion)
    Value v;
    v.kind = Value::Kind::sequence;
    while (true) {
      skip_space();
      if (consume(close)) return v;
      v.items.push_back(parse_value(depth + 1));
      skip_space();
      if (consume(close)) return v;
      expect(',');
    }
  }

  Value parse_value(int depth) {  // NOLINT(misc-no-recursion)
    if (depth > kMaxNesting) fail("nesting too deep");
    skip_space();
    Value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::Kind::string;
      v.text = parse_string();
    } else if (c == '(') {
      ++pos_;
      v = parse_sequence(')', depth);
    } else if (c == '[') {
      ++pos_;
      v = parse_sequence(']', depth);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::integer;
      v.number = parse_integer();
    } else if (match_word("True")) {
      v.kind = Value::Kind::boolean;
      v.flag = true;
    } else if (match_word("False")) {
      v.kind = Value::Kind::boolean;
    } else if (match_word("None")) {
      v.kind = Value::Kind::none;
    } else {
      fail("expected a string, number, tuple, True, False or None");
    }
    return v;
  }

  bool match_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string_view text_;
  const fs::path& file_;
  std::size_t pos_ = 0;
};

struct DTypeInfo {
  DType dtype;
  char kind;
  std::size_t size;
  std::string_view name;
  std::string_view descr;  // what write() puts in the header
};

constexpr std::array<DTypeInfo, 12> kDTypes = {{
    {DType::f16, 'f', 2, "float16", "<f2"},
    {DType::f32, 'f', 4, "float32", "<f4"},
    {DType::f64, 'f', 8, "float64", "<f8"},
    {DType::i8, 'i', 1, "int8", "|i1"},
    {DType::i16, 'i', 2, "int16", "<i2"},
    {DType::i32, 'i', 4, "int32", "<i4"},
    {DType::i64, 'i', 8, "int64", "<i8"},
    {DType::u8, 'u', 1, "uint8", "|u1"},
    {DType::u16, 'u', 2, "uint16", "<u2"},
    {DType::u32, 'u', 4, "uint32", "<u4"},
    {DType::u64, 'u', 8, "uint64", "<u8"},
    {DType::boolean, 'b', 1, "bool", "|b1"},
}};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  raise("npy: unknown DType value {}", static_cast<int>(dtype));
}

constexpr std::string_view kSupported =
    "float16, float32, float64, int8/16/32/64, uint8/16/32/64 or bool ('<f4', '<i8', '|b1', ...)";

std::string_view kind_description(char kind) {
  switch (kind) {
    case 'c': return "complex";
    case 'S':
    case 'a': return "byte string";
    case 'U': return "unicode string";
    case 'V': return "void/raw bytes";
    case 'M': return "datetime";
    case 'm': return "timedelta";
    case 'f': return "floating point of this size";
    case 'i':
    case 'u': return "integer of this size";
    case 'b': return "bool of this size";
    default: return "unknown type code";
  }
}

// Maps a descr string such as "<f4" to a DType, or explains why it cannot be read.
DType parse_descr(const std::string& descr, const fs::path& file) {
  std::string_view rest = descr;
  char order = '=';
  if (!rest.empty() && (rest[0] == '<' || rest[0] == '>' || rest[0] == '|' || rest[0] == '=')) {
    order = rest[0];
    rest.remove_prefix(1);
  }
  if (rest.empty())
    raise("{}: unsupported dtype descr '{}': no type code; expected {}", file.string(), descr, kSupported);
  const char kind = rest[0];
  if (kind == 'O') {
    raise(
        "{}: object arrays (descr '{}') are not supported: they hold pickled Python objects, not numbers; "
        "expected a numeric array, e.g. re-save with arr.astype(np.float32)",
        file.string(), descr);
  }
  const std::string_view size_text = rest.substr(1);
  std::optional<DType> found;
  std::size_t size = 0;
  const auto [end, error] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
  if (error == std::errc() && end == size_text.data() + size_text.size()) {
    for (const DTypeInfo& entry : kDTypes) {
      if (entry.kind == kind && entry.size == size) found = entry.dtype;
    }
  }
  if (!found) {
    raise("{}: unsupported dtype descr '{}' ({}); expected {}", file.string(), descr, kind_description(kind),
          kSupported);
  }
  if (order == '>' && info(*found).size > 1) {
    raise(
        "{}: big-endian data (descr '{}') is not supported; expected little-endian ('<'); "
        "re-save with arr.astype(arr.dtype.newbyteorder('<'))",
        file.string(), descr);
  }
  return *found;
}

std::uint64_t checked_product(const std::vector<std::int64_t>& dims, std::uint64_t factor, const fs::path& file) {
  std::uint64_t product = factor;
  for (const std::int64_t d : dims) {
    const auto u = static_cast<std::uint64_t>(d);
    if (u != 0 && product > std::numeric_limits<std::uint64_t>::max() / u) {
      raise("{}: shape {} is too large: its size overflows 64 bits", file.string(), shape_string(dims));
    }
    product *= u;
  }
  return product;
}

void fill_from_dict(Header& header, std::string_view dict_text, const fs::path& file) {
  const auto entries = DictParser(dict_text, file).parse();
  const Value* descr = nullptr;
  const Value* fortran = nullptr;
  const Value* shape = nullptr;
  for (const auto& [key, value] : entries) {
    const Value** slot = key == "descr"           ? &descr
                         : key == "fortran_order" ? &fortran
                         : key == "shape"         ? &shape
                                                  : nullptr;
    if (slot == nullptr) {
      raise("{}: malformed .npy header: unexpected key '{}'; expected exactly 'descr', 'fortran_order' and 'shape'",
            file.string(), key);
    }
    if (*slot != nullptr) raise("{}: malformed .npy header: key '{}' appears twice", file.string(), key);
    *slot = &value;
  }
  for (const auto& [name, value] :
       {std::pair{"descr", descr}, std::pair{"fortran_order", fortran}, std::pair{"shape", shape}}) {
    if (value == nullptr) {
      raise("{}: malformed .npy header: missing key '{}' in {}", file.string(), name, printable(dict_text));
    }
  }

  if (descr->kind == Value::Kind::sequence) {
    raise("{}: structured dtype (descr is a list of fields) is not supported; expected a plain numeric dtype: {}",
          file.string(), kSupported);
  }
  if (descr->kind != Value::Kind::string) {
    raise("{}: malformed .npy header: 'descr' must be a string such as '<f4'", file.string());
  }
  if (fortran->kind != Value::Kind::boolean) {
    raise("{}: malformed .npy header: 'fortran_order' must be True or False", file.string());
  }
  if (shape->kind != Value::Kind::sequence) {
    raise("{}: malformed .npy header: 'shape' must be a tuple of integers such as (100, 16)", file.string());
  }
  for (const Value& dim : shape->items) {
    if (dim.kind != Value::Kind::integer || dim.number < 0) {
      raise("{}: malformed .npy header: 'shape' must hold non-negative integers, found {}", file.string(),
            printable(dict_text));
    }
    header.shape.push_back(dim.number);
  }

  header.descr = descr->text;
  header.dtype = parse_descr(header.descr, file);
  header.item_size = info(header.dtype).size;
  // With at most one axis the Fortran and C layouts are the same bytes, so only reject real
  // column-major data.
  if (fortran->flag && header.shape.size() > 1) {
    raise(
        "{}: array is stored in Fortran (column-major) order (fortran_order: True) with shape {}; expected C order; "
        "re-save with np.save(path, np.ascontiguousarray(arr))",
        file.string(), shape_string(header.shape));
  }
}

std::uint64_t read_le(const unsigned char* bytes, int count) {
  std::uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

[[noreturn]] void raise_truncated_header(const fs::path& file, std::uint64_t expected, std::uint64_t found) {
  raise("{}: file is truncated inside the .npy header: expected at least {} bytes, found {}", file.string(), expected,
        found);
}

void write_file(const fs::path& file, std::string_view head, const void* data, std::size_t bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) raise("{}: cannot open for writing: {}", file.string(), std::generic_category().message(errno));
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  if (bytes > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  out.close();
  if (!out)
    raise("{}: writing {} bytes failed: {}", file.string(), head.size() + bytes,
          std::generic_category().message(errno));
}

std::string preamble(int major_version, std::size_t header_bytes, const fs::path& file) {
  if (major_version < 1 || major_version > 255)
    raise("{}: .npy major version {} cannot be written", file.string(), major_version);
  const int length_bytes = major_version == 1 ? 2 : 4;
  const std::uint64_t limit = major_version == 1 ? 0xffffu : 0xffffffffu;
  if (header_bytes > limit) {
    raise("{}: .npy header of {} bytes does not fit a version {}.0 length field", file.string(), header_bytes,
          major_version);
  }
  std::string out(kMagic.begin(), kMagic.end());
  out += static_cast<char>(major_version);
  out += '\0';
  for (int i = 0; i < length_bytes; ++i) out += static_cast<char>((header_bytes >> (8 * i)) & 0xffu);
  return out;
}

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::size_t dtype_size(DType dtype) { return info(dtype).size; }

std::int64_t Header::rows() const { return shape.empty() ? 1 : shape[0]; }

std::size_t Header::row_elements() const {
  std::size_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= static_cast<std::size_t>(shape[i]);
  return n;
}

std::uint64_t Header::elements() const {
  std::uint64_t n = 1;
  for (const std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

std::uint64_t Header::data_bytes() const { return elements() * item_size; }

Header read_header(const fs::path& file) {
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (!fs::exists(status)) raise("{}: cannot open .npy file: no such file", file.string());
  if (!fs::is_regular_file(status)) raise("{}: cannot open .npy file: not a regular file", file.string());
  const std::uint64_t file_size = fs::file_size(file, ec);
  if (ec) raise("{}: cannot read .npy file: {}", file.string(), ec.message());

  std::ifstream in(file, std::ios::binary);
  if (!in) raise("{}: cannot open .npy file: {}", file.string(), std::generic_category().message(errno));

  std::array<unsigned char, 12> pre{};
  in.read(reinterpret_cast<char*>(pre.data()), 8);
  const auto got = static_cast<std::size_t>(in.gcount());
  const bool magic_prefix_ok =
      std::equal(pre.begin(), pre.begin() + std::min<std::size_t>(got, kMagic.size()), kMagic.begin(),
                 [](unsigned char a, char b) { return a == static_cast<unsigned char>(b); });
  if (!magic_prefix_ok || got == 0) {
    raise("{}: not a .npy file: bad magic (expected the file to start with \\x93NUMPY){}", file.string(),
          got == 0 ? "; the file is empty" : "");
  }
  if (got < 8) raise_truncated_header(file, 8, got);

  Header header;
  header.major_version = pre[6];
  const int minor = pre[7];
  if ((header.major_version < 1 || header.major_version > 3) || minor != 0) {
    raise("{}: unsupported .npy format version {}.{}; expected 1.0, 2.0 or 3.0", file.string(), header.major_version,
          minor);
  }
  const int length_bytes = header.major_version == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(pre.data() + 8), length_bytes);
  if (in.gcount() != length_bytes) raise_truncated_header(file, 8 + length_bytes, file_size);
  const std::uint64_t header_length = read_le(pre.data() + 8, length_bytes);
  const std::uint64_t dict_start = 8 + static_cast<std::uint64_t>(length_bytes);
  if (dict_start + header_length > file_size) raise_truncated_header(file, dict_start + header_length, file_size);
  if (header_length > kMaxHeaderBytes) {
    raise("{}: malformed .npy header: header length {} bytes is implausibly large (limit {})", file.string(),
          header_length, kMaxHeaderBytes);
  }

  std::string dict(header_length, '\0');
  in.read(dict.data(), static_cast<std::streamsize>(header_length));
  if (static_cast<std::uint64_t>(in.gcount()) != header_length)
    raise_truncated_header(file, dict_start + header_length, file_size);

  fill_from_dict(header, dict, file);
  header.data_offset = dict_start + header_length;

  const std::uint64_t data_bytes = checked_product(header.shape, header.item_size, file);
  if (data_bytes > std::numeric_limits<std::uint64_t>::max() - header.data_offset) {
    raise("{}: shape {} is too large", file.string(), shape_string(header.shape));
  }
  const std::uint64_t expected = header.data_offset + data_bytes;
  if (file_size < expected) {
    raise(
        "{}: file is truncated: expected {} bytes ({} header + {} data for {} shape {}), found {} ({} data bytes "
        "missing)",
        file.string(), expected, header.data_offset, data_bytes, dtype_name(header.dtype), shape_string(header.shape),
        file_size, expected - file_size);
  }
  return header;
}

Reader::Reader(fs::path file) : path_(std::move(file)), header_(read_header(path_)) {
  stream_.open(path_, std::ios::binary);
  if (!stream_) raise("{}: cannot open .npy file: {}", path_.string(), std::generic_category().message(errno));
}

std::size_t Reader::seek_rows(std::int64_t first, std::int64_t count) {
  const std::int64_t rows = header_.rows();
  if (first < 0 || count < 0 || first > rows || count > rows - first) {
    raise("{}: cannot read rows [{}, {}): the array has {} rows (shape {})", path_.string(), first, first + count, rows,
          shape_string(header_.shape));
  }
  const std::uint64_t row_bytes = header_.row_elements() * header_.item_size;
  const std::uint64_t offset = header_.data_offset + static_cast<std::uint64_t>(first) * row_bytes;
  stream_.clear();
  stream_.seekg(static_cast<std::streamoff>(offset));
  if (!stream_) raise("{}: cannot seek to byte {}", path_.string(), offset);
  return static_cast<std::size_t>(count) * header_.row_elements();
}

void Reader::read_bytes(void* out, std::size_t bytes) {
  if (bytes == 0) return;
  stream_.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
  if (static_cast<std::size_t>(stream_.gcount()) != bytes) {
    // read_header checked the size, so this means the file shrank or an I/O error happened.
    raise("{}: file is truncated or unreadable: expected {} more bytes, got {}", path_.string(), bytes,
          static_cast<std::size_t>(stream_.gcount()));
  }
}

namespace {

// Reads n elements of T through a bounded buffer and hands each chunk to `convert(chunk, count,
// done)`, where done is how many elements earlier chunks covered.
template <typename T, typename Read, typename Convert>
void read_chunked(std::size_t n, Read&& read, Convert&& convert) {
  std::vector<T> buffer(std::min(n, kBufferBytes / sizeof(T)));
  for (std::size_t done = 0; done < n;) {
    const std::size_t chunk = std::min(buffer.size(), n - done);
    read(buffer.data(), chunk * sizeof(T));
    convert(buffer.data(), chunk, done);
    done += chunk;
  }
}

}  // namespace

void Reader::read_f32(std::int64_t first, std::int64_t count, float* out) {
  const DType dtype = header_.dtype;
  if (dtype != DType::f16 && dtype != DType::f32 && dtype != DType::f64) {
    raise("{}: cannot read as float32: the array holds {} (descr '{}'); expected float16, float32 or float64",
          path_.string(), dtype_name(dtype), header_.descr);
  }
  const std::size_t n = seek_rows(first, count);
  const auto read = [this](void* buffer, std::size_t bytes) { read_bytes(buffer, bytes); };
  if (dtype == DType::f32) {
    read_bytes(out, n * sizeof(float));
  } else if (dtype == DType::f16) {
    read_chunked<std::uint16_t>(n, read, [out](const std::uint16_t* chunk, std::size_t k, std::size_t done) {
      half_to_float(chunk, out + done, k);
    });
  } else {
    // Plain IEEE narrowing, as NumPy's astype(float32) does: values beyond float range become
    // infinities rather than an error, since float64 caches rarely hold such values on purpose.
    read_chunked<double>(n, read, [out](const double* chunk, std::size_t k, std::size_t done) {
      for (std::size_t i = 0; i < k; ++i) out[done + i] = static_cast<float>(chunk[i]);
    });
  }
}

void Reader::read_f16_bits(std::int64_t first, std::int64_t count, std::uint16_t* out) {
  if (header_.dtype != DType::f16) {
    raise("{}: cannot read raw float16 bits: the array holds {} (descr '{}'); expected float16", path_.string(),
          dtype_name(header_.dtype), header_.descr);
  }
  const std::size_t n = seek_rows(first, count);
  read_bytes(out, n * sizeof(std::uint16_t));
}

void Reader::read_i32(std::int64_t first, std::int64_t count, std::int32_t* out) {
  const DType dtype = header_.dtype;
  if (dtype == DType::f16 || dtype == DType::f32 || dtype == DType::f64) {
    raise("{}: cannot read as int32 labels: the array holds {} (descr '{}'); expected an integer or bool array",
          path_.string(), dtype_name(dtype), header_.descr);
  }
  const std::size_t n = seek_rows(first, count);
  const std::uint64_t first_element = static_cast<std::uint64_t>(first) * header_.row_elements();
  const auto read = [this](void* buffer, std::size_t bytes) { read_bytes(buffer, bytes); };
  const auto convert = [&](auto tag) {
    using T = decltype(tag);
    read_chunked<T>(n, read, [&](const T* chunk, std::size_t k, std::size_t done) {
      for (std::size_t i = 0; i < k; ++i) {
        if (!std::in_range<std::int32_t>(chunk[i])) {
          raise("{}: value {} at element {} does not fit int32 (the array holds {})", path_.string(), chunk[i],
                first_element + done + i, dtype_name(dtype));
        }
        out[done + i] = static_cast<std::int32_t>(chunk[i]);  // NOLINT(bugprone-signed-char-misuse): int8 is signed
      }
    });
  };
  switch (dtype) {
    case DType::i8: convert(std::int8_t{}); break;
    case DType::i16: convert(std::int16_t{}); break;
    case DType::i32: read_bytes(out, n * sizeof(std::int32_t)); break;
    case DType::i64: convert(std::int64_t{}); break;
    case DType::u8: convert(std::uint8_t{}); break;
    case DType::u16: convert(std::uint16_t{}); break;
    case DType::u32: convert(std::uint32_t{}); break;
    case DType::u64: convert(std::uint64_t{}); break;
    case DType::boolean:
      // NumPy stores bools as one byte; anything non-zero is True.
      read_chunked<std::uint8_t>(n, read, [out](const std::uint8_t* chunk, std::size_t k, std::size_t done) {
        for (std::size_t i = 0; i < k; ++i) out[done + i] = chunk[i] != 0 ? 1 : 0;
      });
      break;
    case DType::f16:
    case DType::f32:
    case DType::f64: break;
  }
}

void write(const fs::path& file, DType dtype, const std::vector<std::int64_t>& shape, const void* data) {
  for (const std::int64_t d : shape) {
    if (d < 0) raise("{}: cannot write shape {}: dimensions must be non-negative", file.string(), shape_string(shape));
  }
  const DTypeInfo& type = info(dtype);
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", type.descr, shape_string(shape));
  // NumPy pads with spaces so that the data, after the 10-byte preamble and the final newline,
  // starts 64-byte aligned; memory-mapping readers rely on that.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  const std::uint64_t bytes = checked_product(shape, type.size, file);
  write_file(file, preamble(1, dict.size(), file) + dict, data, static_cast<std::size_t>(bytes));
}

void write_raw(const fs::path& file, std::string_view header_dict, const void* data, std::size_t bytes,
               int major_version) {
  write_file(file, preamble(major_version, header_dict.size(), file) + std::string(header_dict), data, bytes);
}

}  // namespace parbench::data::npy
