// What was built: filled in at build time by cmake/build_info.cmake.
#pragma once

namespace parbench::build_info {
extern const char* const git_commit;  // 40 hex digits, or "unknown" outside a git checkout
extern const bool git_dirty;          // tracked files differed from the commit
extern const char* const build_type;  // CMAKE_BUILD_TYPE
extern const char* const version;     // project version
}  // namespace parbench::build_info
