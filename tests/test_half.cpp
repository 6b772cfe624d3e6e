// Tests for core/half: the portable conversions against values computed independently, and the
// bulk (F16C when available) path against the portable one, bit for bit.
// Every half bit pattern is covered; float->half is checked on ties, subnormals and overflow.
#include "core/half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace parbench {
namespace {

bool half_is_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// The value of a finite half from its fields, computed in double without any bit tricks.
double half_value(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000u) ? -magnitude : magnitude;
}

// Round-to-nearest-even to half by searching the sorted table of positive halves; 0x7c00 stands
// for 65536 so that the overflow boundary falls out of the same comparison.
std::uint16_t reference_float_to_half(float f) {
  static const std::vector<double> table = [] {
    std::vector<double> t;
    for (std::uint32_t h = 0; h <= 0x7c00u; ++h)
      t.push_back(h == 0x7c00u ? 65536.0 : half_value(static_cast<std::uint16_t>(h)));
    return t;
  }();
  const auto sign = static_cast<std::uint16_t>(std::signbit(f) ? 0x8000u : 0u);
  const double x = std::fabs(static_cast<double>(f));
  if (x >= 65536.0) return static_cast<std::uint16_t>(sign | 0x7c00u);
  const auto hi = static_cast<std::uint16_t>(std::lower_bound(table.begin(), table.end(), x) - table.begin());
  if (table[hi] == x || hi == 0) return static_cast<std::uint16_t>(sign | hi);
  const auto lo = static_cast<std::uint16_t>(hi - 1);
  const double below = x - table[lo];
  const double above = table[hi] - x;
  const std::uint16_t pick = below < above ? lo : above < below ? hi : ((lo & 1u) ? hi : lo);
  return static_cast<std::uint16_t>(sign | pick);
}

// Floats that stress float->half: specials, every half and its midpoints with their float
// neighbours, float subnormals, and random bit patterns across the whole float range.
std::vector<float> float_cases() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f,
                          -0.0f,
                          inf,
                          -inf,
                          std::numeric_limits<float>::quiet_NaN(),
                          -std::numeric_limits<float>::quiet_NaN(),
                          std::bit_cast<float>(0x7f800001u),
                          std::bit_cast<float>(0xff800001u),
                          std::bit_cast<float>(0x7fc00001u),
                          std::bit_cast<float>(0x7fbfffffu),
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::lowest(),
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min(),
                          65504.0f,
                          65519.0f,
                          65520.0f,
                          65536.0f,
                          1e10f,
                          -1e10f,
                          0x1p-24f,
                          0x1p-25f,
                          0x1p-26f,
                          0x1.8p-25f,
                          0x1p-14f,
                          1e-40f,
                          -1e-40f};
  for (std::uint32_t h = 0; h < 0x7c00u; ++h) {
    const float f = static_cast<float>(half_value(static_cast<std::uint16_t>(h)));
    const float mid =
        static_cast<float>((half_value(static_cast<std::uint16_t>(h)) +
                            (h + 1 == 0x7c00u ? 65536.0 : half_value(static_cast<std::uint16_t>(h + 1)))) /
                           2);
    for (const float x : {f, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, inf)}) {
      v.push_back(x);
      v.push_back(-x);
    }
  }
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  for (int i = 0; i < 500000; ++i) v.push_back(std::bit_cast<float>(any_bits(rng)));
  // Random floats concentrated where halves live (exponents 2^-26 .. 2^17).
  std::uniform_int_distribution<std::uint32_t> exponent(101, 144);
  std::uniform_int_distribution<std::uint32_t> mantissa(0, 0x7fffffu);
  for (int i = 0; i < 500000; ++i) {
    v.push_back(
        std::bit_cast<float>((static_cast<std::uint32_t>(i & 1) << 31) | (exponent(rng) << 23) | mantissa(rng)));
  }
  for (std::uint32_t m = 1; m < 0x800000u; m += 997) v.push_back(std::bit_cast<float>(m));
  return v;
}

TEST(Half, ScalarHalfToFloatKnownValues) {
  EXPECT_EQ(half_to_float(std::uint16_t{0x3c00}), 1.0f);
  EXPECT_EQ(half_to_float(std::uint16_t{0xc000}), -2.0f);
  EXPECT_EQ(half_to_float(std::uint16_t{0x3555}), 0x1.554p-2f);
  EXPECT_EQ(half_to_float(std::uint16_t{0x7bff}), 65504.0f);
  EXPECT_EQ(half_to_float(std::uint16_t{0x0001}), 0x1p-24f);
  EXPECT_EQ(half_to_float(std::uint16_t{0x03ff}), 1023 * 0x1p-24f);
  EXPECT_EQ(half_to_float(std::uint16_t{0x0400}), 0x1p-14f);
  EXPECT_EQ(bits(half_to_float(std::uint16_t{0x8000})), 0x80000000u);
  EXPECT_EQ(half_to_float(std::uint16_t{0x7c00}), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(std::uint16_t{0xfc00}), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(std::uint16_t{0x7e00})));
  EXPECT_TRUE(std::isnan(half_to_float(std::uint16_t{0x7c01})));
}

