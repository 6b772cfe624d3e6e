// Golden tests against PyTorch: one training-mode forward and backward pass of each workload,
// compared with the same functions computed by torch.nn modules in float64 (design.md §2, §10).
// The reference files tests/golden/{violence,shoplifting}.h5 are committed and made by
// tests/golden/make_golden.py (its header says how to regenerate them and what they hold); torch
// is needed only to regenerate them, never to run these tests.
//
// Each test builds the workload with models::make_model, copies every parameter and the initial
// BatchNorm running statistics from the file by PyTorch name (every model tensor must be there with
// the same shape, and nothing else), runs forward (training, dropout 0) and backward (scale 1/B),
// and compares the batch-mean loss, each head's outputs, every parameter gradient and the running
// statistics after the forward with the float64 reference. Gradients of tensors of at most 4096
// values are stored whole; for larger ones the file holds a seeded sample of 4096 (index, value)
// pairs (/grads/<name>/index and /value, see make_golden.py), compared at those indices: the test
// checks that the sample has 4096 distinct in-range indices and touches every row and column.
//
// Tolerances: max |ours - ref| <= atol + rtol * max |ref| per tensor, with max |ref| taken over the
// stored reference values (for a sampled gradient, over the sample, which make_golden.py makes
// include the tensor's largest |gradient|: so it is the whole tensor's max, as for a full tensor).
// parbench computes in fp32 (BLAS sgemm, fp32 elementwise math, double accumulators for
// reductions); the reference is exact to ~1e-16. The tolerances were set with OpenBLAS 0.3.21
// (Prescott, Haswell and SkylakeX kernels); each states in brackets the error measured on the
// current files (gradients: over the stored values) with oneDNN 2.6.3's dnnl_sgemm under
// ONEDNN_MAX_CPU_ISA = SSE41, AVX2 and AVX512_CORE, and leaves about an order of magnitude of
// headroom so that a different BLAS or summation order passes while a wrong formula, layout or gate
// order (errors of order max |ref| itself) cannot.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/h5.h"
#include "kernels/backend.h"
#include "models/model.h"

namespace {

using namespace parbench;
namespace fs = std::filesystem;

fs::path golden_dir() { return fs::path(__FILE__).parent_path() / "golden"; }

// A tensor of the golden file, converted to double (HDF5 converts float32/float64/int32 exactly).
struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;
};

class GoldenFile {
 public:
  explicit GoldenFile(const fs::path& path) : file_(h5::open_read(path)) {}

  bool has(const std::string& path) const { return h5::exists(file_.get(), path); }
  bool is_group(const std::string& path) const {
    const hid_t object = h5::call(H5Oopen(file_.get(), path.c_str(), H5P_DEFAULT), "opening {}", path);
    const bool group = H5Iget_type(object) == H5I_GROUP;
    H5Oclose(object);
    return group;
  }
  std::vector<std::string> names(const std::string& group) const {
    const h5::Group g = h5::open_group(file_.get(), group);
    return h5::children(g.get());
  }
  Tensor read(const std::string& path) const {
    const h5::Dataset dataset = h5::open_dataset(file_.get(), path);
    Tensor t;
    t.shape = h5::shape(dataset.get());
    std::int64_t count = 1;
    for (const auto d : t.shape) count *= d;
    t.values.resize(static_cast<std::size_t>(count));
    h5::call(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()), "reading {}",
             path);
    return t;
  }
  std::vector<std::int64_t> read_int64(const std::string& path) const {
    const h5::Dataset dataset = h5::open_dataset(file_.get(), path);
    const auto shape = h5::shape(dataset.get());
    if (shape.size() != 1) throw h5::Error(fmt::format("{} must be one-dimensional", path));
    std::vector<std::int64_t> values(static_cast<std::size_t>(shape[0]));
    h5::call(H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "reading {}",
             path);
    return values;
  }
  // A one-dimensional int64 attribute of the object at `path` (e.g. a sampled gradient's shape).
  std::vector<std::int64_t> read_int64_attribute(const std::string& path, const std::string& name) const {
    const h5::Attribute attribute{
        h5::call(H5Aopen_by_name(file_.get(), path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                 "opening attribute {} of {}", name, path)};
    const h5::Space space{h5::call(H5Aget_space(attribute.get()), "dataspace of {}/{}", path, name)};
    const auto count = h5::call(H5Sget_simple_extent_npoints(space.get()), "size of {}/{}", path, name);
    std::vector<std::int64_t> values(static_cast<std::size_t>(count));
    h5::call(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()), "reading {}/{}", path, name);
    return values;
  }
  std::vector<std::int32_t> read_int(const std::string& path) const {
    const h5::Dataset dataset = h5::open_dataset(file_.get(), path);
    const auto shape = h5::shape(dataset.get());
    std::vector<std::int32_t> values(shape.empty() ? 1 : static_cast<std::size_t>(shape[0]));
    h5::call(H5Dread(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "reading {}",
             path);
    return values;
  }

 private:
  h5::File file_;
};

