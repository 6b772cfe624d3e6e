// IEEE binary16 <-> binary32 conversion, scalar and bulk.
// Feature caches and checkpoints are often stored as float16 to halve their size; the kernels
// compute in float32, so imports convert whole blocks and need this to be fast and exact.
#pragma once

#include <cstddef>
#include <cstdint>

namespace parbench {

// Bulk conversion of n elements. Uses F16C when the CPU has it and the portable code otherwise;
// both give bit-identical results (NaNs come out quiet, with the payload's top bits kept).
void half_to_float(const std::uint16_t* in, float* out, std::size_t n);
void float_to_half(const float* in, std::uint16_t* out, std::size_t n);

// Portable scalar conversions. half -> float is exact; float -> half rounds to nearest even,
// overflows to infinity and produces subnormal halves where needed.
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);

// Whether the bulk functions run on F16C; tests report it so a pass on a machine without
// F16C is not mistaken for a check of the hardware path.
bool half_uses_f16c();

}  // namespace parbench