TEST(Half, ScalarHalfToFloatIsExactForAllPatterns) {
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float f = half_to_float(half);
    if (half_is_nan(half)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
    } else if ((h & 0x7fffu) == 0x7c00u) {
      EXPECT_TRUE(std::isinf(f)) << std::hex << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), half_value(half)) << std::hex << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << h;
    }
  }
}

TEST(Half, BulkHalfToFloatMatchesScalarForAllPatterns) {
  std::vector<std::uint16_t> in(65536);
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) in[h] = static_cast<std::uint16_t>(h);
  // An odd count at an odd offset exercises unaligned loads and the partial last block.
  for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {
    const std::size_t n = in.size() - offset;
    std::vector<float> out(n, -1.0f);
    half_to_float(in.data() + offset, out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      // Bits, not values, so NaNs are compared too: both paths quieten them the same way.
      const std::uint16_t h = in[i + offset];
      if (half_is_nan(h)) {
        ASSERT_TRUE(std::isnan(out[i])) << std::hex << h;
      }
      ASSERT_EQ(bits(out[i]), bits(half_to_float(h))) << std::hex << h;
    }
  }
  RecordProperty("f16c", half_uses_f16c() ? "yes" : "no");
}

TEST(Half, ScalarFloatToHalfKnownValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // tie between 65504 (odd) and infinity
  EXPECT_EQ(float_to_half(-1e10f), 0xfc00);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(float_to_half(inf), 0x7c00);
  EXPECT_EQ(float_to_half(-inf), 0xfc00);
  EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);  // tie with zero
  EXPECT_EQ(float_to_half(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half(0x1.8p-24f), 0x0002);           // 1.5 ulp: tie to even 2
  EXPECT_EQ(float_to_half(0x1.4p-23f), 0x0002);           // 2.5 ulp: tie to even 2
  EXPECT_EQ(float_to_half(0x1p-14f - 0x1p-25f), 0x0400);  // largest subnormal/min normal tie
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f), 0x3c00);      // tie to even below
  EXPECT_EQ(float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie to even above
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_half(-1e-40f), 0x8000);
  EXPECT_TRUE(half_is_nan(float_to_half(std::numeric_limits<float>::quiet_NaN())));
  // A signalling NaN whose payload sits only in the dropped low bits must stay NaN, quiet.
  EXPECT_EQ(float_to_half(std::bit_cast<float>(0x7f800001u)), 0x7e00);
  EXPECT_EQ(float_to_half(std::bit_cast<float>(0xff800001u)), 0xfe00);
}

TEST(Half, ScalarFloatToHalfMatchesNearestEvenReference) {
  for (const float f : float_cases()) {
    if (std::isnan(f)) {
      EXPECT_TRUE(half_is_nan(float_to_half(f))) << std::hexfloat << f;
    } else {
      ASSERT_EQ(float_to_half(f), reference_float_to_half(f)) << std::hexfloat << f;
    }
  }
}

TEST(Half, FloatToHalfRoundTripsEveryHalf) {
  std::vector<float> floats;
  std::vector<std::uint16_t> halves;
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    if (half_is_nan(static_cast<std::uint16_t>(h))) continue;
    halves.push_back(static_cast<std::uint16_t>(h));
    floats.push_back(half_to_float(static_cast<std::uint16_t>(h)));
  }
  std::vector<std::uint16_t> bulk(floats.size());
  float_to_half(floats.data(), bulk.data(), floats.size());
  for (std::size_t i = 0; i < halves.size(); ++i) {
    ASSERT_EQ(float_to_half(floats[i]), halves[i]) << std::hex << halves[i];
    ASSERT_EQ(bulk[i], halves[i]) << std::hex << halves[i];
  }
}

TEST(Half, BulkFloatToHalfMatchesScalar) {
  const std::vector<float> in = float_cases();
  for (const std::size_t offset : {std::size_t{0}, std::size_t{3}}) {
    const std::size_t n = in.size() - offset;
    std::vector<std::uint16_t> out(n, 0xdead);
    float_to_half(in.data() + offset, out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const float f = in[i + offset];
      if (std::isnan(f)) {
        ASSERT_TRUE(half_is_nan(out[i])) << std::hexfloat << f;
      }
      ASSERT_EQ(out[i], float_to_half(f)) << std::hexfloat << f;
    }
  }
}

TEST(Half, BulkHandlesShortAndEmptyInputs) {
  const float in[5] = {1.0f, -0.5f, 65520.0f, 0x1p-24f, 3.0f};
  std::uint16_t out[5] = {};
  float_to_half(in, out, 0);
  EXPECT_EQ(out[0], 0);
  float_to_half(in, out, 5);
  const std::uint16_t expected[5] = {0x3c00, 0xb800, 0x7c00, 0x0001, 0x4200};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], expected[i]) << i;
  float back[5] = {};
  half_to_float(out, back, 3);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], -0.5f);
  EXPECT_TRUE(std::isinf(back[2]));
  EXPECT_EQ(back[3], 0.0f);  // untouched: only 3 elements were requested
}

}  // namespace
}  // namespace parbench
