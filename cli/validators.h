// CLI11 validators for parbench's numeric flags: a value outside its range (0 threads, a negative
// batch, a NaN learning rate, dropout 1) is a usage error that names the flag and the valid range,
// before any work starts. CLI11 runs them on the text as given, once per value of a list option.
#pragma once

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace parbench::cli {

// A finite number in [low, high] (or [low, high) when `high_open`); `integer` also refuses a
// fraction. `range` is how messages say it ("an integer, at least 1"), `help` how --help shows it
// after the type ("INT:at least 1").
// The error CLI11 throws reads "--flag: value 0 is not valid: must be an integer, at least 1".
inline CLI::Validator number_in(double low, double high, bool high_open, bool integer, const std::string& range,
                                const std::string& help) {
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        const char* text = input.c_str();
        char* end = nullptr;
        const double value = std::strtod(text, &end);
        const bool parsed = end != text && *end == '\0';
        const bool ok = parsed && std::isfinite(value) && value >= low && (high_open ? value < high : value <= high) &&
                        (!integer || value == std::floor(value));
        return ok ? std::string() : fmt::format("value {} is not valid: must be {}", input, range);
      },
      help);
}

// Integers >= `low`, "an integer, at least 1" in messages (counts: threads, workers, batch, epochs, steps, ...).
inline CLI::Validator integer_at_least(long long low) {
  return number_in(static_cast<double>(low), std::numeric_limits<double>::max(), false, true,
                   fmt::format("an integer, at least {}", low), fmt::format("at least {}", low));
}

// Integers in [low, high] (a stage, a compression level).
inline CLI::Validator integer_in(long long low, long long high) {
  return number_in(static_cast<double>(low), static_cast<double>(high), false, true,
                   fmt::format("an integer in [{}, {}]", low, high), fmt::format("in [{}, {}]", low, high));
}

// Finite numbers > 0 (a learning rate, a time, a size in MiB).
inline CLI::Validator positive_number() {
  return number_in(std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(), false, false,
                   "a finite number > 0", "finite, > 0");
}

// Finite numbers >= 0 (a clipping norm where 0 = off, a threshold in %).
inline CLI::Validator non_negative_number() {
  return number_in(0, std::numeric_limits<double>::max(), false, false, "a finite number >= 0", "finite, >= 0");
}

// Probabilities and fractions: [0, 1] or [0, 1) with `high_open`.
inline CLI::Validator fraction(bool high_open) {
  return number_in(0, 1, high_open, false, high_open ? "a number in [0, 1)" : "a number in [0, 1]",
                   high_open ? "in [0, 1)" : "in [0, 1]");
}

}  // namespace parbench::cli
