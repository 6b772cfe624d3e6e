// --trace: spans of work per worker, written as a Chrome trace (Trace Event Format, "X" complete
// events, one track per worker and one per communication thread) that Perfetto and
// chrome://tracing open. Recording is thread-safe and costs one lock per span.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace parbench::strategies {

class Trace {
 public:
  using Clock = std::chrono::steady_clock;

  // `process` names the pid of the events (the MPI rank); tracks are tids within it.
  explicit Trace(int process = 0) : process_(process), origin_(Clock::now()) {}

  // A span of `name` on `track` (worker index; communication threads use 1000 + worker).
  void span(int track, std::string name, Clock::time_point begin, Clock::time_point end);
  // Names a track in the viewer ("worker 0", "comm 0").
  void name_track(int track, std::string name);

  // The events as Trace Event Format JSON text (an object with "traceEvents").
  std::string json() const;
  // Writes json() to a temporary name and renames it to `path`.
  void write(const std::filesystem::path& path, bool overwrite) const;

  // Records a span from construction to destruction.
  class Scope {
   public:
    Scope(Trace* trace, int track, std::string name)
        : trace_(trace), track_(track), name_(std::move(name)), begin_(Clock::now()) {}
    ~Scope() {
      if (trace_) trace_->span(track_, std::move(name_), begin_, Clock::now());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Trace* trace_;
    int track_;
    std::string name_;
    Clock::time_point begin_;
  };

 private:
  struct Event {
    int track;
    std::string name;
    double begin_us, duration_us;
  };
  int process_;
  Clock::time_point origin_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::vector<std::pair<int, std::string>> track_names_;
};

}  // namespace parbench::strategies
