// Reading Google Benchmark JSON as its reporter writes it, shared by `parbench compare` and
// `parbench report`: bare NaN / Infinity tokens (written for counters) are read as null, and a
// folder stands for every Google Benchmark file under it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace parbench::results {

// Parses one file's text. Throws parbench::Error naming `path` when it is not JSON or has no
// non-empty "benchmarks" array.
nlohmann::json parse_gbench_json(std::string_view text, const std::string& path);
// The same from a file; a missing or unreadable file is an error naming it.
nlohmann::json read_gbench_json(const std::filesystem::path& path);

// Expands the inputs: a file stays itself; a folder gives every *.json below it (recursively, in
// path order) that holds a "benchmarks" array, so a run folder's scaling.json and other JSON are
// passed over. An input that does not exist, or a folder with no benchmark file, is an error.
std::vector<std::filesystem::path> gbench_files(const std::vector<std::filesystem::path>& inputs);

}  // namespace parbench::results
