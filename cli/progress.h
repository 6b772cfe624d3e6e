// Progress on stderr for long commands: an updating line on a terminal, a line every few seconds
// in logs (SLURM output files, CI), and always the final state.
#pragma once

#include <chrono>
#include <string>

namespace parbench::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress() { finish(); }  // an error or interrupt message then starts on a line of its own
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // done of total units; `bytes` processed so far gives the rate.
  void update(const std::string& what, long long done, long long total, double bytes, double seconds);
  void finish();

 private:
  std::string label_;
  bool terminal_;
  bool pending_newline_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace parbench::cli
