#pragma once
// Small kernels that exercise one SIMT primitive each, so that tests can hold the result against
// the PTX ISA's definition: on the emulator this checks the emulator, on a device the same test
// checks the emulator's definition against the hardware. Launchers take target memory.
#include <cstdint>

#include "kernels/simt/simt.h"

namespace mdcsrn::probe {

enum class Shuffle { Index, Up, Down, Xor };

// One warp; lane l (if in mask) shuffles the 32-bit value 1000 + l and the double -0.5 * l with
// operand[l] and width, writing out_int[l] and out_double[l]; lanes outside mask write -1.
template <class Context>
void shuffles(Context& ctx, Shuffle mode, unsigned mask, const int* operand, int width, int* out_int, double* out_double);

// One warp; lanes in mask vote predicate[l]: ballot, any and all, per lane.
template <class Context>
void votes(Context& ctx, unsigned mask, const int* predicate, unsigned* ballot, int* any, int* all);

// Four 8x8 matrices of 16-bit words, element (m, r, c) = (m << 12) | (r << 8) | c, stored with
// row (m, r) at element (8 m + r) * row_stride of shared memory; one warp loads `count` of them
// (trans or not) with ldmatrix and writes register i of lane l to out[4 l + i].
template <class Context>
void load_matrices(Context& ctx, int count, bool trans, int row_stride, uint32_t* out);

// D = A B + C for one m16n8k16 tile, with the fragments built by the PTX ISA's formulas written
// out in the kernel: a [16 x 16] and b [16 x 8] bf16 bits row-major, c and d [16 x 8] floats.
template <class Context>
void mma_tile(Context& ctx, const uint16_t* a, const uint16_t* b, const float* c, float* d);

// C [64 x 32] = A [64 x 64] B for bf16 A (row-major) and B given as its transpose bt [32 x 64],
// by four warps: cp.async into shared memory, ldmatrix fragments, mma, the fragment maps of
// kernels/simt/tensor_core.h for the output.
template <class Context>
void warp_gemm(Context& ctx, const uint16_t* a, const uint16_t* bt, float* c);

// Thread t of `threads` copies 16 bytes from src + 4 t into shared memory with cp.async, reading
// only (t % 5) * 4 of them (zero-fill), waits, meets the block at a barrier, then writes the four
// floats thread (t + 1) % threads copied to out + 4 t.
template <class Context>
void async_copies(Context& ctx, const float* src, int threads, float* out);

}  // namespace mdcsrn::probe