std::vector<float> to_float(const std::vector<double>& values) {
  return {values.begin(), values.end()};  // the file's float32 values: exact
}

struct Tolerance {
  double atol, rtol;
};

// max |actual - ref| <= atol + rtol * max |ref|, with the worst element in the message. Set
// PARBENCH_GOLDEN_REPORT=1 to print every tensor's error relative to max |ref| (to revisit the
// tolerances on another machine or BLAS).
template <typename T>
void expect_close(const std::string& what, const std::vector<T>& actual, const Tensor& ref, Tolerance tol) {
  ASSERT_EQ(actual.size(), ref.values.size()) << what;
  double worst = 0, scale = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::abs(static_cast<double>(actual[i]) - ref.values[i]);
    if (!(error <= worst)) {  // also catches NaN
      worst = error;
      at = i;
    }
    scale = std::max(scale, std::abs(ref.values[i]));
  }
  const double bound = tol.atol + tol.rtol * scale;
  if (std::getenv("PARBENCH_GOLDEN_REPORT"))
    std::printf("  %-28s max|ref| %-10.3g max|err| %-10.3g err/max|ref| %.3g\n", what.c_str(), scale, worst,
                scale > 0 ? worst / scale : worst);
  EXPECT_LE(worst, bound) << what << ": max |ours - torch| = " << worst << " at [" << at << "] (ours "
                          << static_cast<double>(actual[at]) << ", torch " << ref.values[at] << "), max |torch| "
                          << scale << ", allowed " << tol.atol << " + " << tol.rtol << " * max |torch|";
}

// One workload's golden run: the model as the file describes it, after one forward and backward.
struct GoldenRun {
  std::unique_ptr<kernels::Backend> backend = kernels::make_backend("cpu");
  std::unique_ptr<GoldenFile> file;
  std::unique_ptr<models::Model> model;
  int batch = 0;
  double loss_mean = 0;  // forward's sum of per-sample losses / B
  std::vector<float> gradients, buffers;
};

