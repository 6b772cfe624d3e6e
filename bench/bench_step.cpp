// Whole training steps (forward, backward, clipping, Adam) of each workload through the `serial`
// strategy on synthetic in-memory batches (staged on a GPU backend's device before timing), so the
// numbers are compute only (no HDF5, no loader, no host-to-device copy), plus a per-op time
// breakdown of one violence step: where a step's time goes, next to the GEMM peak this binary
// measures at startup (one core's sgemm on the CPU, the device's SGEMM on a GPU).
//   bench_step [--backend=cpu|cuda|cuda_emulated] [--peak_reps=N] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "bench/common.h"
#include "bench/synthetic_batch.h"
#include "core/context.h"
#include "core/error.h"
#include "core/rng.h"
#include "kernels/backend.h"
#include "kernels/buffer.h"
#include "kernels/cpu/blas.h"
#include "models/model.h"
#include "models/optimizer.h"
#include "strategies/strategy.h"

namespace {

using namespace parbench;
using kernels::Backend;
using Clock = std::chrono::steady_clock;

bench::HarnessBackend g_backend;  // from --backend, made in main()
double g_peak_gflops = 0;         // the GEMM peak measured in main() (bench/common.h)

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

strategies::StrategyOptions step_options(const std::string& workload, int threads, int batch) {
  strategies::StrategyOptions options{.workload = workload,
                                      .backend = g_backend.name,
                                      .threads = threads,
                                      .loss = {.spec = models::default_loss(workload)},
                                      .seed = 1,
                                      .max_batch = batch};
  // A constant learning rate: the default cosine over total_steps = 1 would drop to min_lr at once.
  options.optimizer.schedule = "constant";
  return options;
}

// ---- the serial step ---------------------------------------------------------------------------

void BM_SerialStep(benchmark::State& state, const std::string& workload, int threads, int batch) {
  if (!g_backend.or_skip(state)) return;
  // The strategy makes its own backend of the same name (strategies/serial.cpp).
  std::unique_ptr<strategies::Strategy> strategy;
  try {
    strategy = strategies::make_strategy("serial", step_options(workload, threads, batch));
  } catch (const Error& error) {
    state.SkipWithError(error.what());
    return;
  }
  const bench::SyntheticBatch data(strategy->model(), batch);
  // Staged once: the strategy's own staging (strategies/replica.cpp) then passes it through, so no
  // step copies the batch to the device.
  const models::BatchView view = strategy->model().stage(data.view(), batch);
  std::int64_t step = 0;
  strategy->step(view, batch, step++);  // first touch of activations and Adam state, outside the timing
  double step_seconds = 0, compute = 0, optimizer = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    const strategies::StepResult result = strategy->step(view, batch, step++);
    strategy->backend().synchronize();  // a GPU step's last kernels may still be queued
    step_seconds += seconds_since(start);
    compute += result.times.compute;
    optimizer += result.times.optimizer;
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["samples_per_s"] = benchmark::Counter(iterations * batch, benchmark::Counter::kIsRate);
  bench::set_flop_counters(state, strategy->model().training_flops() * batch, step_seconds, g_peak_gflops);
  state.counters["step_ms"] = benchmark::Counter(1e3 * step_seconds, benchmark::Counter::kAvgIterations);
  state.counters["compute_ms"] = benchmark::Counter(1e3 * compute, benchmark::Counter::kAvgIterations);
  state.counters["optimizer_ms"] = benchmark::Counter(1e3 * optimizer, benchmark::Counter::kAvgIterations);
}

// ---- per-op breakdown --------------------------------------------------------------------------

// A Backend that forwards every op to another and adds its wall time to a per-op total. The CPU
// backend is synchronous, so an op's time is the time of its call. A GPU backend's ops return once
// queued, so there every op is followed by synchronize(): that serialises the host and the device
// (no launch overlaps the previous kernel), which makes each op's time its own but the breakdown's
// step longer than the plain step's. LSTM ops are keyed by their input size (violence: i4096 =
// layer 1, i256 = layers 2 and 3 together); Backend::gemm is only called by the dense layers (the
// LSTM and attention call BLAS inside their own ops).
class TimedBackend final : public Backend {
 public:
  explicit TimedBackend(Backend& inner) : inner_(&inner), synchronous_(inner.host_memory()) {}
  std::map<std::string, double>& seconds() { return seconds_; }

