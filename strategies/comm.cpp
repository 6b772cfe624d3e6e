// Communicator helpers shared by every implementation.
#include "strategies/comm.h"

#include "core/error.h"

namespace parbench::strategies {

std::vector<std::size_t> part_offsets(std::span<const std::size_t> counts) {
  std::vector<std::size_t> offsets(counts.size() + 1, 0);
  for (std::size_t i = 0; i < counts.size(); ++i) offsets[i + 1] = offsets[i] + counts[i];
  return offsets;
}

std::vector<std::size_t> even_parts(std::size_t n, int parts) {
  if (parts < 1) raise("cannot split {} items into {} parts", n, parts);
  const auto p = static_cast<std::size_t>(parts);
  std::vector<std::size_t> sizes(p, n / p);
  for (std::size_t i = 0; i < n % p; ++i) ++sizes[i];
  return sizes;
}

}  // namespace parbench::strategies
