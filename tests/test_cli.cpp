// The parbench executable as a user sees it: `data synth` -> `data inspect` round trips, exit status
// and messages of every error (naming the file, dataset and expectation), and no output or
// temporary file left behind by a failed command.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/h5.h"
#include "data/npy.h"
#include "data/schema.h"
#include "data/synth.h"
#include "test_util.h"

namespace {

using namespace parbench;
using parbench::test::CommandResult;
using parbench::test::run_parbench;
using parbench::test::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The command must fail (non-zero status) and say every one of `needles`.
void expect_failure(const CommandResult& result, const std::vector<std::string>& needles) {
  EXPECT_NE(result.status, 0) << result.output;
  for (const auto& needle : needles) {
    EXPECT_TRUE(contains(result.output, needle)) << "output lacks '" << needle << "':\n" << result.output;
  }
}

CommandResult synth(const std::string& arguments) { return run_parbench("data synth " + arguments); }

// Small violence data set, fast to write: N = 40, T = 6, D = 32.
std::string small_violence(const fs::path& out) {
  std::string args = "--workload violence --dim 32 --frames 6 --samples 40 --out ";
  args += quoted(out);
  return args;
}

json inspect_json(const fs::path& file) {
  const CommandResult result = run_parbench("data inspect --json " + quoted(file));
  EXPECT_EQ(result.status, 0) << result.output;
  try {
    return json::parse(result.output);
  } catch (const json::exception& error) {
    ADD_FAILURE() << "inspect --json printed no JSON (" << error.what() << "):\n" << result.output;
    return json::object();
  }
}

const json* find_dataset(const json& split, const std::string& name) {
  for (const auto& dataset : split.at("datasets")) {
    if (dataset.at("name") == name) return &dataset;
  }
  ADD_FAILURE() << "no dataset " << name << " in " << split.dump();
  return nullptr;
}

bool has_gzip(const json& dataset) {
  for (const auto& filter : dataset.at("filters")) {
    if (filter.get<std::string>().starts_with("gzip")) return true;
  }
  return false;
}

bool has_filter(const json& dataset, const std::string& name) {
  for (const auto& filter : dataset.at("filters")) {
    if (filter.get<std::string>() == name) return true;
  }
  return false;
}

// One dataset of an inspect report: shape, dtype, chunking of the same rank, shuffle + gzip.
void check_dataset(const json& split, const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::string& dtype) {
  SCOPED_TRACE(name);
  const json* dataset = find_dataset(split, name);
  if (dataset == nullptr) return;
  EXPECT_EQ(dataset->at("shape").get<std::vector<std::int64_t>>(), shape);
  EXPECT_EQ(dataset->at("dtype"), dtype);
  const auto chunk = dataset->at("chunk").get<std::vector<std::int64_t>>();
  ASSERT_EQ(chunk.size(), shape.size()) << dataset->dump();
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    EXPECT_GE(chunk[i], 1);
    EXPECT_LE(chunk[i], shape[i]);
  }
  EXPECT_TRUE(has_filter(*dataset, "shuffle")) << dataset->dump();
  EXPECT_TRUE(has_gzip(*dataset)) << dataset->dump();
}

// Class counts of every target add up to the split's samples.
void check_classes(const json& split, const std::string& target, std::size_t classes) {
  SCOPED_TRACE(target);
  ASSERT_TRUE(split.contains("classes")) << split.dump();
  const auto& entry = split.at("classes").at(target);
  const auto counts = entry.at("counts").get<std::vector<std::int64_t>>();
  EXPECT_EQ(counts.size(), classes);
  EXPECT_EQ(entry.at("names").size(), classes);
  std::int64_t total = 0;
  for (const auto count : counts) total += count;
  EXPECT_EQ(total, split.at("samples").get<std::int64_t>());
}

