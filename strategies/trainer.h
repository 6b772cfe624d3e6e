// The training loop every strategy shares: epochs over the sharded, prefetched training split,
// evaluation on the validation split each epoch, progress on the console, run metrics JSON
// (parbench.train/1, design.md §11), and checkpoints that resume to the same loss bitwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strategies/strategy.h"

namespace parbench::strategies {

struct TrainOptions {
  StrategyOptions strategy;
  std::string strategy_name = "serial";
  std::filesystem::path data;  // training file; its /train and /val groups are used when present
  std::filesystem::path val;   // optional validation file
  int batch = 32;              // global batch
  std::int64_t epochs = 1;
  std::int64_t steps = 0;  // > 0: stop after this many optimizer steps (overrides epochs)
  bool shuffle = true;
  bool class_weights = false;  // weight classes by total / (classes * count) of the training split
  int loader_threads = 2;
  // Reject a NaN/Inf input as the loader reads its batch (training and validation), naming file,
  // dataset and sample; off, such a value reaches the model (and usually the loss).
  bool check_finite = true;
  std::filesystem::path checkpoint;  // written (replaced) at the end of every epoch and of the run
  std::filesystem::path resume;      // continue from this checkpoint
  std::filesystem::path metrics;     // parbench.train/1 JSON
  std::filesystem::path trace;       // Chrome trace (per process: name.rankR.json when several)
  bool quiet = false;                // no progress lines
  bool force = false;                // replace existing --metrics / --checkpoint files
  // Preemption: polled after every step (`parbench train` sets it on SIGUSR1/SIGTERM). Once it is
  // set on any process, every process stops after that same step, the checkpoint is written, and
  // train() returns with `preempted`; --resume continues as if the run had never stopped. Null (no
  // preemption) or not must be the same on every process: with it, each step ends in a collective.
  const std::atomic<bool>* stop = nullptr;
  std::int64_t stop_after_step = 0;  // > 0 and `stop` given: act as if it were set after this step (tests)
};

struct EvalResult {
  std::string head;
  std::int64_t samples = 0;
  double loss = 0;  // mean weighted loss
  double accuracy = 0;
  std::vector<double> class_accuracy;
  std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted]
  double f1_positive = 0;                            // F1 of class 1 (violent / anomaly)
};

// NOLINTNEXTLINE(bugprone-exception-escape): the implicit move of nlohmann::json is noexcept
struct TrainResult {
  std::int64_t steps = 0, epochs = 0;
  double last_loss = 0;               // mean training loss of the last epoch
  std::vector<EvalResult> last_eval;  // per head, on the validation split (empty without one)
  nlohmann::json metrics;             // what --metrics writes
  bool lead = true;                   // this process is rank 0, the one that reports
  bool preempted = false;             // stopped by TrainOptions::stop before the last step
  std::int64_t last_epoch = 0;        // 1-based epoch of the last step taken (as the progress lines count)
};

TrainResult train(const TrainOptions& options);

// Accuracy, per-class accuracy, confusion and F1 of class 1 from predictions (pure, tested).
EvalResult classification_metrics(const std::string& head, int classes, const std::vector<std::int32_t>& truth,
                                  const std::vector<std::int32_t>& predicted);

// total / (classes * count_c) per class; a class with no samples gets weight 1.
std::vector<float> balanced_class_weights(const std::vector<std::int64_t>& counts);

}  // namespace parbench::strategies