  std::string_view name() const override { return inner_->name(); }
  bool supports(kernels::Precision p) const override { return inner_->supports(p); }
  std::string describe() const override { return inner_->describe(); }
  bool host_memory() const override { return inner_->host_memory(); }
  std::size_t device_peak_bytes() const override { return inner_->device_peak_bytes(); }
  float* alloc(std::size_t count) override { return inner_->alloc(count); }
  void free(float* pointer) noexcept override { inner_->free(pointer); }
  void upload(float* d, const float* h, std::size_t n) override {
    timed("copy", [&] { inner_->upload(d, h, n); });
  }
  void upload_targets(std::int32_t* d, const std::int32_t* h, std::size_t n) override {
    timed("copy", [&] { inner_->upload_targets(d, h, n); });
  }
  void download(float* h, const float* d, std::size_t n) override {
    timed("copy", [&] { inner_->download(h, d, n); });
  }
  void copy(float* d, const float* s, std::size_t n) override {
    timed("copy", [&] { inner_->copy(d, s, n); });
  }
  void copy_2d(float* d, int ldd, const float* s, int lds, int rows, int cols) override {
    timed("copy", [&] { inner_->copy_2d(d, ldd, s, lds, rows, cols); });
  }
  void synchronize() override { inner_->synchronize(); }
  void set_threads(int threads) override { inner_->set_threads(threads); }
  int threads() const override { return inner_->threads(); }

  void gemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, kernels::Trans ta,
            kernels::Trans tb, float alpha, float beta) override {
    timed("gemm", [&] { inner_->gemm(c, ldc, a, lda, b, ldb, m, n, k, ta, tb, alpha, beta); });
  }
  void add_bias(float* y, const float* bias, int m, int n) override {
    timed("bias", [&] { inner_->add_bias(y, bias, m, n); });
  }
  void bias_backward(float* dbias, const float* dy, int m, int n) override {
    timed("bias", [&] { inner_->bias_backward(dbias, dy, m, n); });
  }
  void fill(float* x, float value, std::size_t n) override {
    timed("fill", [&] { inner_->fill(x, value, n); });
  }
  void scale(float* x, float alpha, std::size_t n) override {
    timed("clip", [&] { inner_->scale(x, alpha, n); });
  }
  void axpy(float* y, float alpha, const float* x, std::size_t n) override {
    timed("axpy", [&] { inner_->axpy(y, alpha, x, n); });
  }
  double sum_squares(const float* x, std::size_t n) override {
    return timed("clip", [&] { return inner_->sum_squares(x, n); });
  }