void check_violence_round_trip(const std::string& dtype) {
  TempDir dir;
  const fs::path out = dir / "violence.h5";
  const CommandResult made = synth(small_violence(out) + " --split train,val --seed 3 --dtype " + dtype);
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_TRUE(contains(made.output, "compression ratio")) << made.output;
  EXPECT_EQ(dir.files(), std::vector<std::string>{"violence.h5"});

  const json report = inspect_json(out);
  EXPECT_EQ(report.value("valid", false), true) << report.dump(2);
  ASSERT_TRUE(report.contains("splits")) << report.dump(2);
  const auto& splits = report.at("splits");
  ASSERT_EQ(splits.size(), 2u) << report.dump(2);
  const std::vector<std::pair<std::string, std::int64_t>> expected = {{"/train", 32}, {"/val", 8}};
  const std::string feature_dtype = dtype == "f16" ? "float16" : "float32";
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const auto& [group, samples] = expected[k];
    SCOPED_TRACE(group);
    const json& split = splits.at(k);
    EXPECT_EQ(split.at("group"), group);
    EXPECT_EQ(split.value("valid", false), true) << split.dump(2);
    EXPECT_EQ(split.value("samples", std::int64_t{-1}), samples);
    EXPECT_EQ(split.at("attributes").at("workload"), "violence");
    EXPECT_EQ(split.at("attributes").at("schema"), "parbench.dataset/1");
    check_dataset(split, "features", {samples, 6, 32}, feature_dtype);
    check_dataset(split, "labels", {samples}, "int32");
    EXPECT_GT(split.at("compression_ratio").get<double>(), 1.0);
    check_classes(split, "labels", 2);
  }

  const CommandResult text = run_parbench("data inspect " + quoted(out));
  EXPECT_EQ(text.status, 0) << text.output;
  EXPECT_TRUE(contains(text.output, "compression ratio")) << text.output;
  EXPECT_TRUE(contains(text.output, "/train")) << text.output;
  EXPECT_TRUE(contains(text.output, "/val")) << text.output;
}

// Writes a single-split violence file through the h5 layer, to produce files synth never writes.
void write_violence_file(const fs::path& path, h5::Dtype features_dtype,
                         const std::vector<std::int64_t>& features_shape, const std::vector<float>& features,
                         const std::vector<std::int32_t>& labels) {
  h5::File file = h5::create(path);
  h5::Group root = h5::open_group(file.get(), "/");
  data::write_split_attributes(root.get(), "violence", "test file");
  h5::Dataset f = h5::create_dataset(root.get(), "features", features_dtype, features_shape, {features_shape, 4});
  h5::write_rows(f.get(), H5T_NATIVE_FLOAT, 0, features_shape[0], features.data());
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  h5::Dataset l = h5::create_dataset(root.get(), "labels", h5::Dtype::i32, {n}, {{n}, 4});
  h5::write_rows(l.get(), H5T_NATIVE_INT32, 0, n, labels.data());
}

std::vector<float> ramp(std::size_t n) {
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 17) * 0.25f;
  return values;
}

std::vector<std::int32_t> alternating(std::size_t n) {
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>(i % 2);
  return labels;
}

constexpr std::int64_t kN = 10, kT = 4, kD = 8;

// ---------------------------------------------------------------------------------------------
// synth -> inspect

TEST(CliSynth, ViolenceFloat32RoundTrip) { check_violence_round_trip("f32"); }

TEST(CliSynth, ViolenceFloat16RoundTrip) { check_violence_round_trip("f16"); }

TEST(CliSynth, ShopliftingRoundTrip) {
  TempDir dir;
  const fs::path out = dir / "shop.h5";
  const CommandResult made = synth("--workload shoplifting --samples 50 --out " + quoted(out));
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_EQ(dir.files(), std::vector<std::string>{"shop.h5"});
  const json report = inspect_json(out);
  EXPECT_EQ(report.value("valid", false), true) << report.dump(2);
  ASSERT_EQ(report.at("splits").size(), 1u) << report.dump(2);
  const json& split = report.at("splits").at(0);
  EXPECT_EQ(split.at("group"), "/");
  EXPECT_EQ(split.value("valid", false), true) << split.dump(2);
  EXPECT_EQ(split.value("samples", std::int64_t{-1}), 50);
  EXPECT_EQ(split.at("attributes").at("workload"), "shoplifting");
  check_dataset(split, "visual", {50, 2048}, "float32");
  check_dataset(split, "pose", {50, 16, 34}, "float32");
  check_dataset(split, "labels", {50}, "int32");
  check_dataset(split, "action", {50}, "int32");
  EXPECT_GT(split.at("compression_ratio").get<double>(), 1.0);
  check_classes(split, "labels", 2);
  check_classes(split, "action", 14);

  const CommandResult text = run_parbench("data inspect " + quoted(out));
  EXPECT_EQ(text.status, 0) << text.output;
  EXPECT_TRUE(contains(text.output, "compression ratio")) << text.output;
}

