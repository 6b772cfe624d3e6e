// `parbench data inspect`: what a dataset file holds (splits, shapes, dtypes, chunking, filters,
// compression, class balance) and whether it passes the validator, as JSON or text.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace parbench::data {

// Never throws for an invalid dataset: the problem is recorded in "valid"/"error" next to what
// could be read. Throws parbench::Error when the file cannot be opened at all.
nlohmann::json inspect(const std::filesystem::path& file, bool scan_values);
std::string inspect_text(const nlohmann::json& report);

}  // namespace parbench::data
