#pragma once
// AMX's eight tile registers (tmm0-7, each up to 16 rows of 64 bytes) as the fused CPU kernels use
// them, in two interchangeable implementations: HardwareTiles issues the instructions (where
// cpu_amx_tiles() is Hardware: the CPU has AMX-BF16 and Linux granted the tile state), and
// EmulatedTiles computes the same on a software model of the registers, so that the AMX path's
// tiling is tested on CPUs without AMX. Tile numbers are template arguments because the
// instructions encode them.
//
// TDPBF16PS C += A B: for row m of C and A, column n of C, and k < A's bytes per row / 4,
// C[m][n] += A[m][2k] B[k][2n] + A[m][2k + 1] B[k][2n + 1] on bf16 pairs with fp32 accumulation:
// A is rows x 2K bf16 (K pairs of the reduction's index), B is K rows of 16 pairs (the layout of
// kernels/cpu_fused/bf16_pairs.h), C is rows x 16 fp32.
#include <cstdint>
#include <cstring>

#include "engine/bfloat16.h"
#include "engine/error.h"

namespace mdcsrn::cpu_fused::amx {

// Rows and bytes per row of each of the eight tiles: what LDTILECFG loads (palette 1).
struct TileShapes {
  uint8_t rows[8] = {};
  uint16_t bytes[8] = {};
};

// The 64-byte operand of LDTILECFG.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};

  explicit TileConfig(const TileShapes& s) {
    for (int t = 0; t < 8; ++t) bytes_per_row[t] = s.bytes[t], rows[t] = s.rows[t];
  }
};
static_assert(sizeof(TileConfig) == 64);

struct HardwareTiles {
  static constexpr bool emulated = false;
  static void configure(const TileShapes& s) {
    const TileConfig config(s);
    __asm__ volatile("ldtilecfg %0" ::"m"(config));
  }
  static void release() { __asm__ volatile("tilerelease" ::); }
  template <int T>
  static void zero() {
    __asm__ volatile("tilezero %%tmm%c0" ::"i"(T));
  }
  template <int T>
  static void load(const void* base, int64_t stride_bytes) {
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm%c2" ::"r"(base), "r"(stride_bytes), "i"(T) : "memory");
  }
  template <int T>
  static void store(void* base, int64_t stride_bytes) {
    __asm__ volatile("tilestored %%tmm%c2, (%0,%1,1)" ::"r"(base), "r"(stride_bytes), "i"(T) : "memory");
  }
  template <int C, int A, int B>
  static void dot_bf16() {
    __asm__ volatile("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
  }
};

// The registers of this thread, and the checks the hardware makes (it faults instead): a
// configured state, shapes within 16 x 64 bytes, and operands whose shapes agree.
struct EmulatedTiles {
  static constexpr bool emulated = true;
  static void configure(const TileShapes& s) {
    for (int t = 0; t < 8; ++t)
      MDCSRN_ASSERT(s.rows[t] <= 16 && s.bytes[t] <= 64 && s.bytes[t] % 4 == 0, "emulated AMX: tile " + std::to_string(t) + "'s shape");
    state().shapes = s;
    state().configured = true;
    std::memset(state().data, 0, sizeof state().data);
  }
  static void release() { state().configured = false; }
  template <int T>
  static void zero() {
    check<T>();
    std::memset(state().data[T], 0, sizeof state().data[T]);
  }
  template <int T>
  static void load(const void* base, int64_t stride_bytes) {
    check<T>();
    for (int r = 0; r < state().shapes.rows[T]; ++r)
      std::memcpy(state().data[T][r], static_cast<const char*>(base) + r * stride_bytes, state().shapes.bytes[T]);
  }
  template <int T>
  static void store(void* base, int64_t stride_bytes) {
    check<T>();
    for (int r = 0; r < state().shapes.rows[T]; ++r)
      std::memcpy(static_cast<char*>(base) + r * stride_bytes, state().data[T][r], state().shapes.bytes[T]);
  }
  template <int C, int A, int B>
  static void dot_bf16() {
    check<C>(), check<A>(), check<B>();
    const TileShapes& s = state().shapes;
    const int rows = s.rows[C], columns = s.bytes[C] / 4, pairs = s.bytes[A] / 4;
    MDCSRN_ASSERT(s.rows[A] == rows && s.rows[B] == pairs && s.bytes[B] == s.bytes[C], "emulated AMX: TDPBF16PS on tiles of unequal shapes");
    for (int m = 0; m < rows; ++m)
      for (int n = 0; n < columns; ++n) {
        float c = element<float>(C, m, n);
        for (int k = 0; k < pairs; ++k) {
          c += bf16_to_float(element<uint16_t>(A, m, 2 * k)) * bf16_to_float(element<uint16_t>(B, k, 2 * n));
          c += bf16_to_float(element<uint16_t>(A, m, 2 * k + 1)) * bf16_to_float(element<uint16_t>(B, k, 2 * n + 1));
        }
        std::memcpy(state().data[C][m] + 4 * n, &c, 4);
      }
  }

 private:
  struct State {
    bool configured = false;
    TileShapes shapes;
    uint8_t data[8][16][64];
  };
  static State& state() {
    thread_local State s;
    return s;
  }
  template <int T>
  static void check() {
    static_assert(T >= 0 && T < 8);
    MDCSRN_ASSERT(state().configured, "emulated AMX: a tile instruction before LDTILECFG");
  }
  template <class E>
  static E element(int tile, int row, int index) {
    E e;
    std::memcpy(&e, state().data[tile][row] + index * sizeof(E), sizeof e);
    return e;
  }
};

}  // namespace mdcsrn::cpu_fused::amx
