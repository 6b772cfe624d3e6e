// The CPU backend's bidirectional LSTM layer (Backend::lstm_forward / lstm_backward semantics,
// kernels/backend.h): the input side of all timesteps as one GEMM, then the recurrence, one GEMM
// per step and direction, with the gate math of kernels/math.h. The two directions may run at once.
#pragma once

#include <cstddef>

#include "kernels/backend.h"

namespace parbench::kernels::cpu {

// Sizes in floats. The reserve holds what backward needs from forward (layout in lstm.cpp);
// forward needs no workspace, so the workspace size is backward's.
std::size_t lstm_reserve_size(const LstmShape& s);
std::size_t lstm_workspace_size(const LstmShape& s);

// y (B, T, 2H) and reserve are overwritten; x (B, T, I), w_ih (2, 4H, I), w_hh (2, 4H, H),
// b_ih (2, 4H), b_hh (2, 4H). workspace is unused by forward (may be nullptr).
// threads: BLAS threads of the one-shot input GEMM; with threads >= 2 the two directions'
// recurrences also run concurrently, each with one BLAS thread. The caller's BLAS thread count
// is restored on return. The recurrences' results do not depend on `threads`; the one-shot GEMMs'
// are bitwise equal only where the BLAS's threaded GEMM gives its single-threaded bits (neither
// oneDNN nor OpenBLAS promises that).
void lstm_forward(float* y, float* reserve, float* workspace, const float* x, const float* w_ih, const float* w_hh,
                  const float* b_ih, const float* b_hh, const LstmShape& s, int threads);

// Gradients ACCUMULATE (+=): dx (B, T, I) or nullptr (then the input-gradient GEMM is skipped),
// dw_ih (2, 4H, I), dw_hh (2, 4H, H), db_ih (2, 4H), db_hh (2, 4H). dy (B, T, 2H); x, y, reserve
// and the weights as given to / produced by lstm_forward. threads as for lstm_forward.
void lstm_backward(float* dx, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh, float* workspace, const float* dy,
                   const float* x, const float* y, const float* reserve, const float* w_ih, const float* w_hh,
                   const LstmShape& s, int threads);

}  // namespace parbench::kernels::cpu