TEST(CliSynth, CompressionZeroHasNoGzip) {
  TempDir dir;
  const fs::path out = dir / "raw.h5";
  const CommandResult made = synth(small_violence(out) + " --compression 0");
  ASSERT_EQ(made.status, 0) << made.output;
  const json report = inspect_json(out);
  EXPECT_EQ(report.value("valid", false), true) << report.dump(2);
  ASSERT_EQ(report.at("splits").size(), 1u);
  const json& split = report.at("splits").at(0);
  ASSERT_EQ(split.at("datasets").size(), 2u) << split.dump(2);
  for (const auto& dataset : split.at("datasets")) {
    EXPECT_FALSE(has_gzip(dataset)) << dataset.dump();
    EXPECT_FALSE(dataset.at("chunk").empty()) << dataset.dump();  // still chunked
  }
}

// Reads a whole dataset of a synth file as float (features) or int32 (labels).
template <typename T>
std::vector<T> read_dataset(const fs::path& path, const std::string& name, hid_t memory_type) {
  h5::File file = h5::open_read(path);
  h5::Dataset dataset = h5::open_dataset(file.get(), name);
  const auto shape = h5::shape(dataset.get());
  std::size_t n = 1;
  for (const auto d : shape) n *= static_cast<std::size_t>(d);
  std::vector<T> out(n);
  h5::read_rows(dataset.get(), memory_type, 0, shape.at(0), out.data());
  return out;
}

TEST(CliSynth, SameSeedSameDataDifferentSeedDifferentData) {
  TempDir dir;
  const fs::path a = dir / "a.h5", b = dir / "b.h5", c = dir / "c.h5";
  ASSERT_EQ(synth(small_violence(a) + " --seed 11").status, 0);
  ASSERT_EQ(synth(small_violence(b) + " --seed 11").status, 0);
  ASSERT_EQ(synth(small_violence(c) + " --seed 12").status, 0);
  const auto features_a = read_dataset<float>(a, "/features", H5T_NATIVE_FLOAT);
  const auto features_b = read_dataset<float>(b, "/features", H5T_NATIVE_FLOAT);
  const auto features_c = read_dataset<float>(c, "/features", H5T_NATIVE_FLOAT);
  ASSERT_EQ(features_a.size(), static_cast<std::size_t>(40 * 6 * 32));
  EXPECT_TRUE(features_a == features_b) << "same seed gave different features";
  EXPECT_EQ(read_dataset<std::int32_t>(a, "/labels", H5T_NATIVE_INT32),
            read_dataset<std::int32_t>(b, "/labels", H5T_NATIVE_INT32));
  ASSERT_EQ(features_c.size(), features_a.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < features_a.size(); ++i) differing += features_a[i] != features_c[i];
  EXPECT_GT(differing, features_a.size() / 4) << "a different seed changed only " << differing << " values";
}

// ---------------------------------------------------------------------------------------------
// synth errors

TEST(CliSynth, UnknownWorkloadListsTheValidNames) {
  TempDir dir;
  const fs::path out = dir / "out.h5";
  expect_failure(synth("--workload football --samples 10 --out " + quoted(out)),
                 {"football", "violence", "shoplifting"});
  EXPECT_TRUE(dir.files().empty());
}

TEST(CliSynth, OutputInMissingFolder) {
  TempDir dir;
  const fs::path out = dir / "missing" / "out.h5";
  expect_failure(synth(small_violence(out)), {out.string(), "does not exist"});
  EXPECT_TRUE(dir.files().empty());
}

TEST(CliSynth, ExistingOutputNeedsForce) {
  TempDir dir;
  const fs::path out = dir / "out.h5";
  write_text(out, "precious");
  expect_failure(synth(small_violence(out)), {out.string(), "exists", "--force"});
  EXPECT_EQ(read_text(out), "precious");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.h5"});

  const CommandResult forced = synth(small_violence(out) + " --force");
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.h5"});
  EXPECT_EQ(inspect_json(out).value("valid", false), true);
}

TEST(CliSynth, ZeroSamples) {
  TempDir dir;
  const fs::path out = dir / "out.h5";
  expect_failure(synth("--workload violence --samples 0 --out " + quoted(out)), {"--samples", "at least 1"});
  EXPECT_TRUE(dir.files().empty());
}