// Opens the golden file (fails if it is missing: it is committed), builds the model for the shapes
// of the file's inputs, loads parameters and initial running statistics by name, runs one step.
void run_golden(GoldenRun& run, const std::string& workload, const models::LossConfig& loss) {
  const fs::path path = golden_dir() / (workload + ".h5");
  ASSERT_TRUE(fs::exists(path)) << path << " is missing: it is committed with the sources; regenerate it with "
                                << "`python3 tests/golden/make_golden.py` (needs PyTorch and h5py)";
  run.file = std::make_unique<GoldenFile>(path);
  const GoldenFile& file = *run.file;

  // Inputs and targets by the dataset names the loader uses; shapes give B and the model config.
  std::map<std::string, std::vector<float>> inputs;
  std::map<std::string, std::vector<std::int32_t>> targets;
  std::map<std::string, std::vector<std::int64_t>> input_shapes;
  for (const auto& name : file.names("inputs")) {
    const Tensor t = file.read("inputs/" + name);
    inputs[name] = to_float(t.values);
    input_shapes[name] = t.shape;
  }
  for (const auto& name : file.names("targets")) targets[name] = file.read_int("targets/" + name);
  models::ModelConfig config;
  config.dropout = 0.0f;  // the reference has no dropout (parbench's masks are its own RNG's)
  if (workload == "violence") {
    const auto& s = input_shapes.at("features");  // (B, T, D)
    ASSERT_EQ(s.size(), 3u);
    config.steps = s[1];
    config.features = s[2];
  } else {
    const auto& s = input_shapes.at("pose");  // (B, T, 34)
    ASSERT_EQ(s.size(), 3u);
    config.steps = s[1];
  }
  run.batch = static_cast<int>(input_shapes.begin()->second.at(0));
  for (const auto& [name, values] : targets) ASSERT_EQ(values.size(), static_cast<std::size_t>(run.batch)) << name;

  run.model = models::make_model(workload, *run.backend, config);
  models::Model& model = *run.model;

  // Every parameter and buffer by name and shape, and no extra tensor in the file.
  std::set<std::string> expected_params, expected_buffers;
  for (const auto& p : model.parameters()) expected_params.insert(p.name);
  for (const auto& b : model.buffers()) expected_buffers.insert(b.name);
  for (const char* group : {"params", "grads"}) {
    const auto names = file.names(group);
    ASSERT_EQ(std::set<std::string>(names.begin(), names.end()), expected_params)
        << "/" << group << " of " << path << " must hold exactly the model's parameters";
  }
  for (const char* group : {"initial_buffers", "buffers"}) {
    const auto names = file.names(group);
    ASSERT_EQ(std::set<std::string>(names.begin(), names.end()), expected_buffers)
        << "/" << group << " of " << path << " must hold exactly the model's BatchNorm running statistics";
  }
  auto load = [&](const std::vector<models::Parameter>& tensors, const std::string& group, float* device) {
    for (const auto& p : tensors) {
      const Tensor t = file.read(group + "/" + p.name);
      ASSERT_EQ(t.shape, p.shape) << group << "/" << p.name;
      ASSERT_EQ(t.values.size(), p.count) << p.name;
      const std::vector<float> values = to_float(t.values);
      run.backend->upload(device + p.offset, values.data(), values.size());
    }
  };
  load(model.parameters(), "params", model.parameter_data());
  load(model.buffers(), "initial_buffers", model.buffer_data());

  models::BatchView view;
  for (const auto& [name, values] : inputs) view.inputs[name] = values.data();
  for (const auto& [name, values] : targets) view.targets[name] = values.data();
  model.allocate(run.batch);
  model.zero_gradients();
  // Dropout is 0, so seed and step do not matter; BatchNorm uses batch statistics.
  const models::Pass pass{*run.backend, run.batch, true, 1234, 7, 0};
  const double sum = model.forward(pass, view, loss);
  run.loss_mean = sum / run.batch;
  model.backward(pass, view, loss, 1.0f / static_cast<float>(run.batch), {});

  run.gradients.resize(model.parameter_count());
  run.backend->download(run.gradients.data(), model.gradient_data(), run.gradients.size());
  run.buffers.resize(model.buffer_count());
  run.backend->download(run.buffers.data(), model.buffer_data(), run.buffers.size());
}

// One tensor's slice of a flat buffer.
std::vector<float> slice(const std::vector<float>& flat, const models::Parameter& p) {
  return {flat.begin() + static_cast<std::ptrdiff_t>(p.offset),
          flat.begin() + static_cast<std::ptrdiff_t>(p.offset + p.count)};
}

