// `serial`: one worker, the whole batch, `--threads` intra-op threads (BLAS and the LSTM's two
// directions), as PyTorch runs on a CPU by default. The baseline every other strategy must match.
#include "core/error.h"
#include "strategies/replica.h"

namespace parbench::strategies {

namespace {

class Serial final : public Strategy {
 public:
  explicit Serial(const StrategyOptions& options)
      : options_(options), backend_(kernels::make_backend(options.backend, options.backend_options)),
        model_(models::make_model(options.workload, *backend_, options.model)),
        optimizer_(*backend_, options.optimizer, model_->parameter_count()) {
    if (options.workers != 1) raise("strategy serial runs one worker (got --workers {})", options.workers);
    backend_->set_threads(options.threads);
    model_->initialize(options.seed);
    model_->allocate(options.max_batch);
  }

  std::string name() const override { return "serial"; }
  models::Model& model() override { return *model_; }
  kernels::Backend& backend() override { return *backend_; }

  StepResult step(const models::BatchView& batch, int rows, std::int64_t step) override {
    StepResult result;
    result.samples = rows;
    Trace* trace = options_.trace.get();
    const auto start = Clock::now();
    {
      const Trace::Scope span(trace, 0, "forward+backward");
      model_->zero_gradients();
      result.loss_sum = forward_backward(*model_, batch, rows, 0, rows, step, options_, nullptr, {});
    }
    result.times.compute = seconds_since(start);

    update_whole_replica(*model_, optimizer_, step, trace, result);
    return result;
  }

  MemoryReport memory(int batch) const override { return whole_replica_memory(*model_, optimizer_, batch); }

 protected:
  models::Optimizer& optimizer() override { return optimizer_; }

 private:
  StrategyOptions options_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<models::Model> model_;
  models::Optimizer optimizer_;
};

}  // namespace

std::unique_ptr<Strategy> make_serial(const StrategyOptions& options) { return std::make_unique<Serial>(options); }

}  // namespace parbench::strategies