TEST(CliSynth, SplitLeftEmpty) {
  TempDir dir;
  const fs::path out = dir / "out.h5";
  expect_failure(
      synth(fmt::format("--workload violence --dim 8 --frames 2 --samples 1 --split train,val --out {}", quoted(out))),
      {"val", "empty"});
  EXPECT_TRUE(dir.files().empty());
}

// ---------------------------------------------------------------------------------------------
// inspect errors

TEST(CliInspect, MissingFile) {
  TempDir dir;
  const fs::path file = dir / "nothing.h5";
  expect_failure(run_parbench("data inspect " + quoted(file)), {file.string(), "no such file"});
}

TEST(CliInspect, TextFileIsNotHdf5) {
  TempDir dir;
  const fs::path file = dir / "notes.h5";
  write_text(file, "these are not the samples you are looking for\n");
  expect_failure(run_parbench("data inspect " + quoted(file)), {file.string(), "not an HDF5 file"});
}

TEST(CliInspect, TruncatedHdf5) {
  TempDir dir;
  const fs::path file = dir / "cut.h5";
  ASSERT_EQ(synth(small_violence(file)).status, 0);
  fs::resize_file(file, fs::file_size(file) / 2);
  const CommandResult result = run_parbench("data inspect " + quoted(file));
  expect_failure(result, {file.string()});
  EXPECT_TRUE(contains(result.output, "truncated") || contains(result.output, "corrupt")) << result.output;
}

TEST(CliInspect, FeaturesOfWrongRank) {
  TempDir dir;
  const fs::path file = dir / "rank.h5";
  write_violence_file(file, h5::Dtype::f32, {kN, kT * kD}, ramp(kN * kT * kD), alternating(kN));
  expect_failure(run_parbench("data inspect " + quoted(file)),
                 {file.string() + ":/features", "rank 2", "expected rank 3", "(N, T, D)"});
}

TEST(CliInspect, FeaturesOfWrongDtype) {
  TempDir dir;
  const fs::path file = dir / "dtype.h5";
  write_violence_file(file, h5::Dtype::i32, {kN, kT, kD}, ramp(kN * kT * kD), alternating(kN));
  expect_failure(run_parbench("data inspect " + quoted(file)),
                 {file.string() + ":/features", "int32", "expected float32 or float16"});
}

TEST(CliInspect, LabelsOutOfRange) {
  TempDir dir;
  const fs::path file = dir / "labels.h5";
  std::vector<std::int32_t> labels = alternating(kN);
  labels[3] = 5;
  write_violence_file(file, h5::Dtype::f32, {kN, kT, kD}, ramp(kN * kT * kD), labels);
  expect_failure(run_parbench("data inspect " + quoted(file)),
                 {file.string() + ":/labels", "label 5", "sample 3", "expected 0..1"});
}

TEST(CliInspect, NaNInFeaturesIsFoundByTheDefaultScan) {
  TempDir dir;
  const fs::path file = dir / "nan.h5";
  std::vector<float> features = ramp(kN * kT * kD);
  features[static_cast<std::size_t>(7 * kT * kD + 5)] = std::numeric_limits<float>::quiet_NaN();
  write_violence_file(file, h5::Dtype::f32, {kN, kT, kD}, features, alternating(kN));
  expect_failure(run_parbench("data inspect " + quoted(file)),
                 {file.string() + ":/features", "sample 7", "nan", "finite"});
  // Only the value scan finds it: the structure is fine.
  const CommandResult unscanned = run_parbench("data inspect --no-scan " + quoted(file));
  EXPECT_EQ(unscanned.status, 0) << unscanned.output;
}

// ---------------------------------------------------------------------------------------------
// import

TEST(CliImport, ViolenceRoundTrip) {
  TempDir in, out_dir;
  const fs::path features = in / "features.npy", labels = in / "labels.npy", out = out_dir / "imported.h5";
  const std::vector<float> values = ramp(kN * kT * kD);
  const std::vector<std::int64_t> label_values = {0, 1, 1, 0, 1, 0, 0, 0, 1, 1};
  data::npy::write(features, data::npy::DType::f32, {kN, kT, kD}, values.data());
  data::npy::write(labels, data::npy::DType::i64, {kN}, label_values.data());
  const CommandResult result =
      run_parbench(fmt::format("data import --workload violence --features {} --labels {} --out {}", quoted(features),
                               quoted(labels), quoted(out)));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(out_dir.files(), std::vector<std::string>{"imported.h5"});
  const json report = inspect_json(out);
  EXPECT_EQ(report.value("valid", false), true) << report.dump(2);
  ASSERT_EQ(report.at("splits").size(), 1u);
  const json& split = report.at("splits").at(0);
  check_dataset(split, "features", {kN, kT, kD}, "float32");
  EXPECT_EQ(split.at("classes").at("labels").at("counts").get<std::vector<std::int64_t>>(),
            (std::vector<std::int64_t>{5, 5}));
  EXPECT_EQ(read_dataset<float>(out, "/features", H5T_NATIVE_FLOAT), values);
}

