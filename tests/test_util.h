// Shared test helpers: a temporary folder removed at the end of each test, and running the
// parbench executable to check exit status and messages the way a user sees them.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/h5.h"

namespace parbench::test {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("parbench_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Names of the files in the folder (to check nothing half-written was left behind).
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

// The message of the parbench::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const parbench::Error& error) {
    return error.what();
  }
  return "(no error)";
}

// Replaces element `element` of sample `sample` of a float dataset of an HDF5 file with `value`:
// the way a real dataset goes bad (an Inf from a failed feature extraction, a NaN pose value from a
// pose estimator that lost the person).
inline void poison_sample(const std::filesystem::path& path, const std::string& dataset, std::int64_t sample,
                          std::int64_t element, float value) {
  h5::File file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)};
  h5::Dataset data = h5::open_dataset(file.get(), dataset);
  const h5::Layout layout = h5::layout(data.get());
  std::int64_t row = 1;
  for (std::size_t i = 1; i < layout.shape.size(); ++i) row *= layout.shape[i];
  std::vector<float> values(static_cast<std::size_t>(row));
  h5::read_rows(data.get(), H5T_NATIVE_FLOAT, sample, 1, values.data());
  values[static_cast<std::size_t>(element)] = value;
  h5::write_rows(data.get(), H5T_NATIVE_FLOAT, sample, 1, values.data());
}

struct CommandResult {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr together
};

// Runs `parbench <arguments>` through the shell; arguments are passed as written.
inline CommandResult run_parbench(const std::string& arguments) {
  const std::string command = std::string(PARBENCH_EXE) + " " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace parbench::test
