// Loader throughput: samples/s of one rank reading whole epochs of a violence-shaped split
// (T=20, D=4096) for K = 0, 1, 2, 4, 8 loader threads, gzip on and off, float32 and float16 on
// disk. The files are written once into a temporary folder and are in the page cache, so this
// measures HDF5 + decompression + conversion, not the disk. The NaN/Inf check every batch gets is
// timed alone (finite_check/...) and as the difference of threads:0 with and without it (check:off).
//   bench_loader [--samples N] [--batch B] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "bench/common.h"
#include "data/h5.h"
#include "data/loader.h"
#include "data/schema.h"
#include "data/synth.h"

namespace {

namespace fs = std::filesystem;
using namespace parbench;

std::int64_t g_samples = 256;
std::int64_t g_batch = 32;
fs::path g_folder;

// One file per (gzip, dtype), written on first use.
const fs::path& dataset(bool gzip, h5::Dtype dtype) {
  static std::map<std::pair<bool, h5::Dtype>, fs::path> files;
  auto& path = files[{gzip, dtype}];
  if (path.empty()) {
    path = g_folder / fmt::format("violence_{}_{}.h5", gzip ? "gzip" : "raw", h5::dtype_name(dtype));
    data::synthesize(
        {.workload = "violence", .samples = g_samples, .seed = 1, .dtype = dtype, .gzip_level = gzip ? 4 : 0}, path);
  }
  return path;
}

void BM_LoaderEpoch(benchmark::State& state, int threads, bool gzip, h5::Dtype dtype, bool check_finite) {
  const fs::path& path = dataset(gzip, dtype);
  data::Loader loader(path, {.batch = g_batch, .seed = 3, .threads = threads, .check_finite = check_finite});
  const h5::Layout layout = [&] {
    h5::File file = h5::open_read(path);
    h5::Dataset features = h5::open_dataset(file.get(), "/features");
    return h5::layout(features.get());
  }();
  std::int64_t epoch = 0, samples = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) {
      samples += batch->size();
      benchmark::DoNotOptimize(batch->inputs.at("features").values.data());
    }
  }
  const double sample_bytes = static_cast<double>(layout.logical_bytes) / static_cast<double>(g_samples);
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  // Uncompressed bytes in the stored dtype (a float16 sample counts half of a float32 one); the
  // float32 the loader hands out is twice that for float16 files.
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(samples) * sample_bytes / 1e6, benchmark::Counter::kIsRate);
  state.counters["compression_ratio"] =
      static_cast<double>(layout.logical_bytes) / static_cast<double>(layout.stored_bytes);
  state.counters["wait_ms_per_batch"] =
      static_cast<double>(loader.wait_ns()) / 1e6 / static_cast<double>(std::max<std::int64_t>(1, samples / g_batch));
  // Batches per second: with threads:0 its inverse is the time to read one batch on one thread,
  // what finite_check's time per batch is a fraction of.
  state.counters["batches_per_s"] =
      benchmark::Counter(static_cast<double>(samples) / static_cast<double>(g_batch), benchmark::Counter::kIsRate);
}

// The NaN/Inf check the loader runs on every batch it reads (LoaderOptions::check_finite), alone:
// one batch of B samples of (T, D) floats per iteration, so the time per iteration is its cost per
// batch. Compare with 1 / batches_per_s of loader/.../threads:0, or with the check:off variants.
void BM_FiniteCheck(benchmark::State& state) {
  const std::int64_t row = std::int64_t{20} * 4096;  // the violence sample of these files (T=20, D=4096)
  std::vector<float> batch(static_cast<std::size_t>(g_batch * row));
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = static_cast<float>(i % 1000) * 1e-3f - 0.5f;
  for (auto _ : state) {
    data::check_finite(batch.data(), g_batch, row, 0, "bench");
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(batch.size() * sizeof(float));
  state.counters["GB_per_s"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void register_benchmarks() {
  for (const h5::Dtype dtype : {h5::Dtype::f32, h5::Dtype::f16}) {
    for (const bool gzip : {true, false}) {
      for (const int threads : {0, 1, 2, 4, 8}) {
        const std::string name =
            fmt::format("loader/violence/dtype:{}/gzip:{}/threads:{}/batch:{}", dtype == h5::Dtype::f16 ? "f16" : "f32",
                        gzip ? "on" : "off", threads, g_batch);
        benchmark::RegisterBenchmark(name.c_str(), BM_LoaderEpoch, threads, gzip, dtype, true)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        // The same read without the NaN/Inf check, on one thread where the difference is its cost.
        if (threads == 0) {
          benchmark::RegisterBenchmark((name + "/check:off").c_str(), BM_LoaderEpoch, threads, gzip, dtype, false)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
  }
  benchmark::RegisterBenchmark(fmt::format("finite_check/violence/batch:{}", g_batch).c_str(), BM_FiniteCheck)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  g_samples = bench::take_int_flag(argc, argv, "samples", g_samples, 1);
  g_batch = bench::take_int_flag(argc, argv, "batch", g_batch, 1, g_samples);
  g_folder = fs::temp_directory_path() / fmt::format("parbench_bench_loader_{}", ::getpid());
  fs::create_directories(g_folder);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::add_run_context();
  benchmark::AddCustomContext("samples", std::to_string(g_samples));
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove_all(g_folder);
  return 0;
}