TEST(CliImport, MismatchedSamplesLeaveNoOutput) {
  TempDir in, out_dir;
  const fs::path features = in / "features.npy", labels = in / "labels.npy", out = out_dir / "imported.h5";
  const std::vector<float> values = ramp(kN * kT * kD);
  const std::vector<std::int64_t> label_values(kN - 1, 0);
  data::npy::write(features, data::npy::DType::f32, {kN, kT, kD}, values.data());
  data::npy::write(labels, data::npy::DType::i64, {kN - 1}, label_values.data());
  expect_failure(run_parbench(fmt::format("data import --workload violence --features {} --labels {} --out {}",
                                          quoted(features), quoted(labels), quoted(out))),
                 {labels.string(), features.string(), "samples"});
  EXPECT_TRUE(out_dir.files().empty()) << ::testing::PrintToString(out_dir.files());
}

// The NaN sits in the last sample, past the first 16 MiB block, so the output file has been
// created and partly written when the import fails: it must still vanish with its temporary.
TEST(CliImport, NaNInLastBlockLeavesNoOutput) {
  constexpr std::int64_t n = 300, t = 4, d = 4096;
  TempDir in, out_dir;
  const fs::path features = in / "features.npy", labels = in / "labels.npy", out = out_dir / "imported.h5";
  {
    std::vector<float> values(static_cast<std::size_t>(n * t * d), 0.5f);
    values[static_cast<std::size_t>((n - 1) * t * d + 123)] = std::numeric_limits<float>::quiet_NaN();
    data::npy::write(features, data::npy::DType::f32, {n, t, d}, values.data());
  }
  const std::vector<std::int64_t> label_values(static_cast<std::size_t>(n), 1);
  data::npy::write(labels, data::npy::DType::i64, {n}, label_values.data());
  expect_failure(run_parbench(fmt::format("data import --workload violence --features {} --labels {} --out {}",
                                          quoted(features), quoted(labels), quoted(out))),
                 {features.string(), "sample 299", "nan"});
  EXPECT_TRUE(out_dir.files().empty()) << ::testing::PrintToString(out_dir.files());
}

// ---------------------------------------------------------------------------------------------
// context, version

TEST(CliContext, PrintsJson) {
  const CommandResult result = run_parbench("context");
  ASSERT_EQ(result.status, 0) << result.output;
  json context;
  ASSERT_NO_THROW(context = json::parse(result.output)) << result.output;
  ASSERT_TRUE(context.contains("git_commit")) << result.output;
  EXPECT_TRUE(context.at("git_commit").is_string());
  EXPECT_FALSE(context.at("git_commit").get<std::string>().empty());
  ASSERT_TRUE(context.contains("cpu")) << result.output;
  EXPECT_GE(context.at("cpu").value("logical_cpus", 0), 1);
  ASSERT_TRUE(context.contains("libraries") && context.at("libraries").contains("hdf5")) << result.output;
  const json& hdf5 = context.at("libraries").at("hdf5");
  ASSERT_TRUE(hdf5.is_string()) << result.output;
  EXPECT_TRUE(std::regex_search(hdf5.get<std::string>(), std::regex(R"(\b1\.\d+\.\d+)"))) << result.output;
}

TEST(CliVersion, ExitsZero) {
  const CommandResult result = run_parbench("--version");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "parbench")) << result.output;
}

TEST(CliUsage, NoSubcommandFails) {
  const CommandResult result = run_parbench("");
  EXPECT_NE(result.status, 0) << result.output;
}

// ---------------------------------------------------------------------------------------------
// train on data holding one NaN or Inf

