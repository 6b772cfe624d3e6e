// `serial`: one worker, the whole batch, `--threads` intra-op threads (BLAS and the LSTM's two
// directions), as PyTorch runs on a CPU by default. The baseline every other strategy must match.
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "strategies/strategy.h"

namespace parbench::strategies {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

class Serial final : public Strategy {
 public:
  explicit Serial(const StrategyOptions& options)
      : options_(options),
        backend_(kernels::make_backend(options.backend)),
        model_(models::make_model(options.workload, *backend_, options.model)),
        optimizer_(*backend_, options.optimizer, model_->parameter_count()) {
    if (options.workers != 1) raise("strategy serial runs one worker (got --workers {})", options.workers);
    backend_->set_threads(options.threads);
    model_->initialize(options.seed);
    model_->allocate(options.max_batch);
  }

  std::string name() const override { return "serial"; }
  models::Model& model() override { return *model_; }
  models::Optimizer& optimizer() override { return optimizer_; }
  kernels::Backend& backend() override { return *backend_; }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    StepResult result;
    result.samples = rows;
    const auto start = Clock::now();
    model_->zero_gradients();
    const models::Pass pass{*backend_, rows, true, options_.seed, static_cast<std::uint64_t>(step), 0};
    result.loss_sum = model_->forward(pass, batch, options_.loss);
    if (!std::isfinite(result.loss_sum)) {
      raise("loss is {} at step {}; first non-finite values in the output of layer {}", result.loss_sum, step,
            model_->first_nonfinite_layer(rows));
    }
    // The loss is the batch mean: every sample's gradient is scaled by 1 / rows.
    model_->backward(pass, batch, options_.loss, 1.0f / static_cast<float>(rows), {});
    result.times.compute = seconds_since(start);

    const auto update = Clock::now();
    float* grads = model_->gradient_data();
    const std::size_t count = model_->parameter_count();
    result.grad_norm = optimizer_.norm(grads, count);
    if (!std::isfinite(result.grad_norm)) raise("gradient norm is {} at step {}", result.grad_norm, step);
    optimizer_.clip(grads, count, result.grad_norm);
    result.lr = models::learning_rate(options_.optimizer, step);
    optimizer_.step(model_->parameter_data(), grads, step + 1, result.lr);
    backend_->synchronize();
    result.times.optimizer = seconds_since(update);
    return result;
  }

  MemoryReport memory(int batch) const override {
    const double p = static_cast<double>(model_->parameter_count());
    MemoryReport report;
    report.parameters = 4 * p;
    report.gradients = 4 * p;
    report.optimizer_state = 4.0 * static_cast<double>(optimizer_.state_floats());
    report.activations = 4.0 * static_cast<double>(model_->activation_floats_per_sample()) * batch;
    report.measured_peak = peak_resident_bytes();
    return report;
  }

 private:
  StrategyOptions options_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<models::Model> model_;
  models::Optimizer optimizer_;
};

}  // namespace

std::unique_ptr<Strategy> make_serial(const StrategyOptions& options) { return std::make_unique<Serial>(options); }

}  // namespace parbench::strategies
