// Checkpoints: a save/load round trip is bitwise exact (values, order, shapes, step, RNG state),
// the file has the layout h5py + PyTorch expect, a failed save leaves nothing behind, and every
// kind of bad file is refused with a message naming the file and the problem.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

#include "data/checkpoint.h"
#include "data/h5.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using data::Checkpoint;
using data::NamedTensor;
using parbench::test::error_of;
using parbench::test::TempDir;

// `text` must contain every one of `parts`.
void expect_contains(const std::string& text, std::initializer_list<std::string_view> parts) {
  for (std::string_view part : parts)
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

// A tensor of random bit patterns (NaNs with payloads, infinities, denormals, -0 included), so
// that any conversion or reordering on the way shows up in a bitwise comparison.
NamedTensor tensor(const std::string& name, std::vector<std::int64_t> shape, std::uint32_t seed) {
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  NamedTensor t{name, std::move(shape), std::vector<float>(static_cast<std::size_t>(count))};
  std::mt19937 random(seed);
  for (float& v : t.values) v = std::bit_cast<float>(static_cast<std::uint32_t>(random()));
  const float specials[] = {-0.0f, std::numeric_limits<float>::infinity(), std::bit_cast<float>(0x7fc01234u),
                            std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::quiet_NaN()};
  for (std::size_t i = 0; i < std::size(specials) && i < t.values.size(); ++i) t.values[i] = specials[i];
  return t;
}

// Like the trainer's output for a small violence model, in a deliberately non-alphabetical order.
Checkpoint adam_checkpoint() {
  Checkpoint c;
  c.workload = "violence";
  c.strategy = "ddp";
  c.step = 1234;
  c.epoch = 3;
  c.seed = 0xfedcba9876543210ull;  // above INT64_MAX: stored as int64 with the same bits
  std::uint32_t seed = 1;
  c.params = {tensor("lstm1.weight_ih_l0", {512, 40}, seed++),
              tensor("lstm1.bias_ih_l0", {512}, seed++),
              tensor("attn.score.weight", {1, 128}, seed++),
              tensor("fc4.bias", {7}, seed++),
              tensor("cube", {2, 3, 5}, seed++),
              tensor("temperature", {}, seed++),
              tensor("empty.weight", {0, 4}, seed++),
              tensor("bn1.weight", {256}, seed++)};
  c.buffers = {tensor("bn1.running_mean", {256}, seed++), tensor("bn1.running_var", {256}, seed++)};
  c.optimizer = "adam";
  c.optimizer_step = 1233;
  for (const auto& p : c.params) {
    c.adam_m.push_back(tensor(p.name, p.shape, seed++));
    c.adam_v.push_back(tensor(p.name, p.shape, seed++));
  }
  c.rng = {{"seed", 42}, {"epoch", 3}, {"batch", -7}, {"dropout.offset", std::numeric_limits<std::int64_t>::min()}};
  c.attributes = {{"config", R"({"lr": 0.001, "batch": 64})"}, {"note", ""}};
  return c;
}

Checkpoint sgd_checkpoint() {
  Checkpoint c;
  c.workload = "shoplifting";
  c.strategy = "serial";
  c.params = {tensor("visual.weight", {512, 16}, 7), tensor("anomaly.bias", {2}, 8)};
  c.optimizer = "sgd";
  return c;
}

void expect_same_tensors(const std::vector<NamedTensor>& got, const std::vector<NamedTensor>& want,
                         std::string_view list) {
  ASSERT_EQ(got.size(), want.size()) << list;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << list << "[" << i << "]";
    EXPECT_EQ(got[i].shape, want[i].shape) << list << " " << want[i].name;
    ASSERT_EQ(got[i].values.size(), want[i].values.size()) << list << " " << want[i].name;
    // memcmp of an empty tensor would pass a null pointer (UBSan: nonnull argument).
    if (want[i].values.empty()) continue;
    EXPECT_EQ(std::memcmp(got[i].values.data(), want[i].values.data(), want[i].values.size() * sizeof(float)), 0)
        << list << " " << want[i].name << " differs bitwise";
  }
}

