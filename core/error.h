// Errors a user can act on (bad input, bad flags, missing files) are exceptions of one type;
// the CLI prints them and exits non-zero. Broken invariants go through PB_CHECK (check.h).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace parbench {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws parbench::Error with a fmt-formatted message: raise("{}: dataset {} ...", path, name).
template <typename... Args>
[[noreturn]] void raise(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace parbench