// The loader checks every batch as it reads it: a bad value in the first batch stops the run before
// step 1, one in a later batch stops it when that batch is read (and a run too short to read it
// succeeds); the message names file, dataset and sample, never a NaN loss. --no-check-finite lets
// the value through to the model.
TEST(CliTrain, NonFiniteInputStopsTheRunWhenItsBatchIsRead) {
  struct Case {
    std::string workload, synth_args, dataset;
    float value;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"violence", "--dim 32 --frames 6", "features", std::numeric_limits<float>::infinity(), "inf"},
      {"shoplifting", "--frames 4", "pose", std::numeric_limits<float>::quiet_NaN(), "nan"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.workload);
    TempDir dir;
    const fs::path data = dir / "bad.h5";
    ASSERT_EQ(
        synth(fmt::format("--workload {} {} --samples 40 --out {}", c.workload, c.synth_args, quoted(data))).status, 0);
    // --no-shuffle: batch b holds samples 8b..8b+7, so sample 3 is read for step 1, sample 27 for step 4.
    const std::string train =
        fmt::format("train --workload {} --data {} --batch 8 --no-shuffle --quiet ", c.workload, quoted(data));
    auto expect_named = [&](const CommandResult& result, std::int64_t sample) {
      expect_failure(result,
                     {data.string() + ":/" + c.dataset + ": sample " + std::to_string(sample) + " holds " + c.text});
      EXPECT_FALSE(contains(result.output, "loss is") || contains(result.output, "gradient norm is")) << result.output;
    };
    test::poison_sample(data, "/" + c.dataset, 27, 11, c.value);
    EXPECT_EQ(run_parbench(train + "--steps 2").status, 0);
    expect_named(run_parbench(train + "--steps 5"), 27);
    expect_named(run_parbench(train + "--steps 5 --loader-threads 0"), 27);
    test::poison_sample(data, "/" + c.dataset, 3, 11, c.value);
    expect_named(run_parbench(train + "--steps 1"), 3);
    // Unchecked, the value reaches the model: the run trains, or stops on a non-finite loss or
    // gradient (what an unchecked NaN/Inf input did, hours into a run on real data).
    const CommandResult unchecked = run_parbench(train + "--steps 2 --no-check-finite");
    EXPECT_FALSE(contains(unchecked.output, " holds ")) << unchecked.output;
    EXPECT_TRUE(unchecked.status == 0 || contains(unchecked.output, "loss is") ||
                contains(unchecked.output, "gradient norm is"))
        << unchecked.output;
  }
}

// The validation split is read through the same check, and --no-check-finite turns it off there
// too (a NaN validation sample only spoils the validation figures: the run completes).
TEST(CliTrain, NonFiniteValidationSampleIsNamed) {
  TempDir dir;
  const fs::path data = dir / "split.h5";
  ASSERT_EQ(
      synth("--workload violence --dim 16 --frames 4 --samples 60 --split train,val --out " + quoted(data)).status, 0);
  test::poison_sample(data, "/val/features", 2, 0, std::numeric_limits<float>::quiet_NaN());
  const std::string train = "train --workload violence --batch 8 --quiet --epochs 1 --data " + quoted(data);
  expect_failure(run_parbench(train), {data.string() + ":/val/features: sample 2 holds nan"});
  const CommandResult unchecked = run_parbench(train + " --no-check-finite");
  EXPECT_EQ(unchecked.status, 0) << unchecked.output;
  EXPECT_FALSE(contains(unchecked.output, " holds ")) << unchecked.output;
}

// ---------------------------------------------------------------------------------------------
// numeric flags out of range: a usage error naming the flag and its range, before any work

// One bad value of one flag: `command` is run with every flag of `base` except `flag`, then
// `flag value`. Everything else is valid, so a run that ignores the bad value goes on and succeeds
// (or fails for another reason that does not name the flag and range).
struct BadFlag {
  std::string command;  // "train", "data synth", ...
  std::string flag, value;
  std::string range;  // what the message must say
};