void expect_same(const Checkpoint& got, const Checkpoint& want) {
  EXPECT_EQ(got.workload, want.workload);
  EXPECT_EQ(got.strategy, want.strategy);
  EXPECT_EQ(got.step, want.step);
  EXPECT_EQ(got.epoch, want.epoch);
  EXPECT_EQ(got.seed, want.seed);
  expect_same_tensors(got.params, want.params, "params");
  expect_same_tensors(got.buffers, want.buffers, "buffers");
  EXPECT_EQ(got.optimizer, want.optimizer);
  EXPECT_EQ(got.optimizer_step, want.optimizer_step);
  expect_same_tensors(got.adam_m, want.adam_m, "adam_m");
  expect_same_tensors(got.adam_v, want.adam_v, "adam_v");
  EXPECT_EQ(got.rng, want.rng);
  EXPECT_EQ(got.attributes, want.attributes);
}

h5::File open_rw(const std::filesystem::path& path) {
  h5::init();
  return h5::File{h5::call(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "opening {}", path.string())};
}

// Writes (or replaces) the dataset `name` with one of `type` and `shape`, as another writer might;
// an empty shape makes a null dataspace.
void replace_dataset(const std::filesystem::path& path, const std::string& name, hid_t type,
                     const std::vector<hsize_t>& shape) {
  h5::File file = open_rw(path);
  if (h5::exists(file.get(), name)) h5::call(H5Ldelete(file.get(), name.c_str(), H5P_DEFAULT), "deleting {}", name);
  h5::Space space{shape.empty() ? H5Screate(H5S_NULL)
                                : H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr)};
  h5::Dataset dataset{
      h5::call(H5Dcreate2(file.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "creating {}", name)};
}

// ---------------------------------------------------------------------------------------------

TEST(CheckpointRoundTrip, EveryFieldIsBitwiseEqual) {
  TempDir dir;
  const Checkpoint saved = adam_checkpoint();
  data::save_checkpoint(dir / "ckpt.h5", saved, false);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ckpt.h5"});
  expect_same(data::load_checkpoint(dir / "ckpt.h5", "violence"), saved);
  // An empty expected workload accepts the file's own.
  EXPECT_EQ(data::load_checkpoint(dir / "ckpt.h5", "").workload, "violence");
}

TEST(CheckpointRoundTrip, SgdWithoutBuffersMomentsOrRng) {
  TempDir dir;
  const Checkpoint saved = sgd_checkpoint();
  data::save_checkpoint(dir / "sgd.h5", saved, false);
  const Checkpoint loaded = data::load_checkpoint(dir / "sgd.h5", "shoplifting");
  expect_same(loaded, saved);
  EXPECT_TRUE(loaded.buffers.empty());
  EXPECT_TRUE(loaded.adam_m.empty());
  EXPECT_TRUE(loaded.rng.empty());
}

