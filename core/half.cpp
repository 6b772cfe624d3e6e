// IEEE binary16 <-> binary32 conversion: portable bit manipulation plus an F16C path picked at
// run time, so the binary keeps running on x86-64 CPUs without F16C (and on other architectures).
#include "core/half.h"

#include <bit>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PARBENCH_HALF_X86 1
#endif

namespace parbench {

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Subnormal halves are mantissa * 2^-24: exact in float, and letting the FPU normalise
    // avoids a hand-written leading-zero loop.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
  }
  if (exponent == 0x1f) {
    // Setting the quiet bit matches what VCVTPH2PS does with signalling NaNs.
    const std::uint32_t nan_bits = mantissa != 0 ? 0x400000u | (mantissa << 13) : 0;
    return std::bit_cast<float>(sign | 0x7f800000u | nan_bits);
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

std::uint16_t float_to_half(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude > 0x7f800000u) {
    // Keep the top payload bits and force the quiet bit, as VCVTPS2PH does, so a NaN whose
    // payload lives only in the dropped low bits cannot turn into infinity.
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  // 0x477ff000 is 65520, halfway between the largest half (65504) and 65536; the tie goes to
  // the even neighbour, which is infinity.
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);

  const std::uint32_t exponent = magnitude >> 23;
  if (exponent < 113) {
    // Result is a subnormal half (or zero): the value is m * 2^(exponent-150) and the half's
    // unit is 2^-24, so the half mantissa is m >> (126 - exponent), rounded.
    if (exponent < 102) return sign;  // below 2^-25: rounds to zero even at the tie
    const std::uint32_t m = (magnitude & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;
    std::uint32_t q = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (q & 1u))) ++q;
    // q == 0x400 after rounding up is exactly the smallest normal half's encoding.
    return static_cast<std::uint16_t>(sign | q);
  }

  // Rebias the exponent (127 -> 15) in place; a mantissa carry from rounding then propagates
  // into the exponent, which is the correct result, and cannot reach infinity because of the
  // overflow check above.
  std::uint32_t h = (magnitude - (112u << 23)) >> 13;
  const std::uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

namespace {

#ifdef PARBENCH_HALF_X86

__attribute__((target("f16c,avx2"))) void half_to_float_f16c(const std::uint16_t* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  if (i < n) {
    // The tail goes through the same instruction so every element of one call is converted
    // the same way.
    std::uint16_t tail_in[8] = {};
    float tail_out[8];
    std::memcpy(tail_in, in + i, (n - i) * sizeof(std::uint16_t));
    _mm256_storeu_ps(tail_out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail_in))));
    std::memcpy(out + i, tail_out, (n - i) * sizeof(float));
  }
}

__attribute__((target("f16c,avx2"))) void float_to_half_f16c(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  if (i < n) {
    float tail_in[8] = {};
    std::uint16_t tail_out[8];
    std::memcpy(tail_in, in + i, (n - i) * sizeof(float));
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(tail_in), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tail_out), h);
    std::memcpy(out + i, tail_out, (n - i) * sizeof(std::uint16_t));
  }
}

bool detect_f16c() {
  // The functions above are compiled for AVX2 too, so the compiler may use AVX2 in them;
  // requiring both keeps F16C-only CPUs (Ivy Bridge) on the portable path.
#if defined(__clang__) && __clang_major__ < 16
  // Clang before 16 rejects the "f16c" feature name. The build is GCC; this branch only lets
  // clang-tidy-14 (scripts/tidy.sh) parse the file.
  return false;
#else
  return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
#endif
}

#else

bool detect_f16c() { return false; }

#endif

}  // namespace

bool half_uses_f16c() {
  // A function-local static, not a namespace-scope one, so callers running during static
  // initialisation of other translation units still get the real answer.
  static const bool have = detect_f16c();
  return have;
}

void half_to_float(const std::uint16_t* in, float* out, std::size_t n) {
#ifdef PARBENCH_HALF_X86
  if (half_uses_f16c()) {
    half_to_float_f16c(in, out, n);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

void float_to_half(const float* in, std::uint16_t* out, std::size_t n) {
#ifdef PARBENCH_HALF_X86
  if (half_uses_f16c()) {
    float_to_half_f16c(in, out, n);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

}  // namespace parbench
