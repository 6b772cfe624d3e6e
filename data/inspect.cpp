// inspect(): layout of every dataset of every split, then validation; inspect_text() renders it.
#include "data/inspect.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/h5.h"
#include "data/schema.h"

namespace parbench::data {

namespace {

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, units[unit]) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

double ratio(double logical, double stored) { return stored > 0 ? logical / stored : 0.0; }

nlohmann::json inspect_split(hid_t file, const std::string& group_path, bool scan_values) {
  nlohmann::json split;
  split["group"] = group_path;
  h5::Group group = h5::open_group(file, group_path);
  for (const char* name : {"schema", "workload", "source", "created_by"}) {
    const auto value = h5::read_string_attribute(group.get(), name);
    split["attributes"][name] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  }
  split["attributes"]["class_names"] = h5::read_strings_attribute(group.get(), "class_names");

  double logical = 0, stored = 0;
  split["datasets"] = nlohmann::json::array();
  for (const auto& name : h5::children(group.get())) {
    H5O_info_t info{};
    if (H5Oget_info_by_name(group.get(), name.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET) {
      h5::take_error_stack();
      continue;
    }
    h5::Dataset dataset = h5::open_dataset(group.get(), name);
    const h5::Layout layout = h5::layout(dataset.get());
    logical += static_cast<double>(layout.logical_bytes);
    stored += static_cast<double>(layout.stored_bytes);
    split["datasets"].push_back({{"name", name},
                                 {"shape", layout.shape},
                                 {"dtype", h5::dtype_name(layout.dtype)},
                                 {"chunk", layout.chunk},
                                 {"filters", layout.filters},
                                 {"logical_bytes", layout.logical_bytes},
                                 {"stored_bytes", layout.stored_bytes},
                                 {"compression_ratio", ratio(static_cast<double>(layout.logical_bytes),
                                                             static_cast<double>(layout.stored_bytes))}});
  }
  split["logical_bytes"] = logical;
  split["stored_bytes"] = stored;
  split["compression_ratio"] = ratio(logical, stored);

  try {
    const SplitInfo info = validate_split(file, group_path, {.workload = {}, .scan_values = scan_values});
    split["valid"] = true;
    split["samples"] = info.samples;
    split["values"] = scan_values ? "all finite" : "not scanned";
    const WorkloadSpec& spec = workload_spec(info.workload);
    for (const auto* target : spec.targets()) {
      split["classes"][target->name] = {{"names", target->class_names},
                                        {"counts", info.fields.at(target->name).class_counts}};
    }
  } catch (const parbench::Error& error) {
    split["valid"] = false;
    split["error"] = error.what();
  }
  return split;
}

}  // namespace

nlohmann::json inspect(const std::filesystem::path& path, bool scan_values) {
  h5::File file = h5::open_read(path);
  nlohmann::json report;
  report["file"] = path.string();
  report["file_bytes"] = std::filesystem::file_size(path);
  report["splits"] = nlohmann::json::array();
  const std::vector<std::string> splits = find_splits(file.get());
  if (splits.empty()) {
    report["valid"] = false;
    report["error"] =
        fmt::format("{}: no parbench dataset: no workload datasets at the root and no group with a 'schema' attribute",
                    path.string());
    return report;
  }
  bool valid = true;
  for (const auto& group : splits) {
    report["splits"].push_back(inspect_split(file.get(), group, scan_values));
    valid = valid && report["splits"].back()["valid"].get<bool>();
  }
  report["valid"] = valid;
  return report;
}

std::string inspect_text(const nlohmann::json& report) {
  std::string out =
      fmt::format("{}  ({})\n", report["file"].get<std::string>(), bytes_text(report["file_bytes"].get<double>()));
  for (const auto& split : report["splits"]) {
    const auto& attributes = split["attributes"];
    out += fmt::format("\nsplit {}  workload {}  schema {}\n", split["group"].get<std::string>(),
                       attributes["workload"].is_null() ? "?" : attributes["workload"].get<std::string>(),
                       attributes["schema"].is_null() ? "?" : attributes["schema"].get<std::string>());
    if (!attributes["source"].is_null()) out += fmt::format("  source: {}\n", attributes["source"].get<std::string>());
    out += fmt::format("  {:<10} {:<20} {:<8} {:<16} {:<18} {:>10} {:>10} {:>6}\n", "dataset", "shape", "dtype",
                       "chunk", "filters", "raw", "stored", "ratio");
    for (const auto& d : split["datasets"]) {
      const auto chunk = d["chunk"].get<std::vector<std::int64_t>>();
      out += fmt::format("  {:<10} {:<20} {:<8} {:<16} {:<18} {:>10} {:>10} {:>5.2f}x\n", d["name"].get<std::string>(),
                         shape_text(d["shape"].get<std::vector<std::int64_t>>()), d["dtype"].get<std::string>(),
                         chunk.empty() ? "contiguous" : shape_text(chunk),
                         d["filters"].empty()
                             ? "none"
                             : fmt::format("{}", fmt::join(d["filters"].get<std::vector<std::string>>(), "+")),
                         bytes_text(d["logical_bytes"].get<double>()), bytes_text(d["stored_bytes"].get<double>()),
                         d["compression_ratio"].get<double>());
    }
    out +=
        fmt::format("  total {} -> {}, compression ratio {:.2f}x\n", bytes_text(split["logical_bytes"].get<double>()),
                    bytes_text(split["stored_bytes"].get<double>()), split["compression_ratio"].get<double>());
    if (split.contains("classes")) {
      const auto samples = split["samples"].get<double>();
      for (const auto& [target, classes] : split["classes"].items()) {
        out += fmt::format("  {} balance:", target);
        const auto names = classes["names"].get<std::vector<std::string>>();
        const auto counts = classes["counts"].get<std::vector<std::int64_t>>();
        for (std::size_t c = 0; c < names.size(); ++c) {
          out += fmt::format(" {} {} ({:.1f}%)", names[c], counts[c], 100.0 * static_cast<double>(counts[c]) / samples);
          if (c + 1 < names.size()) out += ",";
        }
        out += "\n";
      }
      out += fmt::format("  valid: {} samples, values {}\n", split["samples"].get<std::int64_t>(),
                         split["values"].get<std::string>());
    } else {
      out += fmt::format("  INVALID: {}\n", split["error"].get<std::string>());
    }
  }
  if (report.contains("error")) out += fmt::format("INVALID: {}\n", report["error"].get<std::string>());
  return out;
}

}  // namespace parbench::data
