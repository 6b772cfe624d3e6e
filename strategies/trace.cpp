// Chrome trace output of --trace.
#include "strategies/trace.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/output_file.h"

namespace parbench::strategies {

void Trace::span(int track, std::string name, Clock::time_point begin, Clock::time_point end) {
  const double b = std::chrono::duration<double, std::micro>(begin - origin_).count();
  const double d = std::chrono::duration<double, std::micro>(end - begin).count();
  const std::lock_guard lock(mutex_);
  events_.push_back({track, std::move(name), b, d});
}

void Trace::name_track(int track, std::string name) {
  const std::lock_guard lock(mutex_);
  track_names_.emplace_back(track, std::move(name));
}

std::string Trace::json() const {
  const std::lock_guard lock(mutex_);
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"ph", "M"},
                    {"name", "process_name"},
                    {"pid", process_},
                    {"args", {{"name", "rank " + std::to_string(process_)}}}});
  for (const auto& [track, name] : track_names_) {
    events.push_back(
        {{"ph", "M"}, {"name", "thread_name"}, {"pid", process_}, {"tid", track}, {"args", {{"name", name}}}});
  }
  for (const auto& e : events_) {
    events.push_back({{"ph", "X"},
                      {"name", e.name},
                      {"pid", process_},
                      {"tid", e.track},
                      {"ts", e.begin_us},
                      {"dur", e.duration_us}});
  }
  return nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump();
}

void Trace::write(const std::filesystem::path& path, bool overwrite) const {
  write_text_file(path, json() + "\n", overwrite);
}

}  // namespace parbench::strategies
