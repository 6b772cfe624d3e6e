// `parbench data synth | import | inspect`.
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/validators.h"
#include "core/output_file.h"
#include "data/import.h"
#include "data/inspect.h"
#include "data/schema.h"
#include "data/synth.h"

namespace parbench::cli {

namespace {

h5::Dtype parse_dtype(const std::string& text) { return text == "f16" ? h5::Dtype::f16 : h5::Dtype::f32; }

std::string mib(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0)); }

struct SynthArgs {
  data::SynthOptions options;
  std::string out, dtype = "f32", split;
  bool force = false;
};

void run_synth(const SynthArgs& args) {
  data::SynthOptions options = args.options;
  options.dtype = parse_dtype(args.dtype);
  if (!args.split.empty()) options.splits = data::parse_splits(args.split);
  data::workload_spec(options.workload);
  OutputFile out(args.out, args.force);
  Progress progress("synth");
  data::WriteReport report;
  try {
    report = data::synthesize(options, out.temporary(), [&](const data::WriteProgress& p) {
      progress.update(p.part, p.done, p.total, p.bytes, p.seconds);
    });
  } catch (const h5::Error& error) {
    raise("cannot write {}: {}", args.out, error.what());  // HDF5's message names the temporary
  }
  progress.finish();
  out.commit();
  const double file_bytes = static_cast<double>(std::filesystem::file_size(args.out));
  fmt::print("wrote {}: {} samples of {}, {} raw -> {} on disk, compression ratio {:.2f}x, {:.1f} s\n", args.out,
             report.samples, options.workload, mib(static_cast<double>(report.logical_bytes)), mib(file_bytes),
             static_cast<double>(report.logical_bytes) / file_bytes, report.seconds);
}

struct ImportArgs {
  data::ImportOptions options;
  std::map<std::string, std::string> files;
  std::string out, dtype = "f32";
  bool force = false;
};

void run_import(const ImportArgs& args) {
  data::ImportOptions options = args.options;
  options.dtype = parse_dtype(args.dtype);
  for (const auto& [name, file] : args.files) {
    if (!file.empty()) options.files[name] = file;
  }
  data::workload_spec(options.workload);
  OutputFile out(args.out, args.force);
  Progress progress("import");
  data::ImportReport report;
  try {
    report = data::import_npy(options, out.temporary(), [&](const data::WriteProgress& p) {
      progress.update(p.part, p.done, p.total, p.bytes, p.seconds);
    });
  } catch (const h5::Error& error) {
    raise("cannot write {}: {}", args.out, error.what());  // HDF5's message names the temporary
  }
  progress.finish();
  out.commit();
  const double file_bytes = static_cast<double>(std::filesystem::file_size(args.out));
  const double input_bytes = static_cast<double>(report.input_bytes);
  fmt::print("imported {} samples of {} into {}: {} of .npy -> {} on disk (ratio {:.2f}x), {:.1f} s, {:.0f} MB/s\n",
             report.samples, options.workload, args.out, mib(input_bytes), mib(file_bytes), input_bytes / file_bytes,
             report.seconds, report.seconds > 0 ? input_bytes / report.seconds / 1e6 : 0.0);
}

}  // namespace

void add_data_commands(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Create, import and inspect HDF5 datasets");
  data->require_subcommand(1);
  const auto workloads = data::workload_names();

  auto synth_args = std::make_shared<SynthArgs>();
  CLI::App* synth = data->add_subcommand("synth", "Write a seeded, learnable synthetic dataset");
  synth->add_option("--workload", synth_args->options.workload, "Workload")
      ->required()
      ->check(CLI::IsMember(workloads));
  synth->add_option("--samples", synth_args->options.samples, "Number of samples N (all splits)")
      ->required()
      ->check(integer_at_least(1));
  synth->add_option("--out", synth_args->out, "Output HDF5 file")->required();
  synth->add_option("--seed", synth_args->options.seed, "Random seed")
      ->check(integer_at_least(0))
      ->capture_default_str();
  synth->add_option("--dtype", synth_args->dtype, "Feature dtype on disk")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  synth->add_option("--compression", synth_args->options.gzip_level, "gzip level, 0 = none")
      ->check(integer_in(0, 9))
      ->capture_default_str();
  synth->add_option("--split", synth_args->split, "Splits as groups: train,val or train=0.9,val=0.1");
  synth->add_option("--balance", synth_args->options.positive_fraction, "Share of class 1 (violent/anomaly)")
      ->check(fraction(false))
      ->capture_default_str();
  synth->add_option("--frames", synth_args->options.frames, "Frames T (default: 20 violence, 16 shoplifting)")
      ->check(integer_at_least(1));
  synth->add_option("--dim", synth_args->options.feature_dim, "Feature size D (violence)")
      ->check(integer_at_least(1))
      ->capture_default_str();
  synth
      ->add_option("--chunk-samples", synth_args->options.chunk_samples,
                   "Samples per HDF5 chunk (default: ~256 KiB chunks)")
      ->check(integer_at_least(1));
  synth->add_flag("--force", synth_args->force, "Replace the output file if it exists");
  synth->callback([synth_args] { run_synth(*synth_args); });

  auto import_args = std::make_shared<ImportArgs>();
  CLI::App* import_cmd = data->add_subcommand("import", "Import .npy feature caches into an HDF5 dataset");
  import_cmd->add_option("--workload", import_args->options.workload, "Workload")
      ->required()
      ->check(CLI::IsMember(workloads));
  for (const char* name : {"features", "labels", "pose", "visual", "action"}) {
    import_cmd->add_option(fmt::format("--{}", name), import_args->files[name], fmt::format("{} .npy file", name));
  }
  import_cmd->add_option("--out", import_args->out, "Output HDF5 file")->required();
  import_cmd->add_option("--dtype", import_args->dtype, "Feature dtype on disk")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  import_cmd->add_option("--compression", import_args->options.gzip_level, "gzip level, 0 = none")
      ->check(integer_in(0, 9))
      ->capture_default_str();
  import_cmd
      ->add_option("--chunk-samples", import_args->options.chunk_samples,
                   "Samples per HDF5 chunk (default: ~256 KiB chunks)")
      ->check(integer_at_least(1));
  import_cmd->add_flag("--force", import_args->force, "Replace the output file if it exists");
  import_cmd->callback([import_args] { run_import(*import_args); });

  struct InspectArgs {
    std::string file;
    bool json = false, no_scan = false;
  };
  auto inspect_args = std::make_shared<InspectArgs>();
  CLI::App* inspect = data->add_subcommand("inspect", "Describe and validate a dataset file");
  inspect->add_option("file", inspect_args->file, "HDF5 dataset")->required();
  inspect->add_flag("--json", inspect_args->json, "Print JSON for scripts");
  inspect->add_flag("--no-scan", inspect_args->no_scan, "Skip reading every value to check it is finite");
  inspect->callback([inspect_args] {
    const nlohmann::json report = data::inspect(inspect_args->file, !inspect_args->no_scan);
    fmt::print("{}", inspect_args->json ? report.dump(2) + "\n" : data::inspect_text(report));
    if (!report["valid"].get<bool>()) {
      raise("{} is not a valid parbench dataset", inspect_args->file);
    }
  });
}

}  // namespace parbench::cli
