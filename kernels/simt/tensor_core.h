#pragma once
// Tensor-core and asynchronous-copy primitives: ldmatrix (x1/x2/x4, .trans), mma.sync.aligned
// m16n8k16 with bf16 inputs and fp32 accumulation, and cp.async with commit and wait groups. On
// the device each is one PTX instruction, the only inline PTX in the project. Under the emulator
// each follows the PTX ISA (9.1): the mma fragment layouts of "Matrix Fragments for mma.m16n8k16
// with floating point type", ldmatrix's row addresses from threads 8m..8m+7 for matrix m and lane
// L receiving row L/4, columns 2(L%4) and 2(L%4)+1 (of the transpose with .trans), cp.async data
// visible to the issuing thread only after the wait on its group.
#include <cstdint>
#include <vector>

#include "engine/bfloat16.h"
#include "kernels/simt/simt.h"
#if !defined(__CUDACC__)
#include "kernels/simt/mma_accumulation.h"
#endif

namespace mdcsrn::simt {

// Where element i of a lane's mma.m16n8k16 fragment sits in its matrix: A is 16x16 (row-major
// M x K) with elements 0..7 in registers 0..3, two per register, low half first; B is 16x8 (K x N)
// with elements 0..3 in registers 0..1; C and D are 16x8 fp32, elements 0..3.
struct FragmentPosition {
  int row, col;
};
MDCSRN_HD FragmentPosition mma_a_position(int lane, int i) {
  const int group = lane >> 2, t = lane % 4;
  return {group + 8 * ((i >> 1) & 1), t * 2 + (i & 1) + 8 * (i >> 2)};
}
MDCSRN_HD FragmentPosition mma_b_position(int lane, int i) {
  const int group = lane >> 2, t = lane % 4;
  return {t * 2 + (i & 1) + 8 * (i >> 1), group};
}
MDCSRN_HD FragmentPosition mma_c_position(int lane, int i) {
  const int group = lane >> 2, t = lane % 4;
  return {group + 8 * (i >> 1), t * 2 + (i & 1)};
}

#if defined(__CUDACC__)

// d = a * b + c for the warp's 16x8x16 tile.
MDCSRN_DEVICE void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

// Count 8x8 matrices of 16-bit elements; lanes 8m..8m+7 pass the index in `s` of the start of row
// 0..7 of matrix m (16-byte aligned); register m receives this lane's fragment of matrix m.
template <int Count, bool Trans = false>
MDCSRN_DEVICE void ldmatrix(uint32_t (&r)[Count], Shared<uint16_t> s, int row_start) {
  static_assert(Count == 1 || Count == 2 || Count == 4, "ldmatrix loads 1, 2 or 4 matrices");
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(s.address(row_start)));
  if constexpr (Count == 1 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address) : "memory");
  else if constexpr (Count == 1)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address) : "memory");
  else if constexpr (Count == 2 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(address) : "memory");
  else if constexpr (Count == 2)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(address) : "memory");
  else if constexpr (!Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address)
                 : "memory");
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address)
                 : "memory");
}

// Copies Bytes (4, 8 or 16) from global src to element `index` of dst, asynchronously; only
// source_bytes are read and the rest is zero-filled (0 reads nothing). Both addresses are aligned
// to Bytes. The data is visible to this thread after cp_async_wait on its group, to the others
// after a barrier that follows that wait.
template <int Bytes, class T>
MDCSRN_DEVICE void cp_async(Shared<T> dst, int index, const T* src, int source_bytes = Bytes) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(dst.address(index)));
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(address), "l"(src), "n"(Bytes), "r"(source_bytes) : "memory");
}
MDCSRN_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most Pending of this thread's most recent groups are still in flight.
template <int Pending>
MDCSRN_DEVICE void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}

#else  // the host: the emulator

namespace tensor_core_detail {

inline float word_float(uint32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}
inline uint32_t float_word(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  return w;
}

// Operands: words 0-3 A, 4-5 B, 6-9 C. The device accumulates "with at least single precision" in
// an unspecified order (PTX ISA); each row's sum follows the accumulation model that
// MDCSRN_EMULATED_MMA names (mma_accumulation.h): rounded once by default, or Hopper's truncating
// alignment, or a pessimistic bound on both.
inline void mma_compute(unsigned mask, const emulator::LaneOperands* in, emulator::LaneResult* out) {
  if (mask != kFullMask) emulator::fault("mma.sync.aligned needs every lane of the warp");
  emulator::count_mma();
  float a[16][16], bt[8][16], c[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) {
      const uint32_t reg = in[lane].word[i / 2];
      const FragmentPosition p = mma_a_position(lane, i);
      a[p.row][p.col] = bf16_to_float(i % 2 ? bf16x2_high(reg) : bf16x2_low(reg));
    }
    for (int i = 0; i < 4; ++i) {
      const uint32_t reg = in[lane].word[4 + i / 2];
      const FragmentPosition p = mma_b_position(lane, i);
      bt[p.col][p.row] = bf16_to_float(i % 2 ? bf16x2_high(reg) : bf16x2_low(reg));
    }
    for (int i = 0; i < 4; ++i) {
      const FragmentPosition p = mma_c_position(lane, i);
      c[p.row][p.col] = word_float(in[lane].word[6 + i]);
    }
  }
  const MmaAccumulation model = mma_accumulation();
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const FragmentPosition p = mma_c_position(lane, i);
      out[lane].word[i] = float_word(mma_accumulate(model, c[p.row][p.col], a[p.row], bt[p.col], 16));
    }
}

