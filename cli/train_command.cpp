// `parbench train` (design.md §9): flags -> TrainOptions -> strategies::train. With --checkpoint,
// SIGUSR1 and SIGTERM (SLURM's --signal warning, scancel, a time limit) preempt the run: it stops
// after the current step, writes the checkpoint and exits with kPreemptedStatus. SIGINT (and,
// without --checkpoint, SIGTERM) interrupts it: exit 128 + signal, no partial output left.
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "kernels/backend.h"
#include "models/model.h"
#include "strategies/comm.h"
#include "strategies/trainer.h"

namespace parbench::cli {

namespace {

// EX_TEMPFAIL of sysexits.h, "try again later": distinct from success, from errors (1) and from
// death by a signal (128 + n), so a batch script requeues on exactly this status and on nothing else.
constexpr int kPreemptedStatus = 75;

// Set by core/interrupt's signal thread once train --checkpoint asked for preemption; the trainer
// polls it after every step. Signals are taken by a thread of their own (sigwait), never by a
// handler: with a handler (that only set this flag) SIGUSR1 corrupted the heap in about 1 run in 6.
std::atomic<bool> preempt_requested{false};

struct TrainArgs {
  strategies::TrainOptions options;
  std::string data, val, checkpoint, resume, metrics, trace;
  double bucket_mb = 25;
  bool no_overlap = false;
  std::string loss;               // "" = the workload's loss
  float label_smoothing = -1.0f;  // < 0 = the workload's
  float dropout = -1.0f;
  bool no_shuffle = false;
  int warmup_steps = -1;
  bool no_check_finite = false;
  bool workers_given = false;  // --workers on the command line (else the launcher's world size may apply)
};

void run_train(TrainArgs& args) {
  strategies::TrainOptions& o = args.options;
  o.data = args.data;
  o.val = args.val;
  o.checkpoint = args.checkpoint;
  o.resume = args.resume;
  o.metrics = args.metrics;
  o.trace = args.trace;
  // design.md §9: under mpirun/srun the world size is the worker count of the strategies that run
  // one process per worker; a --workers that differs is refused by the strategy itself.
  if (!args.workers_given && strategies::launched_with_mpi() && strategies::one_process_per_worker(o.strategy_name)) {
    o.strategy.workers = strategies::launched_world_size();
  }
  o.strategy.bucket_bytes = static_cast<std::size_t>(args.bucket_mb * (1 << 20));
  o.strategy.overlap = !args.no_overlap;
  if (o.strategy.stage != 0 && o.strategy_name != "zero") {
    raise("--stage {} is an option of strategy zero (this run uses {})", o.strategy.stage, o.strategy_name);
  }
  if (o.strategy.hybrid != 0 && o.strategy_name != "zero") {
    raise("--hybrid {} is an option of strategy zero (this run uses {})", o.strategy.hybrid, o.strategy_name);
  }
  if (o.strategy_name == "zero" && o.strategy.stage == 0) o.strategy.stage = 1;
  o.shuffle = !args.no_shuffle;
  o.check_finite = !args.no_check_finite;
  o.strategy.model.dropout = args.dropout;
  o.strategy.optimizer.warmup_steps = args.warmup_steps;
  o.strategy.loss.spec = models::default_loss(o.strategy.workload);
  if (args.loss == "ce") o.strategy.loss.spec.kind = kernels::LossSpec::Kind::cross_entropy;
  if (args.loss == "focal") o.strategy.loss.spec.kind = kernels::LossSpec::Kind::focal;
  if (args.label_smoothing >= 0) o.strategy.loss.spec.label_smoothing = args.label_smoothing;
  if (o.epochs < 1 && o.steps < 1) raise("--epochs or --steps must be at least 1");
  // Without a checkpoint there is nothing to resume from: SIGTERM and SIGUSR1 interrupt like SIGINT
  // (exit 128 + signal, no partial output). With one they preempt; SIGINT still interrupts.
  if (!o.checkpoint.empty()) {
    interrupt::preempt_on(&preempt_requested);
    o.stop = &preempt_requested;
    // Hidden test hook: preempt after this step without a signal (tests/preempt_train.sh).
    if (const char* step = std::getenv("PARBENCH_TEST_PREEMPT_AT_STEP")) o.stop_after_step = std::atoll(step);
  }
  const strategies::TrainResult result = strategies::train(o);
  if (result.preempted) {
    if (result.lead) {
      fmt::print("parbench: preempted at step {} (epoch {}); checkpoint written to {}\n", result.steps,
                 result.last_epoch, o.checkpoint.string());
      std::fflush(stdout);
    }
    throw CLI::RuntimeError(kPreemptedStatus);  // main() returns it; MPI is finalised at exit as usual
  }
  if (!result.lead) return;
  fmt::print("trained {} for {} steps ({} epochs): final train loss {:.4f}", o.strategy.workload, result.steps,
             result.epochs, result.last_loss);
  for (const auto& e : result.last_eval)
    fmt::print("; {} val accuracy {:.4f}, F1 {:.4f}", e.head, e.accuracy, e.f1_positive);
  fmt::print("\n");
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  strategies::TrainOptions& o = args->options;
  CLI::App* train = app.add_subcommand("train", "Train a workload with a strategy");
  train->add_option("--workload", o.strategy.workload, "Workload")
      ->required()
      ->check(CLI::IsMember(models::model_names()));
  train->add_option("--data", args->data, "Training HDF5 file (its /train and /val splits when present)")->required();
  train->add_option("--val", args->val, "Validation HDF5 file");
  train->add_option("--strategy", o.strategy_name, "Strategy")->capture_default_str();
  CLI::Option* workers =
      train
          ->add_option("--workers", o.strategy.workers,
                       "Workers (default 1; under mpirun/srun the world size for the multi-process strategies, ddp "
                       "and zero, where a different value is an error)")
          ->check(integer_at_least(1));
  train->add_option("--stage", o.strategy.stage, "zero: 1 shards optimizer state, 2 also gradients, 3 also parameters")
      ->check(integer_in(1, 3));
  train
      ->add_option("--hybrid", o.strategy.hybrid,
                   "zero: shard within groups of this many ranks, replicate across groups (0 = one group of all "
                   "ranks, the default)")
      ->check(integer_at_least(0));
  train->add_option("--bucket-mb", args->bucket_mb, "ddp: gradient bucket size in MiB")
      ->check(positive_number())
      ->capture_default_str();
  train->add_flag("--no-overlap", args->no_overlap, "ddp: all-reduce the buckets after backward, not during it");
  train->add_flag("--sync-bn", o.strategy.sync_bn, "BatchNorm statistics over the global batch (as SyncBatchNorm)");
  train->add_flag("--deterministic", o.strategy.deterministic, "Fixed reduction orders: runs repeat bitwise");
  train
      ->add_option("--backend", o.strategy.backend,
                   "Kernel backend: cpu | cuda | cuda_emulated (the CUDA kernels on CPU threads, a test instrument)")
      ->check(CLI::IsMember(kernels::backend_names()))
      ->capture_default_str();
  train
      ->add_option("--device", o.strategy.backend_options.device,
                   "cuda: the GPU to use, among the visible ones (default: node-local rank modulo their count)")
      ->check(integer_at_least(0));
  train->add_flag("--tf32", o.strategy.backend_options.tf32, "cuda: GEMMs on TF32 tensor cores (default fp32)");
  train
      ->add_option_function<std::string>(
          "--lstm", [&o](const std::string& path) { o.strategy.backend_options.cudnn_lstm = path == "cudnn"; },
          "cuda: LSTM layers as native kernels or through cuDNN (default native)")
      ->check(CLI::IsMember({"native", "cudnn"}));
  train->add_option("--threads", o.strategy.threads, "Intra-op threads per worker")
      ->check(integer_at_least(1))
      ->capture_default_str();
  train->add_option("--batch", o.batch, "Global batch size")->check(integer_at_least(1))->capture_default_str();
  train->add_option("--epochs", o.epochs, "Epochs")->check(integer_at_least(1))->capture_default_str();
  train->add_option("--steps", o.steps, "Stop after this many optimizer steps (overrides --epochs)")
      ->check(integer_at_least(1));
  train->add_option("--optimizer", o.strategy.optimizer.kind, "adam | sgd")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  train->add_option("--lr", o.strategy.optimizer.lr, "Learning rate")->check(positive_number())->capture_default_str();
  train->add_option("--adam-eps", o.strategy.optimizer.eps, "Adam epsilon (Keras' default)")
      ->check(positive_number())
      ->capture_default_str();
  train->add_option("--lr-schedule", o.strategy.optimizer.schedule, "warmup-cosine | constant")
      ->check(CLI::IsMember({"warmup-cosine", "constant"}))
      ->capture_default_str();
  train->add_option("--warmup-steps", args->warmup_steps, "Linear warmup steps, 0 = none (default: 5% of the steps)")
      ->check(integer_at_least(0));
  train->add_option("--clip", o.strategy.optimizer.clip, "Global-norm gradient clipping, 0 = off")
      ->check(non_negative_number())
      ->capture_default_str();
  train->add_option("--loss", args->loss, "focal | ce (default: the workload's)")
      ->check(CLI::IsMember({"focal", "ce"}));
  train->add_option("--label-smoothing", args->label_smoothing, "Label smoothing (default: the workload's)")
      ->check(fraction(true));
  train->add_flag("--class-weights", o.class_weights, "Weight classes by total / (classes * count)");
  train->add_option("--dropout", args->dropout, "Dropout probability, 0 = off (default: the workload's)")
      ->check(fraction(true));
  train->add_flag("--no-shuffle", args->no_shuffle, "Keep the data's order");
  train->add_option("--seed", o.strategy.seed, "Seed for initialisation, shuffling and dropout")
      ->check(integer_at_least(0))
      ->capture_default_str();
  train->add_flag("--no-check-finite", args->no_check_finite,
                  "Do not stop at a NaN/Inf input value as its batch is read (it then reaches the model)");
  train->add_option("--loader-threads", o.loader_threads, "Data loader threads (0 = synchronous)")
      ->check(integer_at_least(0))
      ->capture_default_str();
  train->add_option("--checkpoint", args->checkpoint,
                    "Checkpoint written at every epoch end and at the end. With it, SIGUSR1 or SIGTERM stops the run "
                    "after the current step, writes the checkpoint and exits with status 75 (resume with --resume)");
  train->add_option("--resume", args->resume, "Resume from a checkpoint");
  train->add_option("--metrics", args->metrics, "Write parbench.train/1 JSON here");
  train->add_option("--trace", args->trace, "Write a Chrome trace (Perfetto) of the steps here");
  train->add_flag("--quiet", o.quiet, "No progress lines");
  train->add_flag("--force", o.force, "Replace existing --metrics and --checkpoint files");
  train->callback([args, workers] {
    args->workers_given = workers->count() > 0;
    run_train(*args);
  });
}

}  // namespace parbench::cli
