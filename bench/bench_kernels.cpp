// Kernel throughput of a backend (--backend, default cpu) at the workloads' real shapes: every GEMM
// the violence and shoplifting models issue at batch 64 (shoplifting 256), the bidirectional LSTM
// layers forward and backward, and attention, at 1 and 2 threads on the CPU. Each reports GFLOP/s
// and the share of the GEMM peak this binary measures at startup (one core's sgemm on the CPU, the
// device's 4096^3 SGEMM on a GPU), so "how far from the machine" is read off directly.
//   bench_kernels [--backend=cpu|cuda|cuda_emulated] [--peak_reps=N] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/common.h"
#include "core/context.h"
#include "core/rng.h"
#include "kernels/backend.h"
#include "kernels/buffer.h"
#include "kernels/cpu/blas.h"
#include "models/layer.h"

namespace {

using Clock = std::chrono::steady_clock;

using namespace parbench;
using kernels::Backend;
using kernels::Buffer;
using kernels::Trans;

// Shapes of the violence model (design.md §2) at its default batch, and of shoplifting.
constexpr int kT = 20, kI1 = 4096, kH = 128, kWidth = 2 * kH, kAttention = 128;

bench::HarnessBackend g_backend;  // from --backend, made in main()
double g_peak_gflops = 0;         // the GEMM peak measured in main() (bench/common.h)

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Only after g_backend.or_skip() found it made.
Backend& backend() { return *g_backend.backend; }

// Every timed iteration ends here. A GPU backend's ops return once queued: waiting for them before
// the clock stops (as torch.utils.benchmark.Timer does) makes an iteration's time include its
// device work, at the price of one launch latency per iteration. A no-op on the CPU.
void end_iteration() {
  backend().synchronize();
  benchmark::ClobberMemory();
}

// Threads per benchmark: the CPU's intra-op threads; a GPU's parallelism is its own (set_threads
// changes nothing there, kernels/cuda/cuda_backend.cpp), so other backends run once, at 1.
std::vector<int> thread_counts() { return g_backend.name == "cpu" ? std::vector<int>{1, 2} : std::vector<int>{1}; }

// Small integers in [-2, 2]: every GEMM below then has an exact fp32 result (|sum| <= 4 k < 2^24),
// which the benchmark checks before timing.
float small_int(std::uint64_t stream, std::size_t i) {
  return static_cast<float>(static_cast<int>(rng::hash(11, stream, i) % 5) - 2);
}
// Activations and weights of a realistic magnitude for the LSTM and attention kernels.
void fill_normal(float* x, std::size_t n, std::uint64_t stream, float scale) {
  for (std::size_t i = 0; i < n; ++i) x[i] = scale * rng::normal(rng::hash(13, stream, i));
}

// A backend buffer of n values scale * N(0, 1), drawn from `stream`.
Buffer normal_buffer(Backend& be, std::size_t n, std::uint64_t stream, float scale) {
  Buffer buffer(be, n);
  std::vector<float> host(n);
  fill_normal(host.data(), n, stream, scale);
  be.upload(buffer.data(), host.data(), n);
  return buffer;
}

// ---- GEMM --------------------------------------------------------------------------------------

// One Backend::gemm call as a model issues it: c (m, n) = op(a) op(b) + beta c. Leading dimensions
// 0 mean packed; the LSTM's per-step GEMMs read and write (B, width) blocks of (B, T, width) tensors,
// so their row strides are T times the width (kernels/cpu/lstm.cpp).
struct GemmCase {
  std::string name;
  int m, n, k;
  Trans ta, tb;
  float beta;
  int lda = 0, ldb = 0, ldc = 0;
};

std::vector<GemmCase> gemm_cases() {
  const Trans N = Trans::no, Y = Trans::yes;
  std::vector<GemmCase> cases = {
      // gates (B*T, 8H) = x (B*T, 4096) w_ih^T, both directions at once
      {"lstm1_input_projection", 64 * kT, 8 * kH, kI1, N, Y, 0.0f},
      // dw_ih (8H, 4096) += dgates^T (8H, B*T) x (B*T, 4096)
      {"lstm1_weight_gradient", 8 * kH, kI1, 64 * kT, Y, N, 1.0f},
      // layers 2 and 3: gates (B*T, 8H) = x (B*T, 2H) w_ih^T
      {"lstm23_input_projection", 64 * kT, 8 * kH, kWidth, N, Y, 0.0f},
  };
  for (const int b : {64, 32}) {
    // z (B, 4H) += h_prev (B, H) w_hh^T, one step of one direction
    cases.push_back({"lstm_recurrence_forward", b, 4 * kH, kH, N, Y, 1.0f, kT * kWidth, kH, kT * 8 * kH});
    // dh_rec (B, H) = dz (B, 4H) w_hh (4H, H), one step of one direction
    cases.push_back({"lstm_recurrence_backward", b, kH, 4 * kH, N, N, 0.0f, kT * 8 * kH, kH, kH});
  }
  cases.push_back({"violence_dense", 64, 256, 256, N, Y, 0.0f});         // fc1 (B, 256) x (256, 256)^T
  cases.push_back({"shoplifting_visual", 256, 512, 2048, N, Y, 0.0f});   // visual Dense 2048 -> 512
  cases.push_back({"shoplifting_pose", 256, 256, 16 * 34, N, Y, 0.0f});  // pose Dense 544 -> 256
  cases.push_back({"shoplifting_trunk", 256, 256, 768, N, Y, 0.0f});     // trunk Dense 768 -> 256
  cases.push_back({"square", 2048, 2048, 2048, N, N, 0.0f});
  return cases;
}

// Host copies of small-integer operands, for the exact check.
struct GemmOperands {
  int lda = 0, ldb = 0, ldc = 0;
  std::vector<float> a, b;  // as stored
  Buffer da, db, dc;        // on the backend
};

GemmOperands make_operands(const GemmCase& g) {
  GemmOperands o;
  const int a_rows = g.ta == Trans::no ? g.m : g.k, a_cols = g.ta == Trans::no ? g.k : g.m;
  const int b_rows = g.tb == Trans::no ? g.k : g.n, b_cols = g.tb == Trans::no ? g.n : g.k;
  o.lda = g.lda ? g.lda : a_cols;
  o.ldb = g.ldb ? g.ldb : b_cols;
  o.ldc = g.ldc ? g.ldc : g.n;
  o.a.resize(static_cast<std::size_t>(a_rows) * o.lda);
  o.b.resize(static_cast<std::size_t>(b_rows) * o.ldb);
  for (std::size_t i = 0; i < o.a.size(); ++i) o.a[i] = small_int(1, i);
  for (std::size_t i = 0; i < o.b.size(); ++i) o.b[i] = small_int(2, i);
  Backend& be = backend();
  o.da = Buffer(be, o.a.size());
  o.db = Buffer(be, o.b.size());
  o.dc = Buffer(be, static_cast<std::size_t>(g.m) * o.ldc);
  be.upload(o.da.data(), o.a.data(), o.a.size());
  be.upload(o.db.data(), o.b.data(), o.b.size());
  return o;
}

void run_gemm(const GemmCase& g, GemmOperands& o, float beta) {
  backend().gemm(o.dc.data(), o.ldc, o.da.data(), o.lda, o.db.data(), o.ldb, g.m, g.n, g.k, g.ta, g.tb, 1.0f, beta);
}

// c = op(a) op(b) once with beta 0, compared exactly with an integer dot product at 64 entries.
// Returns an empty string when correct.
std::string check_gemm(const GemmCase& g, GemmOperands& o) {
  run_gemm(g, o, 0.0f);
  std::vector<float> c(o.dc.size());
  backend().download(c.data(), o.dc.data(), c.size());
  for (std::uint64_t probe = 0; probe < 64; ++probe) {
    const int i = static_cast<int>(rng::hash(17, 0, probe) % static_cast<std::uint64_t>(g.m));
    const int j = static_cast<int>(rng::hash(17, 1, probe) % static_cast<std::uint64_t>(g.n));
    std::int64_t expected = 0;
    for (int p = 0; p < g.k; ++p) {
      const float a = g.ta == Trans::no ? o.a[static_cast<std::size_t>(i) * o.lda + p]
                                        : o.a[static_cast<std::size_t>(p) * o.lda + i];
      const float b = g.tb == Trans::no ? o.b[static_cast<std::size_t>(p) * o.ldb + j]
                                        : o.b[static_cast<std::size_t>(j) * o.ldb + p];
      expected += static_cast<std::int64_t>(a) * static_cast<std::int64_t>(b);
    }
    const float got = c[static_cast<std::size_t>(i) * o.ldc + j];
    if (got != static_cast<float>(expected)) {
      return fmt::format("c[{}, {}] = {}, expected {} (exact)", i, j, got, expected);
    }
  }
  return {};
}

void BM_Gemm(benchmark::State& state, const GemmCase& g, int threads) {
  if (!g_backend.or_skip(state)) return;
  backend().set_threads(threads);
  GemmOperands o = make_operands(g);
  if (const std::string error = check_gemm(g, o); !error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto start = Clock::now();
  for (auto _ : state) {
    run_gemm(g, o, g.beta);
    benchmark::DoNotOptimize(o.dc.data());
    end_iteration();
  }
  bench::set_flop_counters(state, 2.0 * g.m * g.n * g.k, seconds_since(start), g_peak_gflops);
}

// ---- LSTM layer --------------------------------------------------------------------------------

// One bidirectional LSTM layer's tensors on the backend (shapes: kernels/backend.h).
struct LstmTensors {
  kernels::LstmShape shape;
  Buffer x, y, dy, dx, w_ih, w_hh, b_ih, b_hh, dw_ih, dw_hh, db_ih, db_hh, reserve, workspace;

  explicit LstmTensors(const kernels::LstmShape& s) : shape(s) {
    Backend& be = backend();
    const auto rows = static_cast<std::size_t>(s.batch) * s.steps, g = 8 * static_cast<std::size_t>(s.hidden);
    auto make = [&](std::size_t n, std::uint64_t stream, float scale) { return normal_buffer(be, n, stream, scale); };
    // Weights like PyTorch's U(+-1/sqrt(H)) in magnitude; inputs and upstream gradients O(1).
    const float w = 1.0f / std::sqrt(static_cast<float>(s.hidden));
    x = make(rows * s.input, 1, 1.0f);
    dy = make(rows * 2 * s.hidden, 2, 1.0f);
    w_ih = make(g * s.input, 3, w);
    w_hh = make(g * s.hidden, 4, w);
    b_ih = make(g, 5, w);
    b_hh = make(g, 6, w);
    y = Buffer(be, rows * 2 * s.hidden);
    dx = Buffer(be, rows * s.input);
    dw_ih = Buffer(be, g * s.input);
    dw_hh = Buffer(be, g * s.hidden);
    db_ih = Buffer(be, g);
    db_hh = Buffer(be, g);
    for (Buffer* b : {&dx, &dw_ih, &dw_hh, &db_ih, &db_hh}) be.fill(b->data(), 0.0f, b->size());
    reserve = Buffer(be, be.lstm_reserve_size(s));
    workspace = Buffer(be, be.lstm_workspace_size(s));
  }
  void forward() {
    backend().lstm_forward(y.data(), reserve.data(), workspace.data(), x.data(), w_ih.data(), w_hh.data(), b_ih.data(),
                           b_hh.data(), shape);
  }
  void backward(bool with_dx) {
    backend().lstm_backward(with_dx ? dx.data() : nullptr, dw_ih.data(), dw_hh.data(), db_ih.data(), db_hh.data(),
                            workspace.data(), dy.data(), x.data(), y.data(), reserve.data(), w_ih.data(), w_hh.data(),
                            shape);
  }
};

bool all_finite(const Buffer& b) {
  std::vector<float> host(b.size());
  backend().download(host.data(), b.data(), host.size());
  return std::all_of(host.begin(), host.end(), [](float v) { return std::isfinite(v); });
}

// FLOPs per call from the model's own layer cost (models/layers.cpp), so the rate and the model's
// training_flops() count the same work.
double lstm_flops(const kernels::LstmShape& s, bool backward, bool with_dx) {
  const models::LayerCost cost = models::bilstm("lstm", s.steps, s.input, s.hidden)->cost();
  const double per_sample =
      backward ? cost.backward_flops - (with_dx ? 0.0 : cost.input_gradient_flops) : cost.forward_flops;
  return per_sample * s.batch;
}

void BM_LstmForward(benchmark::State& state, kernels::LstmShape shape, int threads) {
  if (!g_backend.or_skip(state)) return;
  backend().set_threads(threads);
  LstmTensors t(shape);
  backend().synchronize();  // the gradient fills are queued on a GPU: not part of the first iteration
  const auto start = Clock::now();
  for (auto _ : state) {
    t.forward();
    end_iteration();
  }
  const double seconds = seconds_since(start);
  if (!all_finite(t.y)) state.SkipWithError("LSTM forward produced non-finite outputs");
  bench::set_flop_counters(state, lstm_flops(shape, false, false), seconds, g_peak_gflops);
}

// Backward from one forward (backward reads only the forward's outputs; gradients accumulate).
void BM_LstmBackward(benchmark::State& state, kernels::LstmShape shape, bool with_dx, int threads) {
  if (!g_backend.or_skip(state)) return;
  backend().set_threads(threads);
  LstmTensors t(shape);
  t.forward();
  backend().synchronize();
  const auto start = Clock::now();
  for (auto _ : state) {
    t.backward(with_dx);
    end_iteration();
  }
  const double seconds = seconds_since(start);
  if (!all_finite(t.dw_ih)) state.SkipWithError("LSTM backward produced non-finite gradients");
  bench::set_flop_counters(state, lstm_flops(shape, true, with_dx), seconds, g_peak_gflops);
}

// ---- attention ---------------------------------------------------------------------------------

void BM_Attention(benchmark::State& state, kernels::AttentionShape s, int threads) {
  if (!g_backend.or_skip(state)) return;
  Backend& be = backend();
  be.set_threads(threads);
  const auto rows = static_cast<std::size_t>(s.batch) * s.steps;
  auto make = [&](std::size_t n, std::uint64_t stream, float scale) { return normal_buffer(be, n, stream, scale); };
  const float w_scale = 1.0f / std::sqrt(static_cast<float>(s.features));
  // h (B, T, D), w (A, D), b (A), v (A), dcontext (B, D)
  Buffer h = make(rows * s.features, 1, 1.0f), w = make(static_cast<std::size_t>(s.attention) * s.features, 2, w_scale),
         b = make(s.attention, 3, w_scale), v = make(s.attention, 4, w_scale),
         dcontext = make(static_cast<std::size_t>(s.batch) * s.features, 5, 1.0f);
  Buffer context(be, static_cast<std::size_t>(s.batch) * s.features), alpha(be, rows), u(be, rows * s.attention),
      dh(be, rows * s.features), dw(be, w.size()), db(be, b.size()), dv(be, v.size()),
      workspace(be, be.attention_workspace_size(s));
  for (Buffer* g : {&dh, &dw, &db, &dv}) be.fill(g->data(), 0.0f, g->size());
  be.synchronize();
  const auto start = Clock::now();
  for (auto _ : state) {
    be.attention_forward(context.data(), alpha.data(), u.data(), h.data(), w.data(), b.data(), v.data(), s);
    be.attention_backward(dh.data(), dw.data(), db.data(), dv.data(), workspace.data(), dcontext.data(), h.data(),
                          alpha.data(), u.data(), w.data(), v.data(), s);
    end_iteration();
  }
  const double seconds = seconds_since(start);
  if (!all_finite(context) || !all_finite(dh)) state.SkipWithError("attention produced non-finite values");
  const models::LayerCost cost = models::attention("attn", s.steps, s.features, s.attention)->cost();
  bench::set_flop_counters(state, (cost.forward_flops + cost.backward_flops) * s.batch, seconds, g_peak_gflops);
}

// ---- registration and the peak -----------------------------------------------------------------

// Wall time (UseRealTime) for every rate; the CPU column is the whole process's CPU time, so
// CPU / real near `threads` means no other process took a core during the run (the machines are
// shared: rows well below that are contended).
void register_benchmarks() {
  for (const GemmCase& g : gemm_cases()) {
    for (const int threads : thread_counts()) {
      const std::string name = fmt::format("gemm/{}/m:{}/n:{}/k:{}/threads:{}", g.name, g.m, g.n, g.k, threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_Gemm, g, threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime()
          ->MeasureProcessCPUTime();
    }
  }
  // Violence layer 1 (I = 4096, the model input: no dx) and layer 2 (I = 2H, with dx; layer 3 is alike).
  struct LstmLayer {
    const char* name;
    int input;
    bool with_dx;
  };
  for (const LstmLayer layer : {LstmLayer{"lstm1", kI1, false}, LstmLayer{"lstm2", kWidth, true}}) {
    for (const int batch : {32, 64}) {
      for (const int threads : thread_counts()) {
        const kernels::LstmShape shape{batch, kT, layer.input, kH};
        const std::string axes = fmt::format("batch:{}/t:{}/i:{}/h:{}/threads:{}", batch, kT, layer.input, kH, threads);
        benchmark::RegisterBenchmark(fmt::format("lstm/{}/forward/{}", layer.name, axes).c_str(), BM_LstmForward, shape,
                                     threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MeasureProcessCPUTime();
        benchmark::RegisterBenchmark(
            fmt::format("lstm/{}/backward/dx:{}/{}", layer.name, layer.with_dx ? "yes" : "no", axes).c_str(),
            BM_LstmBackward, shape, layer.with_dx, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MeasureProcessCPUTime();
      }
    }
  }
  for (const int threads : thread_counts()) {
    const kernels::AttentionShape shape{64, kT, kWidth, kAttention};
    const std::string name = fmt::format("attention/attn/forward_backward/batch:{}/t:{}/d:{}/a:{}/threads:{}",
                                         shape.batch, shape.steps, shape.features, shape.attention, threads);
    benchmark::RegisterBenchmark(name.c_str(), BM_Attention, shape, threads)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_with_gemm_peak(argc, argv, g_backend, g_peak_gflops, register_benchmarks);
}