TEST(CliUsage, NumericFlagsOutOfRangeNameTheFlagAndRange) {
  TempDir dir;
  const fs::path data = dir / "v.h5";
  ASSERT_EQ(synth(small_violence(data)).status, 0);
  const std::string at_least_1 = "an integer, at least 1", at_least_0 = "an integer, at least 0";
  const std::string positive = "a finite number > 0", non_negative = "a finite number >= 0";
  const std::string probability = "a number in [0, 1)";
  const std::vector<BadFlag> cases = {
      {"train", "--threads", "0", at_least_1},
      {"train", "--threads", "-2", at_least_1},
      {"train", "--workers", "0", at_least_1},
      {"train", "--batch", "0", at_least_1},
      {"train", "--batch", "-8", at_least_1},
      {"train", "--epochs", "0", at_least_1},
      {"train", "--steps", "0", at_least_1},
      {"train", "--steps", "-1", at_least_1},
      {"train", "--loader-threads", "-1", at_least_0},
      {"train", "--warmup-steps", "-2", at_least_0},
      {"train", "--seed", "-1", at_least_0},
      {"train", "--stage", "0", "an integer in [1, 3]"},
      {"train", "--stage", "4", "an integer in [1, 3]"},
      {"train", "--hybrid", "-1", at_least_0},
      {"train", "--lr", "nan", positive},
      {"train", "--lr", "inf", positive},
      {"train", "--lr", "-0.01", positive},
      {"train", "--adam-eps", "0", positive},
      {"train", "--bucket-mb", "nan", positive},
      {"train", "--clip", "nan", non_negative},
      {"train", "--clip", "-1", non_negative},
      {"train", "--dropout", "1", probability},
      {"train", "--dropout", "-0.1", probability},
      {"train", "--dropout", "nan", probability},
      {"train", "--label-smoothing", "1", probability},
      {"data synth", "--samples", "-5", at_least_1},
      {"data synth", "--frames", "0", at_least_1},
      {"data synth", "--dim", "0", at_least_1},
      {"data synth", "--chunk-samples", "0", at_least_1},
      {"data synth", "--compression", "10", "an integer in [0, 9]"},
      {"data synth", "--balance", "nan", "a number in [0, 1]"},
      {"data synth", "--balance", "1.5", "a number in [0, 1]"},
      {"data synth", "--seed", "-1", at_least_0},
      {"data import", "--chunk-samples", "0", at_least_1},
      {"data import", "--compression", "-1", "an integer in [0, 9]"},
      {"describe", "--batch", "0", at_least_1},
      {"describe", "--workers", "0", at_least_1},
      {"describe", "--frames", "0", at_least_1},
      {"describe", "--dim", "-1", at_least_1},
      {"sweep", "--workers", "0", "an integer in [1, 256]"},
      {"sweep", "--repetitions", "0", at_least_1},
      {"sweep", "--min-time", "nan", positive},
      {"sweep", "--max-mib", "0", at_least_1},
      {"sweep", "--timeout", "0", positive},
      {"sweep", "--timeout", "nan", positive},
      {"sweep", "--only", "-2", at_least_0},
      {"compare", "--threshold", "nan", non_negative},
      {"compare", "--threshold", "-5", non_negative},
      {"compare", "--alpha", "0", "a number in (0, 1)"},
      {"compare", "--alpha", "1.5", "a number in (0, 1)"},
  };
  // Valid values for everything else (sweep --plan only prints the plan).
  const std::string json_file = quoted(dir / "none.json");
  const std::map<std::string, std::vector<std::pair<std::string, std::string>>> base = {
      {"train",
       {{"--workload", "violence"}, {"--data", quoted(data)}, {"--steps", "1"}, {"--batch", "8"}, {"--quiet", ""}}},
      {"data synth", {{"--workload", "violence"}, {"--samples", "4"}, {"--dim", "4"}, {"--frames", "2"}}},
      {"data import", {{"--workload", "violence"}, {"--features", quoted(dir / "f.npy")}}},
      {"describe", {{"--workload", "violence"}}},
      {"sweep", {{"--plan", ""}, {"--workloads", "violence"}, {"--strategies", "serial"}, {"--workers", "1"}}},
      {"compare", {{"", json_file + " " + json_file}}},
  };
  int out = 0;
  for (const BadFlag& c : cases) {
    SCOPED_TRACE(fmt::format("parbench {} {} {}", c.command, c.flag, c.value));
    std::string args = c.command;
    for (const auto& [flag, value] : base.at(c.command)) {
      if (flag != c.flag) args += fmt::format(" {} {}", flag, value);
    }
    // Every writing command gets an output of its own, which must not appear.
    const fs::path output = dir / fmt::format("out{}.h5", out++);
    if (c.command.starts_with("data")) args += " --out " + quoted(output);
    args += " " + c.flag + " " + c.value;
    const CommandResult result = run_parbench(args);
    EXPECT_NE(result.status, 0) << result.output;
    EXPECT_TRUE(contains(result.output, c.flag + ": value " + c.value + " is not valid: must be " + c.range))
        << result.output;
    EXPECT_FALSE(fs::exists(output));
  }
}

}  // namespace