// Heads: the model exposes softmax probabilities, not logits. Compared (a) as probabilities and
// (b) as centred logits, log p_c - mean_k log p_k = z_c - mean_k z_k, which keeps the logits'
// full resolution where a probability saturates (softmax is shift-invariant: only the centred
// logits are observable, and they are all the loss sees).
void check_heads(const GoldenRun& run, Tolerance probability_tol, Tolerance logit_tol) {
  for (const auto& head : run.model->heads()) {
    const Tensor logits = run.file->read("outputs/logits/" + head.name);
    ASSERT_EQ(logits.shape, (std::vector<std::int64_t>{run.batch, head.classes})) << head.name;
    const auto rows = static_cast<std::size_t>(run.batch), classes = static_cast<std::size_t>(head.classes);
    std::vector<float> probs(rows * classes);
    run.backend->download(probs.data(), run.model->probabilities(head.name), probs.size());
    Tensor ref_probs{logits.shape, std::vector<double>(probs.size())}, ref_centred = ref_probs;
    std::vector<double> centred(probs.size());
    for (std::size_t r = 0; r < rows; ++r) {
      const double* z = logits.values.data() + r * classes;
      const double max_z = *std::max_element(z, z + classes);
      double sum = 0, mean_z = 0, mean_log_p = 0;
      for (std::size_t c = 0; c < classes; ++c) {
        sum += std::exp(z[c] - max_z);
        mean_z += z[c] / static_cast<double>(classes);
        mean_log_p += std::log(static_cast<double>(probs[r * classes + c])) / static_cast<double>(classes);
      }
      for (std::size_t c = 0; c < classes; ++c) {
        ref_probs.values[r * classes + c] = std::exp(z[c] - max_z) / sum;
        ref_centred.values[r * classes + c] = z[c] - mean_z;
        centred[r * classes + c] = std::log(static_cast<double>(probs[r * classes + c])) - mean_log_p;
      }
    }
    expect_close("probabilities/" + head.name, probs, ref_probs, probability_tol);
    expect_close("centred logits/" + head.name, centred, ref_centred, logit_tol);
  }
}

void check_loss(const GoldenRun& run, Tolerance tol) {
  const Tensor ref = run.file->read("outputs/loss");
  ASSERT_TRUE(ref.shape.empty()) << "/outputs/loss is a scalar";
  expect_close("loss", std::vector<double>{run.loss_mean}, ref, tol);
}

// make_golden.py's GRAD_SAMPLE: gradients of larger tensors are stored as a sample of this many.
constexpr std::size_t kGradSample = 4096;

// A sampled gradient's indices: kGradSample distinct flat indices in [0, count), ascending, that
// together touch every index of every axis (every row and column of a matrix).
void check_sample(const std::string& name, const std::vector<std::int64_t>& shape,
                  const std::vector<std::int64_t>& index) {
  std::int64_t count = 1;
  for (const auto d : shape) count *= d;
  ASSERT_GT(count, static_cast<std::int64_t>(kGradSample)) << name << ": small gradients are stored whole";
  ASSERT_EQ(index.size(), kGradSample) << name;
  for (std::size_t i = 0; i < index.size(); ++i) {
    ASSERT_TRUE(index[i] >= 0 && index[i] < count) << name << ": index " << index[i] << " out of range";
    if (i > 0) {
      ASSERT_LT(index[i - 1], index[i]) << name << ": indices must be strictly ascending";
    }
  }
  std::int64_t stride = count;
  for (std::size_t axis = 0; axis < shape.size(); ++axis) {
    stride /= shape[axis];
    std::vector<bool> seen(static_cast<std::size_t>(shape[axis]));
    for (const auto flat : index) seen[static_cast<std::size_t>(flat / stride % shape[axis])] = true;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 0) << name << ": the sample misses indices of axis " << axis;
  }
}