  void relu_forward(float* y, const float* x, std::size_t n) override {
    timed("activation", [&] { inner_->relu_forward(y, x, n); });
  }
  void relu_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    timed("activation", [&] { inner_->relu_backward(dx, dy, y, n); });
  }
  void tanh_forward(float* y, const float* x, std::size_t n) override {
    timed("activation", [&] { inner_->tanh_forward(y, x, n); });
  }
  void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    timed("activation", [&] { inner_->tanh_backward(dx, dy, y, n); });
  }
  void sigmoid_forward(float* y, const float* x, std::size_t n) override {
    timed("activation", [&] { inner_->sigmoid_forward(y, x, n); });
  }
  void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n) override {
    timed("activation", [&] { inner_->sigmoid_backward(dx, dy, y, n); });
  }

  std::size_t lstm_reserve_size(const kernels::LstmShape& s) const override { return inner_->lstm_reserve_size(s); }
  std::size_t lstm_workspace_size(const kernels::LstmShape& s) const override { return inner_->lstm_workspace_size(s); }
  void lstm_forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih, const float* w_hh,
                    const float* b_ih, const float* b_hh, const kernels::LstmShape& s) override {
    timed(fmt::format("lstm_forward_i{}", s.input),
          [&] { inner_->lstm_forward(y, reserve, workspace, x, w_ih, w_hh, b_ih, b_hh, s); });
  }
  void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace,
                     const float* dy, const float* x, const float* y, const float* reserve, const float* w_ih,
                     const float* w_hh, const kernels::LstmShape& s) override {
    timed(fmt::format("lstm_backward_i{}", s.input),
          [&] { inner_->lstm_backward(dx, dw_ih, dw_hh, db_ih, db_hh, workspace, dy, x, y, reserve, w_ih, w_hh, s); });
  }

  std::size_t attention_workspace_size(const kernels::AttentionShape& s) const override {
    return inner_->attention_workspace_size(s);
  }
  void attention_forward(float* context, float* alpha, float* u, const float* h, const float* w, const float* b,
                         const float* v, const kernels::AttentionShape& s) override {
    timed("attention_forward", [&] { inner_->attention_forward(context, alpha, u, h, w, b, v, s); });
  }
  void attention_backward(float* dh, float* dw, float* db, float* dv, float* workspace, const float* dcontext,
                          const float* h, const float* alpha, const float* u, const float* w, const float* v,
                          const kernels::AttentionShape& s) override {
    timed("attention_backward",
          [&] { inner_->attention_backward(dh, dw, db, dv, workspace, dcontext, h, alpha, u, w, v, s); });
  }

  void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                               const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                               float momentum, const kernels::ReplicaSum* across) override {
    timed("batchnorm", [&] {
      inner_->batchnorm_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, m, c, eps, momentum,
                                      across);
    });
  }
  void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, int m, int c, float eps) override {
    timed("batchnorm",
          [&] { inner_->batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, m, c, eps); });
  }
  void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                          const float* rstd, const float* gamma, int m, int c,
                          const kernels::ReplicaSum* across) override {
    timed("batchnorm", [&] { inner_->batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, m, c, across); });
  }

  void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                       std::uint64_t seed, std::uint64_t stream, float p) override {
    timed("dropout", [&] { inner_->dropout_forward(y, x, samples, per_sample, first_sample, seed, stream, p); });
  }
  void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                        std::uint64_t seed, std::uint64_t stream, float p) override {
    timed("dropout", [&] { inner_->dropout_backward(dx, dy, samples, per_sample, first_sample, seed, stream, p); });
  }

  void softmax_forward(float* probs, const float* logits, int batch, int classes) override {
    timed("loss", [&] { inner_->softmax_forward(probs, logits, batch, classes); });
  }
  void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights,
                    int batch, int classes, const kernels::LossSpec& spec) override {
    timed("loss", [&] { inner_->loss_forward(losses, probs, targets, class_weights, batch, classes, spec); });
  }
  void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                     int batch, int classes, const kernels::LossSpec& spec, float scale) override {
    timed("loss", [&] { inner_->loss_backward(dlogits, probs, targets, class_weights, batch, classes, spec, scale); });
  }

  void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
                 float eps, std::int64_t step) override {
    timed("adam", [&] { inner_->adam_step(param, m, v, grad, n, lr, beta1, beta2, eps, step); });
  }
  void sgd_step(float* param, const float* grad, std::size_t n, float lr) override {
    timed("sgd", [&] { inner_->sgd_step(param, grad, n, lr); });
  }

 private:
  template <class F>
  std::invoke_result_t<const F&> timed(const std::string& op, const F& f) {
    const auto start = Clock::now();
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      if (!synchronous_) inner_->synchronize();
      seconds_[op] += seconds_since(start);
    } else {
      auto result = f();
      if (!synchronous_) inner_->synchronize();
      seconds_[op] += seconds_since(start);
      return result;
    }
  }
  Backend* inner_;
  bool synchronous_;  // a host-memory backend runs each op within its call
  std::map<std::string, double> seconds_;
};

