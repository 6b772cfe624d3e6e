// Counter-based random numbers: a value is a pure function of (seed, stream, counter), so any
// split of the work (blocks, threads, ranks) draws exactly the same numbers. Used for synthetic
// data now and dropout masks later.
#pragma once

#include <cmath>
#include <cstdint>

namespace parbench::rng {

// splitmix64's finalizer: a bijective mix of 64 bits (Steele, Lea, Flood 2014).
constexpr std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
  return mix(mix(mix(seed) ^ stream) ^ counter);
}

// Uniform in [0, 1) with 24 random bits (exactly representable as float).
constexpr float uniform(std::uint64_t bits) { return static_cast<float>(bits >> 40) * 0x1.0p-24f; }

// Approximately standard normal from one 64-bit draw: the sum of four 16-bit uniforms
// (Irwin-Hall, mean 2, variance 1/3), centred and scaled. Tails stop at +-3.46: fine for noise,
// and about ten times cheaper than Box-Muller.
constexpr float normal(std::uint64_t bits) {
  const auto u = [&](int k) { return static_cast<float>((bits >> (16 * k)) & 0xffff) * 0x1.0p-16f; };
  return (u(0) + u(1) + u(2) + u(3) - 2.0f) * 1.7320508f;
}

}  // namespace parbench::rng
