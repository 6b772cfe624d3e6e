// Checkpoint writer and reader (design.md §10). Tensors are contiguous, uncompressed float32
// datasets in groups that track link creation order, so a load returns them in the order saved
// (h5py iterates them in that order too); everything is checked before the first byte is written.
#include "data/checkpoint.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/build_info.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/output_file.h"
#include "data/h5.h"
#include "data/schema.h"

namespace parbench::data {

namespace fs = std::filesystem;

namespace {

using Object = h5::Id<H5Oclose>;

// Root attributes the checkpoint itself uses; the free-form ones must not collide with them.
constexpr std::string_view kReservedAttributes[] = {"schema", "workload", "strategy",  "step",
                                                    "epoch",  "seed",     "created_by"};

bool is_reserved(std::string_view name) {
  return std::find(std::begin(kReservedAttributes), std::end(kReservedAttributes), name) !=
         std::end(kReservedAttributes);
}

// Number of values a shape holds, or nullopt when a dimension is negative or the count overflows.
std::optional<std::int64_t> element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (const std::int64_t d : shape) {
    if (d < 0 || (d > 0 && count > std::numeric_limits<std::int64_t>::max() / d)) return std::nullopt;
    count *= d;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Validation before saving: every message starts with "cannot save checkpoint <path>".

void check_tensors(const std::string& where, const std::vector<NamedTensor>& tensors, std::string_view list) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& t = tensors[i];
    if (t.name.empty()) raise("{}: {}[{}] has an empty name", where, list, i);
    // A '/' would make HDF5 create nested groups, and the name would no longer match PyTorch's.
    if (t.name.find_first_of(std::string_view("/\0", 2)) != std::string::npos || t.name == "." || t.name == "..") {
      raise("{}: {} name '{}' is not a valid tensor name (no '/', NUL, '.' or '..')", where, list, t.name);
    }
    if (!names.insert(t.name).second) raise("{}: {} holds '{}' twice", where, list, t.name);
    const auto count = element_count(t.shape);
    if (!count) raise("{}: {} '{}' has an invalid shape {}", where, list, t.name, shape_text(t.shape));
    if (static_cast<std::uint64_t>(*count) != t.values.size()) {
      raise("{}: {} '{}' has shape {} ({} values) but holds {} values", where, list, t.name, shape_text(t.shape),
            *count, t.values.size());
    }
  }
}

// Adam moments: one tensor per parameter, same name, order and shape. Other optimizers may store none.
void check_moments(const std::string& where, const Checkpoint& c, const std::vector<NamedTensor>& moments,
                   std::string_view list) {
  if (moments.empty() && c.optimizer != "adam") return;
  if (moments.size() != c.params.size()) {
    raise("{}: {} holds {} tensors but params holds {}; {} needs one per parameter, in the order of params", where,
          list, moments.size(), c.params.size(), list);
  }
  for (std::size_t i = 0; i < moments.size(); ++i) {
    const NamedTensor& m = moments[i];
    const NamedTensor& p = c.params[i];
    if (m.name != p.name) raise("{}: {}[{}] is '{}' but params[{}] is '{}'", where, list, i, m.name, i, p.name);
    if (m.shape != p.shape) {
      raise("{}: {} '{}' has shape {} but the parameter has shape {}", where, list, m.name, shape_text(m.shape),
            shape_text(p.shape));
    }
  }
}

void check_checkpoint(const std::string& where, const Checkpoint& c) {
  if (c.workload.empty()) raise("{}: workload is empty", where);
  if (c.optimizer.empty()) raise("{}: optimizer name is empty", where);
  if (c.step < 0 || c.epoch < 0 || c.optimizer_step < 0) {
    raise("{}: step {}, epoch {} and optimizer step {} must not be negative", where, c.step, c.epoch, c.optimizer_step);
  }
  check_tensors(where, c.params, "params");
  check_tensors(where, c.buffers, "buffers");
  check_tensors(where, c.adam_m, "adam_m");
  check_tensors(where, c.adam_v, "adam_v");
  check_moments(where, c, c.adam_m, "adam_m");
  check_moments(where, c, c.adam_v, "adam_v");
  // HDF5 takes names and string values as C strings: an embedded NUL would silently cut them.
  auto check_text = [&](std::string_view what, const std::string& text) {
    if (text.find('\0') != std::string::npos) raise("{}: {} '{}' contains a NUL character", where, what, text);
  };
  check_text("workload", c.workload);
  check_text("strategy", c.strategy);
  check_text("optimizer", c.optimizer);
  for (const auto& [key, value] : c.rng) {
    if (key.empty()) raise("{}: rng has an entry with an empty name", where);
    check_text("rng entry", key);
  }
  for (const auto& [key, value] : c.attributes) {
    if (key.empty()) raise("{}: attributes has an entry with an empty name", where);
    if (is_reserved(key)) raise("{}: attribute name '{}' is reserved for the checkpoint itself", where, key);
    check_text("attribute name", key);
    if (value.find('\0') != std::string::npos)
      raise("{}: value of attribute '{}' contains a NUL character", where, key);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

// A group whose links remember their creation order, so tensors load back in the order saved.
h5::Group create_ordered_group(hid_t location, const std::string& name) {
  h5::Plist properties{h5::call(H5Pcreate(H5P_GROUP_CREATE), "group creation properties")};
  h5::call(H5Pset_link_creation_order(properties.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "tracking link creation order");
  return h5::Group{h5::call(H5Gcreate2(location, name.c_str(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
                            "{}: cannot create group {}", h5::file_name(location), name)};
}

void write_tensors(hid_t location, const std::string& group_name, const std::vector<NamedTensor>& tensors) {
  h5::Group group = create_ordered_group(location, group_name);
  for (const NamedTensor& t : tensors) {
    interrupt::throw_if_interrupted();  // Ctrl-C mid-write: unwind, the temporary goes
    // Contiguous and uncompressed: a checkpoint is written often and must be fast to write.
    h5::Dataset dataset =
        h5::create_dataset(group.get(), t.name, h5::Dtype::f32, t.shape, {.chunk = {}, .gzip_level = 0});
    if (t.values.empty()) continue;  // a shape with a 0 dimension: nothing to write
    if (t.shape.empty()) {
      h5::call(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()),
               "{}: writing {}/{}", h5::file_name(location), group_name, t.name);
    } else {
      h5::write_rows(dataset.get(), H5T_NATIVE_FLOAT, 0, t.shape[0], t.values.data());
    }
  }
}

void write_checkpoint(const fs::path& path, const Checkpoint& c) {
  h5::File file = h5::create(path);
  {
    h5::Group root = h5::open_group(file.get(), "/");
    h5::write_attribute(root.get(), "schema", std::string(kCheckpointSchema));
    h5::write_attribute(root.get(), "workload", c.workload);
    h5::write_attribute(root.get(), "strategy", c.strategy);
    h5::write_attribute(root.get(), "step", c.step);
    h5::write_attribute(root.get(), "epoch", c.epoch);
    // int64 with the seed's bits: h5py and HDF5 1.10 tools read int64 everywhere.
    h5::write_attribute(root.get(), "seed", static_cast<std::int64_t>(c.seed));
    h5::write_attribute(root.get(), "created_by",
                        fmt::format("parbench {} (git {}{})", build_info::version, build_info::git_commit,
                                    build_info::git_dirty ? ", dirty" : ""));
    for (const auto& [key, value] : c.attributes) h5::write_attribute(root.get(), key, value);

    write_tensors(file.get(), "params", c.params);
    write_tensors(file.get(), "buffers", c.buffers);

    h5::Group optimizer = h5::create_group(file.get(), "optimizer");
    h5::write_attribute(optimizer.get(), "name", c.optimizer);
    h5::write_attribute(optimizer.get(), "step", c.optimizer_step);
    write_tensors(optimizer.get(), "m", c.adam_m);
    write_tensors(optimizer.get(), "v", c.adam_v);

    h5::Group rng = h5::create_group(file.get(), "rng");
    for (const auto& [key, value] : c.rng) h5::write_attribute(rng.get(), key, value);
  }
  // Closing ids cannot report errors; File::close can (a full disk shows up here, before the rename).
  file.close();
}

// ---------------------------------------------------------------------------------------------
// Reading: every message starts with "<path>" or "<path>:<object>".

struct AttributeInfo {
  H5T_class_t type_class = H5T_NO_CLASS;
  bool is_signed = true;
  hssize_t elements = 0;
};

std::optional<AttributeInfo> attribute_info(hid_t object, const std::string& name) {
  if (h5::call(H5Aexists(object, name.c_str()), "checking attribute {}", name) <= 0) return std::nullopt;
  h5::Attribute attribute{h5::call(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute {}", name)};
  h5::Type type{h5::call(H5Aget_type(attribute.get()), "type of attribute {}", name)};
  h5::Space space{h5::call(H5Aget_space(attribute.get()), "space of attribute {}", name)};
  AttributeInfo info;
  info.type_class = H5Tget_class(type.get());
  if (info.type_class == H5T_INTEGER) info.is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
  info.elements = h5::call(H5Sget_simple_extent_npoints(space.get()), "size of attribute {}", name);
  return info;
}

std::string read_string(hid_t object, const std::string& where, const std::string& name) {
  const auto info = attribute_info(object, name);
  if (!info) raise("{}: missing attribute '{}'", where, name);
  if (info->type_class != H5T_STRING || info->elements != 1) raise("{}: attribute '{}' is not a string", where, name);
  return *h5::read_string_attribute(object, name);
}

// The 64 bits of an integer attribute: int64 as written here, or uint64 as another writer may store a seed.
std::uint64_t read_integer_bits(hid_t object, const std::string& where, const std::string& name) {
  const auto info = attribute_info(object, name);
  if (!info) raise("{}: missing attribute '{}'", where, name);
  if (info->type_class != H5T_INTEGER || info->elements != 1) {
    raise("{}: attribute '{}' is not an integer", where, name);
  }
  h5::Attribute attribute{h5::call(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute {}", name)};
  if (info->is_signed) {
    std::int64_t value = 0;
    h5::call(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), "{}: reading attribute {}", where, name);
    return static_cast<std::uint64_t>(value);
  }
  std::uint64_t value = 0;
  h5::call(H5Aread(attribute.get(), H5T_NATIVE_UINT64, &value), "{}: reading attribute {}", where, name);
  return value;
}

std::int64_t read_count(hid_t object, const std::string& where, const std::string& name) {
  const auto value = static_cast<std::int64_t>(read_integer_bits(object, where, name));
  if (value < 0) raise("{}: attribute '{}' is {}, expected a count >= 0", where, name, value);
  return value;
}

std::vector<std::string> attribute_names(hid_t object, const std::string& where) {
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  h5::call(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, visit, &names), "{}: listing attributes", where);
  return names;
}

// H5I_GROUP, H5I_DATASET, ... of the object at `name`, which must exist.
H5I_type_t object_type(hid_t location, const std::string& name) {
  Object object{
      h5::call(H5Oopen(location, name.c_str(), H5P_DEFAULT), "{}: cannot open {}", h5::file_name(location), name)};
  return H5Iget_type(object.get());
}

h5::Group require_group(hid_t location, const std::string& path, const std::string& name) {
  if (!h5::exists(location, name) || object_type(location, name) != H5I_GROUP) {
    raise("{}: missing group {}; a checkpoint holds /params, /buffers, /optimizer (with m and v) and /rng", path, name);
  }
  return h5::open_group(location, name);
}

// Link names in creation order when the group tracks it (our writer), else in name order.
std::vector<std::string> ordered_children(hid_t group, const std::string& where) {
  h5::Plist properties{h5::call(H5Gget_create_plist(group), "{}: group creation properties", where)};
  unsigned flags = 0;
  h5::call(H5Pget_link_creation_order(properties.get(), &flags), "{}: link creation order", where);
  const H5_index_t index = (flags & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  h5::call(H5Literate(group, index, H5_ITER_INC, nullptr, visit, &names), "{}: listing", where);
  return names;
}

NamedTensor read_tensor(hid_t group, const std::string& where, const std::string& name) {
  const std::string at = fmt::format("{}/{}", where, name);
  if (object_type(group, name) != H5I_DATASET) raise("{}: is not a dataset; expected a float32 tensor", at);
  h5::Dataset dataset = h5::open_dataset(group, name);
  const h5::Dtype dtype = h5::dtype_of(dataset.get());
  if (dtype != h5::Dtype::f32) raise("{}: dtype {}, expected float32", at, h5::dtype_name(dtype));
  h5::Space space{h5::call(H5Dget_space(dataset.get()), "{}: reading dataspace", at)};
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  if (space_class != H5S_SIMPLE && space_class != H5S_SCALAR) {
    raise("{}: has no shape (null dataspace); expected a tensor of rank >= 0", at);
  }
  NamedTensor tensor;
  tensor.name = name;
  tensor.shape = h5::shape(dataset.get());
  const auto count = element_count(tensor.shape);
  if (!count) raise("{}: invalid shape {}", at, shape_text(tensor.shape));
  tensor.values.resize(static_cast<std::size_t>(*count));
  if (tensor.values.empty()) return tensor;
  if (tensor.shape.empty()) {
    h5::call(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.values.data()),
             "{}: reading", at);
  } else {
    h5::read_rows(dataset.get(), H5T_NATIVE_FLOAT, 0, tensor.shape[0], tensor.values.data());
  }
  return tensor;
}

std::vector<NamedTensor> read_tensors(hid_t file, const std::string& path, const std::string& group_name) {
  h5::Group group = require_group(file, path, group_name);
  const std::string where = fmt::format("{}:{}", path, group_name);
  std::vector<NamedTensor> tensors;
  for (const std::string& name : ordered_children(group.get(), where)) {
    tensors.push_back(read_tensor(group.get(), where, name));
  }
  return tensors;
}

// Adam moments in the order of params; the group must hold exactly one tensor per parameter, of
// the parameter's shape (or nothing at all for an optimizer other than Adam).
std::vector<NamedTensor> read_moments(hid_t file, const std::string& path, const std::string& group_name,
                                      const Checkpoint& c) {
  h5::Group group = require_group(file, path, group_name);
  const std::string where = fmt::format("{}:{}", path, group_name);
  const std::vector<std::string> names = ordered_children(group.get(), where);
  if (names.empty() && c.optimizer != "adam") return {};
  std::set<std::string> parameters;
  for (const NamedTensor& p : c.params) parameters.insert(p.name);
  for (const std::string& name : names) {
    if (!parameters.contains(name)) raise("{}/{}: no parameter of that name in /params", where, name);
  }
  std::vector<NamedTensor> moments;
  for (const NamedTensor& p : c.params) {
    if (std::find(names.begin(), names.end(), p.name) == names.end()) {
      raise("{}: missing tensor '{}'; optimizer '{}' needs one per parameter", where, p.name, c.optimizer);
    }
    NamedTensor m = read_tensor(group.get(), where, p.name);
    if (m.shape != p.shape) {
      raise("{}/{}: shape {}, but the parameter has shape {}", where, p.name, shape_text(m.shape), shape_text(p.shape));
    }
    moments.push_back(std::move(m));
  }
  return moments;
}

}  // namespace

void save_checkpoint(const fs::path& path, const Checkpoint& checkpoint, bool overwrite) {
  OutputFile out(path, overwrite);
  const std::string where = fmt::format("cannot save checkpoint {}", path.string());
  check_checkpoint(where, checkpoint);
  // HDF5's messages name the temporary file; the user needs the destination.
  try {
    write_checkpoint(out.temporary(), checkpoint);
  } catch (const Error& error) {
    raise("{}: {}", where, error.what());
  }
  out.commit();
}

Checkpoint load_checkpoint(const fs::path& path_in, std::string_view expected_workload) {
  const std::string path = path_in.string();
  h5::File file = h5::open_read(path_in);
  h5::Group root = h5::open_group(file.get(), "/");

  if (!attribute_info(root.get(), "schema"))
    raise("{}: no 'schema' attribute; not a parbench checkpoint (expected '{}')", path, kCheckpointSchema);
  const std::string schema = read_string(root.get(), path, "schema");
  if (schema != kCheckpointSchema) {
    raise("{}: schema is '{}', expected '{}'{}", path, schema, kCheckpointSchema,
          schema.starts_with("parbench.dataset") ? " (this is a dataset, not a checkpoint)" : "");
  }

  Checkpoint c;
  c.workload = read_string(root.get(), path, "workload");
  if (!expected_workload.empty() && c.workload != expected_workload) {
    raise("{}: checkpoint of workload '{}', expected '{}'", path, c.workload, expected_workload);
  }
  c.strategy = read_string(root.get(), path, "strategy");
  c.step = read_count(root.get(), path, "step");
  c.epoch = read_count(root.get(), path, "epoch");
  c.seed = read_integer_bits(root.get(), path, "seed");
  for (const std::string& name : attribute_names(root.get(), path)) {
    if (is_reserved(name)) continue;
    const auto info = attribute_info(root.get(), name);
    if (info->type_class != H5T_STRING || info->elements != 1) {
      raise("{}: root attribute '{}' is not a string; free-form checkpoint attributes are strings", path, name);
    }
    c.attributes[name] = read_string(root.get(), path, name);
  }

  c.params = read_tensors(file.get(), path, "/params");
  c.buffers = read_tensors(file.get(), path, "/buffers");

  {
    h5::Group optimizer = require_group(file.get(), path, "/optimizer");
    const std::string where = path + ":/optimizer";
    c.optimizer = read_string(optimizer.get(), where, "name");
    c.optimizer_step = read_count(optimizer.get(), where, "step");
  }
  c.adam_m = read_moments(file.get(), path, "/optimizer/m", c);
  c.adam_v = read_moments(file.get(), path, "/optimizer/v", c);

  h5::Group rng = require_group(file.get(), path, "/rng");
  for (const std::string& name : attribute_names(rng.get(), path + ":/rng")) {
    c.rng[name] = static_cast<std::int64_t>(read_integer_bits(rng.get(), path + ":/rng", name));
  }
  return c;
}

}  // namespace parbench::data
