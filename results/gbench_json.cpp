// Google Benchmark JSON reading (results/gbench_json.h).
#include "results/gbench_json.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace parbench::results {

namespace {

bool is_non_finite_word(std::string_view word) {
  std::string lower(word);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "nan" || lower == "infinity" || lower == "inf";
}

// Google Benchmark's JSON reporter writes non-finite counters as bare NaN / Infinity / -Infinity
// (older versions: nan, inf), which is not JSON. Those tokens outside strings become null, so
// the rest of the file still parses; a real_time of null is then reported as skipped.
std::string replace_non_finite_tokens(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    const bool negative = c == '-' && i + 1 < text.size() && std::isalpha(static_cast<unsigned char>(text[i + 1]));
    if (negative || std::isalpha(static_cast<unsigned char>(c))) {
      std::size_t end = negative ? i + 1 : i;
      while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
      const std::string_view word = text.substr(negative ? i + 1 : i, end - (negative ? i + 1 : i));
      out += is_non_finite_word(word) ? std::string_view("null") : text.substr(i, end - i);
      i = end - 1;
      continue;
    }
    out += c;
  }
  return out;
}
std::string read_text(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) raise("{}: no such file", path.string());
  std::ifstream stream(path, std::ios::binary);
  std::stringstream text;
  text << stream.rdbuf();
  if (!stream) raise("{}: cannot read the file", path.string());
  return text.str();
}

}  // namespace

nlohmann::json parse_gbench_json(std::string_view text, const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(replace_non_finite_tokens(text));
  } catch (const nlohmann::json::exception& error) {
    raise("{}: not valid JSON ({})", path, error.what());
  }
  const auto list = json.is_object() ? json.find("benchmarks") : json.end();
  if (list == json.end() || !list->is_array()) {
    raise("{}: no \"benchmarks\" array; expected Google Benchmark JSON (--benchmark_out_format=json)", path);
  }
  if (list->empty()) raise("{}: the \"benchmarks\" array is empty", path);
  return json;
}

nlohmann::json read_gbench_json(const std::filesystem::path& path) {
  return parse_gbench_json(read_text(path), path.string());
}

std::vector<std::filesystem::path> gbench_files(const std::vector<std::filesystem::path>& inputs) {
  std::vector<std::filesystem::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(input, ec)) {
      files.push_back(input);
      continue;
    }
    if (!std::filesystem::is_directory(input, ec)) raise("{}: no such file or folder", input.string());
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(input)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
      // A cheap look for the key before a full parse: most other JSON in a run folder is large.
      const std::string text = read_text(entry.path());
      if (text.find("\"benchmarks\"") != std::string::npos) found.push_back(entry.path());
    }
    if (found.empty()) {
      raise("{}: no Google Benchmark JSON file (*.json with \"benchmarks\") in this folder", input.string());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

}  // namespace parbench::results