// Operands: words 0-1 the row's shared byte (lanes 0 .. 8 * count - 1), 2 the count, 3 .trans.
inline void ldmatrix_compute(unsigned mask, const emulator::LaneOperands* in, emulator::LaneResult* out) {
  if (mask != kFullMask) emulator::fault("ldmatrix.sync.aligned needs every lane of the warp");
  const int count = int(in[0].word[2]);
  const bool trans = in[0].word[3] != 0;
  for (int lane = 1; lane < 32; ++lane)
    if (int(in[lane].word[2]) != count || (in[lane].word[3] != 0) != trans) emulator::fault("ldmatrix: lanes use different qualifiers");
  uint16_t m[4][8][8];
  const bool counting = emulator::counting();
  std::vector<LaneAccess> rows;  // for the counters only: no allocation per ldmatrix otherwise
  for (int matrix = 0; matrix < count; ++matrix)
    for (int row = 0; row < 8; ++row) {
      const int supplier = matrix * 8 + row;
      const size_t byte = size_t(in[supplier].word[0]) | (size_t(in[supplier].word[1]) << 32);
      if (byte % 16 != 0)
        emulator::fault("ldmatrix: lane " + std::to_string(supplier) + "'s row address (shared byte " + std::to_string(byte) +
                        ") is not 16-byte aligned");
      emulator::shared_read(byte, 16, m[matrix][row], emulator::warp_thread(unsigned(supplier)));
      if (counting) rows.push_back(LaneAccess{supplier, byte, 16});
    }
  if (counting) emulator::count_ldmatrix(rows, count);
  for (int lane = 0; lane < 32; ++lane)
    for (int matrix = 0; matrix < count; ++matrix) {
      const int r = lane / 4, c = 2 * (lane % 4);
      out[lane].word[matrix] =
          trans ? pack_bf16x2(m[matrix][c][r], m[matrix][c + 1][r]) : pack_bf16x2(m[matrix][r][c], m[matrix][r][c + 1]);
    }
}

}  // namespace tensor_core_detail

inline void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
  emulator::LaneOperands in;
  for (int i = 0; i < 4; ++i) in.word[i] = a[i];
  in.word[4] = b[0];
  in.word[5] = b[1];
  for (int i = 0; i < 4; ++i) in.word[6 + i] = tensor_core_detail::float_word(c[i]);
  const emulator::LaneResult r = emulator::collective(kFullMask, &tensor_core_detail::mma_compute, in, true);
  for (int i = 0; i < 4; ++i) d[i] = tensor_core_detail::word_float(r.word[i]);
}

template <int Count, bool Trans = false>
void ldmatrix(uint32_t (&r)[Count], Shared<uint16_t> s, int row_start) {
  static_assert(Count == 1 || Count == 2 || Count == 4, "ldmatrix loads 1, 2 or 4 matrices");
  emulator::LaneOperands in;
  if (int(lane()) < 8 * Count) {
    if (row_start + 8 > s.size()) emulator::fault_out_of_bounds("ldmatrix row end", int64_t(row_start) + 8, int64_t(s.size()));
    const size_t byte = s.address(row_start);
    in.word[0] = uint32_t(byte);
    in.word[1] = uint32_t(uint64_t(byte) >> 32);
  }
  in.word[2] = uint32_t(Count);
  in.word[3] = Trans ? 1u : 0u;
  const emulator::LaneResult result = emulator::collective(kFullMask, &tensor_core_detail::ldmatrix_compute, in, true);
  for (int i = 0; i < Count; ++i) r[i] = result.word[i];
}

template <int Bytes, class T>
void cp_async(Shared<T> dst, int index, const T* src, int source_bytes = Bytes, std::source_location where = std::source_location::current()) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
  static_assert(Bytes % sizeof(T) == 0, "cp.async copies whole elements");
  constexpr int elements = Bytes / int(sizeof(T));
  if (index + elements > dst.size()) emulator::fault_out_of_bounds("cp.async destination end", int64_t(index) + elements, dst.size());
  emulator::async_copy(dst.address(index), src, Bytes, source_bytes, where);
}
inline void cp_async_commit() { emulator::async_commit(); }
template <int Pending>
void cp_async_wait() {
  emulator::async_wait(Pending);
}

#endif

}  // namespace mdcsrn::simt
