// PARBENCH_CPU_CLONES: a hot loop compiled for AVX-512, AVX2 and the portable baseline, the variant
// chosen when the library loads (GCC's target_clones, an ifunc). The portable build targets SSE2,
// which lacks the wide FMA and 32-bit vector multiplies these loops need to run at speed.
#pragma once

// Left out where the clones cannot work, at the cost of the baseline variant's speed:
// - clang before 16 has no target_clones on templates; clang only parses this code (clang-tidy);
// - ThreadSanitizer: glibc runs ifunc resolvers while relocating, before the TSan runtime is up,
//   and the instrumented resolver crashes every binary at start. Timings never come from a TSan
//   build, so nothing measured changes.
#if (defined(__clang__) && __clang_major__ < 16) || defined(__SANITIZE_THREAD__)
#define PARBENCH_CPU_CLONES
#else
#define PARBENCH_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