// The serial step (strategies/serial.cpp) over a TimedBackend: make_strategy creates its backend
// by name, so this repeats its few lines (zero, forward, backward, clip, Adam) around the same
// Model and Optimizer. <op>_pct: share of the step's wall time; other_pct: host code between ops.
void BM_StepBreakdown(benchmark::State& state, const std::string& workload, int threads, int batch) {
  Backend* harness_backend = g_backend.or_skip(state);
  if (!harness_backend) return;
  const strategies::StrategyOptions options = step_options(workload, threads, batch);
  TimedBackend backend(*harness_backend);
  backend.set_threads(threads);
  const auto model = models::make_model(workload, backend, options.model);
  model->initialize(options.seed);
  model->allocate(batch);
  models::Optimizer optimizer(backend, options.optimizer, model->parameter_count());
  const bench::SyntheticBatch data(*model, batch);
  const models::BatchView view = model->stage(data.view(), batch);  // once, untimed: compute only

  std::int64_t step = 0;
  auto one_step = [&] {
    model->zero_gradients();
    const models::Pass pass{backend, batch, true, options.seed, static_cast<std::uint64_t>(step), 0};
    const double loss = model->forward(pass, view, options.loss);
    model->backward(pass, view, options.loss, 1.0f / static_cast<float>(batch), {});
    float* grads = model->gradient_data();
    const double norm = optimizer.norm(grads, model->parameter_count());
    optimizer.clip(grads, model->parameter_count(), norm);
    optimizer.step(model->parameter_data(), grads, step + 1, models::learning_rate(options.optimizer, step));
    ++step;
    return std::isfinite(loss) && std::isfinite(norm);
  };
  one_step();  // warm-up, not counted
  backend.seconds().clear();
  double step_seconds = 0;
  bool finite = true;
  for (auto _ : state) {
    const auto start = Clock::now();
    finite = one_step() && finite;
    backend.synchronize();
    step_seconds += seconds_since(start);
  }
  if (!finite) {
    state.SkipWithError("non-finite loss or gradient norm");
    return;
  }
  double ops = 0;
  for (const auto& [op, seconds] : backend.seconds()) {
    state.counters[op + "_pct"] = 100.0 * seconds / step_seconds;
    ops += seconds;
  }
  state.counters["other_pct"] = 100.0 * (step_seconds - ops) / step_seconds;
  state.counters["step_ms"] = benchmark::Counter(1e3 * step_seconds, benchmark::Counter::kAvgIterations);
  bench::set_flop_counters(state, model->training_flops() * batch, step_seconds, g_peak_gflops);
}

// ---- registration and the peak -----------------------------------------------------------------

// Wall time (UseRealTime) for every rate; the CPU column is the whole process's CPU time, so
// CPU / real well below `threads` marks a run where another process took a core.
void register_benchmarks() {
  struct Workload {
    const char* name;
    std::vector<int> batches;
  };
  // The CPU's intra-op threads; a GPU's parallelism is its own (set_threads changes nothing there).
  const std::vector<int> thread_counts = g_backend.name == "cpu" ? std::vector<int>{1, 2} : std::vector<int>{1};
  for (const Workload& w : {Workload{"violence", {32, 64}}, Workload{"shoplifting", {32, 64, 256}}}) {
    for (const int threads : thread_counts) {
      for (const int batch : w.batches) {
        const std::string name = fmt::format("step/{}/serial/threads:{}/batch:{}", w.name, threads, batch);
        benchmark::RegisterBenchmark(name.c_str(), BM_SerialStep, std::string(w.name), threads, batch)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MeasureProcessCPUTime();
      }
    }
  }
  for (const int threads : thread_counts) {
    const std::string name = fmt::format("breakdown/violence/serial/threads:{}/batch:64", threads);
    benchmark::RegisterBenchmark(name.c_str(), BM_StepBreakdown, std::string("violence"), threads, 64)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_with_gemm_peak(argc, argv, g_backend, g_peak_gflops, register_benchmarks);
}