// Every gradient, with the tolerance `tolerance_of(name)` chooses: the whole tensor, or at the
// stored sample's indices (max |ref| of the rtol is then over the sample's values).
template <typename Rule>
void check_gradients(const GoldenRun& run, Rule tolerance_of) {
  for (const auto& p : run.model->parameters()) {
    const std::string path = "grads/" + p.name;
    const std::vector<float> ours = slice(run.gradients, p);
    if (!run.file->is_group(path)) {  // stored whole
      const Tensor ref = run.file->read(path);
      ASSERT_EQ(ref.shape, p.shape) << p.name;
      ASSERT_LE(ref.values.size(), kGradSample) << p.name << ": large gradients are stored as a sample";
      expect_close("grad " + p.name, ours, ref, tolerance_of(p.name));
      continue;
    }
    ASSERT_EQ(run.file->read_int64_attribute(path, "shape"), p.shape) << p.name;
    const std::vector<std::int64_t> index = run.file->read_int64(path + "/index");
    ASSERT_NO_FATAL_FAILURE(check_sample(p.name, p.shape, index));
    Tensor ref = run.file->read(path + "/value");
    ASSERT_EQ(ref.values.size(), index.size()) << p.name << ": one value per index";
    std::vector<float> sampled(index.size());
    for (std::size_t i = 0; i < index.size(); ++i) sampled[i] = ours[static_cast<std::size_t>(index[i])];
    expect_close("grad " + p.name + " (sampled)", sampled, ref, tolerance_of(p.name));
  }
}

void check_running_statistics(const GoldenRun& run, Tolerance tol) {
  for (const auto& b : run.model->buffers()) {
    const Tensor ref = run.file->read("buffers/" + b.name);
    ASSERT_EQ(ref.shape, b.shape) << b.name;
    expect_close(b.name, slice(run.buffers, b), ref, tol);
  }
}

// Per-tensor gradient tolerances: the first rule whose prefix starts the parameter's name.
struct Rule {
  const char* prefix;  // "" matches every name
  Tolerance tolerance;
};
Tolerance tolerance_for(const std::vector<Rule>& rules, const std::string& name) {
  for (const auto& rule : rules) {
    if (name.rfind(rule.prefix, 0) == 0) return rule.tolerance;
  }
  ADD_FAILURE() << "no tolerance rule for " << name;
  return {0, 0};
}

// Tolerances shared by both workloads (measured maxima over both files in brackets):
// - loss: rtol 1e-5 [2.3e-7]. A sum of B per-sample losses, each from fp32 probabilities.
constexpr Tolerance kLoss{0, 1e-5};
// - probabilities: atol 3e-6 [2.5e-7]. fp32 softmax of logits carrying the network's error.
constexpr Tolerance kProbabilities{3e-6, 0};
// - centred logits: rtol 3e-5 of max |z - mean z| [1.4e-6]; log of fp32 probabilities.
constexpr Tolerance kCentredLogits{0, 3e-5};
// - running statistics after the forward: rtol 1e-6 [9.8e-8]. 0.9 * old (exact float32 values)
//   + 0.1 * batch mean / unbiased variance, accumulated in double by the kernel: only the batch
//   statistics' inputs carry fp32 error, scaled down by the momentum 0.1.
constexpr Tolerance kRunningStatistics{0, 1e-6};

// ---- violence ---------------------------------------------------------------------------------
// Reduced config (D = 64, T = 5, B = 4), focal loss as make_golden.py computes it.

models::LossConfig violence_loss() {
  models::LossConfig loss;
  loss.spec = {kernels::LossSpec::Kind::focal, 0.1f, 0.25f, 2.0f};
  loss.class_weights["violence"] = {0.7f, 1.6f};
  return loss;
}

