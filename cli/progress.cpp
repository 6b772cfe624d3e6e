// Progress line rendering.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace parbench::cli {

Progress::Progress(std::string label) : label_(std::move(label)), terminal_(isatty(STDERR_FILENO) == 1) {}

void Progress::update(const std::string& what, long long done, long long total, double bytes, double seconds) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (done < total && now - last_ < interval) return;
  last_ = now;
  const double percent = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
  const double rate = seconds > 0 ? bytes / seconds / 1e6 : 0.0;
  const std::string line = fmt::format("{}: {} {}/{} samples ({:.0f}%), {:.1f} s, {:.0f} MB/s", label_, what, done,
                                       total, percent, seconds, rate);
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    pending_newline_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (pending_newline_) std::fprintf(stderr, "\n");
  pending_newline_ = false;
}

}  // namespace parbench::cli