// What a PyTorch user relies on: {k: torch.from_numpy(f['params'][k][()]) for k in f['params']}.
TEST(CheckpointLayout, PyTorchNamesShapesAsContiguousFloat32) {
  TempDir dir;
  const Checkpoint saved = adam_checkpoint();
  data::save_checkpoint(dir / "ckpt.h5", saved, false);
  h5::File file = h5::open_read(dir / "ckpt.h5");
  for (const std::string group : {"/params", "/optimizer/m", "/optimizer/v"}) {
    for (const auto& p : saved.params) {
      const std::string name = group + "/" + p.name;
      ASSERT_TRUE(h5::exists(file.get(), name)) << name;
      const h5::Layout layout = h5::layout(h5::open_dataset(file.get(), name).get());
      EXPECT_EQ(layout.dtype, h5::Dtype::f32) << name;
      EXPECT_EQ(layout.shape, p.shape) << name;
      EXPECT_TRUE(layout.chunk.empty()) << name << " is chunked";
      EXPECT_TRUE(layout.filters.empty()) << name << " is filtered";
    }
  }
  EXPECT_EQ(h5::shape(h5::open_dataset(file.get(), "/buffers/bn1.running_var").get()),
            (std::vector<std::int64_t>{256}));
  h5::Group root = h5::open_group(file.get(), "/");
  EXPECT_EQ(h5::read_string_attribute(root.get(), "schema"), std::string(data::kCheckpointSchema));
  EXPECT_EQ(h5::read_string_attribute(root.get(), "workload"), "violence");
  EXPECT_EQ(h5::read_string_attribute(root.get(), "config"), saved.attributes.at("config"));
  h5::Group optimizer = h5::open_group(file.get(), "/optimizer");
  EXPECT_EQ(h5::read_string_attribute(optimizer.get(), "name"), "adam");
  // Integers are int64 attributes (h5py reads them as numpy.int64).
  for (const auto& [group, name] : {std::pair{"/", "step"}, {"/", "seed"}, {"/optimizer", "step"}, {"/rng", "batch"}}) {
    h5::Attribute attribute{H5Aopen_by_name(file.get(), group, name, H5P_DEFAULT, H5P_DEFAULT)};
    ASSERT_TRUE(attribute) << group << " " << name;
    h5::Type type{H5Aget_type(attribute.get())};
    EXPECT_GT(H5Tequal(type.get(), H5T_STD_I64LE), 0) << group << " " << name;
  }
}

TEST(CheckpointSave, ExistingFileIsRefusedAndLeftIntact) {
  TempDir dir;
  const Checkpoint first = adam_checkpoint();
  data::save_checkpoint(dir / "ckpt.h5", first, false);
  Checkpoint second = sgd_checkpoint();
  expect_contains(error_of([&] { data::save_checkpoint(dir / "ckpt.h5", second, false); }),
                  {"ckpt.h5", "exists already"});
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ckpt.h5"});
  expect_same(data::load_checkpoint(dir / "ckpt.h5", "violence"), first);

  data::save_checkpoint(dir / "ckpt.h5", second, true);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ckpt.h5"});
  expect_same(data::load_checkpoint(dir / "ckpt.h5", "shoplifting"), second);
}

TEST(CheckpointSave, BadCheckpointIsRefusedBeforeWriting) {
  TempDir dir;
  const auto refused = [&](const std::function<void(Checkpoint&)>& change) {
    Checkpoint c = adam_checkpoint();
    change(c);
    std::string message = error_of([&] { data::save_checkpoint(dir / "bad.h5", c, false); });
    EXPECT_TRUE(dir.files().empty()) << message;
    return message;
  };
  expect_contains(refused([](Checkpoint& c) { c.params[3].values.pop_back(); }),
                  {"cannot save checkpoint", "bad.h5", "fc4.bias", "shape (7,) (7 values) but holds 6 values"});
  expect_contains(refused([](Checkpoint& c) { c.buffers[0].shape = {-1}; }),
                  {"bad.h5", "bn1.running_mean", "invalid shape"});
  expect_contains(refused([](Checkpoint& c) {
                    c.adam_m[2].shape = {128, 1};
                    c.adam_m[2].values.resize(128);
                  }),
                  {"bad.h5", "adam_m 'attn.score.weight' has shape (128, 1) but the parameter has shape (1, 128)"});
  expect_contains(refused([](Checkpoint& c) { c.adam_v.pop_back(); }),
                  {"bad.h5", "adam_v holds 7 tensors but params holds 8"});
  expect_contains(refused([](Checkpoint& c) { std::swap(c.adam_v[0], c.adam_v[1]); }),
                  {"bad.h5", "adam_v[0] is 'lstm1.bias_ih_l0' but params[0] is 'lstm1.weight_ih_l0'"});
  expect_contains(refused([](Checkpoint& c) { c.adam_m.clear(); }), {"bad.h5", "adam_m holds 0 tensors"});
  expect_contains(refused([](Checkpoint& c) {
                    c.params[1].name = "fc4.bias";
                    c.adam_m[1].name = c.adam_v[1].name = "fc4.bias";
                  }),
                  {"bad.h5", "params holds 'fc4.bias' twice"});
  expect_contains(refused([](Checkpoint& c) { c.buffers[1].name = "bn1/running_var"; }),
                  {"bad.h5", "'bn1/running_var' is not a valid tensor name"});
  expect_contains(refused([](Checkpoint& c) { c.attributes["step"] = "7"; }), {"bad.h5", "'step' is reserved"});
  expect_contains(refused([](Checkpoint& c) { c.workload.clear(); }), {"bad.h5", "workload is empty"});
  expect_contains(refused([](Checkpoint& c) { c.step = -1; }), {"bad.h5", "must not be negative"});
}