// Gradients of violence, rtol of max |ref| per tensor [measured maximum of err / max |ref|]:
const std::vector<Rule> kViolenceGradients = {
    // fc2.bias [3.7e-6], bn4.* [4.2e-6]: fc2's gradient comes back through bn5 over only B = 4
    // rows, whose backward subtracts per-column means of 4 values (cancellation), and bn4 scales
    // by 1/std of 4 values. How much depends on the draw of weights: the previous files' draw
    // measured 5.8e-5 (fc2.bias) and 2.7e-5 (bn4) with OpenBLAS; 6e-4 = 10x that.
    {"fc2.bias", {0, 6e-4}},
    {"bn4.", {0, 6e-4}},
    // Everything else [<= 1.4e-5: lstm*, bn1-3, attn.*, fc1..fc4, bn5]: fp32 GEMMs of length up to
    // 256 through 3 recurrent layers (T = 5 steps each way) and 5 BatchNorms; the dlogits already
    // carry ~1e-5 relative error from the fp32 forward. 3e-4 = 10x the worst of the previous
    // files' draw (2.7e-5, OpenBLAS). The draw matters (BatchNorm over B = 4 rows amplifies fp32
    // rounding by an amount that depends on it: up to 3e-4 on some seeds), so make_golden.py's
    // violence seed is one measured to keep these errors low (see there).
    {"", {0, 3e-4}},
};

TEST(GoldenViolence, LossIsTheWorkloadDefault) {
  // The golden file is made with the workload's default loss (plus class weights).
  const auto spec = models::default_loss("violence");
  const auto golden = violence_loss().spec;
  EXPECT_EQ(spec.kind, golden.kind);
  EXPECT_EQ(spec.label_smoothing, golden.label_smoothing);
  EXPECT_EQ(spec.focal_alpha, golden.focal_alpha);
  EXPECT_EQ(spec.focal_gamma, golden.focal_gamma);
}

TEST(GoldenViolence, LossAndOutputsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "violence", violence_loss()));
  check_loss(run, kLoss);
  check_heads(run, kProbabilities, kCentredLogits);
}

TEST(GoldenViolence, GradientsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "violence", violence_loss()));
  check_gradients(run, [](const std::string& name) { return tolerance_for(kViolenceGradients, name); });
}

TEST(GoldenViolence, RunningStatisticsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "violence", violence_loss()));
  check_running_statistics(run, kRunningStatistics);
}

// ---- shoplifting ------------------------------------------------------------------------------
// Pose T = 16, B = 4; CE with label smoothing 0.1 on both heads (action weighted 0.5).

models::LossConfig shoplifting_loss() {
  models::LossConfig loss;
  loss.spec = {kernels::LossSpec::Kind::cross_entropy, 0.1f};
  return loss;
}

const std::vector<Rule> kShopliftingGradients = {
    // trunk.bias: exactly 0 (torch: |g| < 1e-16). A bias right before a training-mode BatchNorm
    // cancels out (BN subtracts the batch mean), so its gradient is the column sum of BN's dx over
    // 4 rows, which cancels to 0; ours keeps the fp32 residue [1.9e-7] of terms of size ~0.03.
    // Absolute 2e-6 = 10x the worst; a bug that leaks a real gradient here is >= 1e-3.
    {"trunk.bias", {2e-6, 0}},
    // Everything else [<= 2.3e-6]: one or two fp32 GEMMs (length <= 2048) per tensor on a shallow
    // network. 3e-5 = 13x the worst.
    {"", {0, 3e-5}},
};

TEST(GoldenShoplifting, LossAndOutputsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "shoplifting", shoplifting_loss()));
  check_loss(run, kLoss);
  check_heads(run, kProbabilities, kCentredLogits);
}

TEST(GoldenShoplifting, GradientsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "shoplifting", shoplifting_loss()));
  check_gradients(run, [](const std::string& name) { return tolerance_for(kShopliftingGradients, name); });
}

TEST(GoldenShoplifting, RunningStatisticsMatchPyTorch) {
  GoldenRun run;
  ASSERT_NO_FATAL_FAILURE(run_golden(run, "shoplifting", shoplifting_loss()));
  check_running_statistics(run, kRunningStatistics);
}

}  // namespace