// A failure in the middle of writing (HDF5 refuses a tensor of rank 33 after others were
// written) leaves neither the destination nor the temporary file.
TEST(CheckpointSave, FailedWriteLeavesNoFile) {
  TempDir dir;
  Checkpoint c = sgd_checkpoint();
  c.buffers.push_back(NamedTensor{"deep", std::vector<std::int64_t>(33, 1), {1.0f}});
  const std::string message = error_of([&] { data::save_checkpoint(dir / "ckpt.h5", c, false); });
  expect_contains(message, {"cannot save checkpoint", "ckpt.h5", "deep"});
  EXPECT_TRUE(dir.files().empty()) << message;
}

TEST(CheckpointLoad, MissingFile) {
  TempDir dir;
  expect_contains(error_of([&] { data::load_checkpoint(dir / "nope.h5", "violence"); }), {"nope.h5: no such file"});
}

TEST(CheckpointLoad, NotAnHdf5File) {
  TempDir dir;
  std::ofstream(dir / "ckpt.pt") << "PK\x03\x04 a PyTorch zip, not HDF5\n";
  expect_contains(error_of([&] { data::load_checkpoint(dir / "ckpt.pt", "violence"); }), {"ckpt.pt: not an HDF5 file"});
}

TEST(CheckpointLoad, TruncatedFile) {
  TempDir dir;
  data::save_checkpoint(dir / "ckpt.h5", adam_checkpoint(), false);
  const auto size = std::filesystem::file_size(dir / "ckpt.h5");
  for (const auto cut : {size / 2, size - 1}) {
    std::filesystem::copy_file(dir / "ckpt.h5", dir / "cut.h5", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(dir / "cut.h5", cut);
    expect_contains(error_of([&] { data::load_checkpoint(dir / "cut.h5", "violence"); }), {"cut.h5", "truncated"});
  }
}

TEST(CheckpointLoad, OtherWorkloadIsRefused) {
  TempDir dir;
  data::save_checkpoint(dir / "ckpt.h5", sgd_checkpoint(), false);
  expect_contains(error_of([&] { data::load_checkpoint(dir / "ckpt.h5", "violence"); }),
                  {"ckpt.h5", "checkpoint of workload 'shoplifting', expected 'violence'"});
}

TEST(CheckpointLoad, OtherSchemaIsRefused) {
  TempDir dir;
  data::save_checkpoint(dir / "ckpt.h5", sgd_checkpoint(), false);
  {
    h5::File file = open_rw(dir / "ckpt.h5");
    h5::write_attribute(file.get(), "schema", std::string("parbench.checkpoint/2"));
  }
  expect_contains(error_of([&] { data::load_checkpoint(dir / "ckpt.h5", ""); }),
                  {"ckpt.h5", "schema is 'parbench.checkpoint/2', expected 'parbench.checkpoint/1'"});

  // A dataset file given where a checkpoint belongs.
  data::SynthOptions options;
  options.workload = "violence";
  options.samples = 4;
  options.frames = 2;
  options.feature_dim = 3;
  data::synthesize(options, dir / "data.h5");
  expect_contains(error_of([&] { data::load_checkpoint(dir / "data.h5", "violence"); }),
                  {"data.h5", "schema is 'parbench.dataset/1'", "not a checkpoint"});

  // Some other HDF5 file.
  h5::create(dir / "plain.h5");
  expect_contains(error_of([&] { data::load_checkpoint(dir / "plain.h5", "violence"); }),
                  {"plain.h5", "no 'schema' attribute"});
}

TEST(CheckpointLoad, MissingGroupIsRefused) {
  TempDir dir;
  for (const std::string group : {"/optimizer", "/params", "/buffers", "/optimizer/m", "/optimizer/v", "/rng"}) {
    std::filesystem::remove(dir / "ckpt.h5");
    data::save_checkpoint(dir / "ckpt.h5", adam_checkpoint(), false);
    {
      h5::File file = open_rw(dir / "ckpt.h5");
      h5::call(H5Ldelete(file.get(), group.c_str(), H5P_DEFAULT), "deleting {}", group);
    }
    expect_contains(error_of([&] { data::load_checkpoint(dir / "ckpt.h5", "violence"); }),
                    {"ckpt.h5", "missing group " + group});
  }
}

TEST(CheckpointLoad, MomentsMustMatchParams) {
  TempDir dir;
  const auto error_after = [&](const std::function<void(const std::filesystem::path&)>& change) {
    std::filesystem::remove(dir / "ckpt.h5");
    data::save_checkpoint(dir / "ckpt.h5", adam_checkpoint(), false);
    change(dir / "ckpt.h5");
    return error_of([&] { data::load_checkpoint(dir / "ckpt.h5", "violence"); });
  };
  expect_contains(
      error_after([](const auto& path) { replace_dataset(path, "/optimizer/m/fc4.bias", H5T_IEEE_F32LE, {8}); }),
      {"ckpt.h5:/optimizer/m/fc4.bias: shape (8,), but the parameter has shape (7,)"});
  expect_contains(error_after([](const auto& path) {
                    replace_dataset(path, "/optimizer/v/cube", H5T_IEEE_F32LE, {2, 15});
                  }),
                  {"ckpt.h5:/optimizer/v/cube: shape (2, 15), but the parameter has shape (2, 3, 5)"});
  expect_contains(error_after([](const auto& path) {
                    h5::File file = open_rw(path);
                    h5::call(H5Ldelete(file.get(), "/optimizer/v/bn1.weight", H5P_DEFAULT), "deleting");
                  }),
                  {"ckpt.h5:/optimizer/v: missing tensor 'bn1.weight'"});
  expect_contains(
      error_after([](const auto& path) { replace_dataset(path, "/optimizer/m/extra", H5T_IEEE_F32LE, {3}); }),
      {"ckpt.h5:/optimizer/m/extra: no parameter of that name"});
}

TEST(CheckpointLoad, TensorsMustBeFloat32WithAShape) {
  TempDir dir;
  const auto error_after = [&](const std::string& name, hid_t type, const std::vector<hsize_t>& shape) {
    std::filesystem::remove(dir / "ckpt.h5");
    data::save_checkpoint(dir / "ckpt.h5", adam_checkpoint(), false);
    replace_dataset(dir / "ckpt.h5", name, type, shape);
    return error_of([&] { data::load_checkpoint(dir / "ckpt.h5", "violence"); });
  };
  expect_contains(error_after("/params/fc4.bias", H5T_IEEE_F64LE, {7}),
                  {"ckpt.h5:/params/fc4.bias: dtype float64, expected float32"});
  expect_contains(error_after("/buffers/bn1.running_mean", H5T_STD_I32LE, {256}),
                  {"ckpt.h5:/buffers/bn1.running_mean: dtype int32, expected float32"});
  expect_contains(error_after("/params/fc4.bias", H5T_IEEE_F32LE, {}), {"ckpt.h5:/params/fc4.bias", "null dataspace"});
}

}  // namespace
