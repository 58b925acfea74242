#include "tests/kernels/probe_kernels.h"

#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::probe {
namespace {

MDCSRN_KERNEL void shuffle_kernel(Shuffle mode, unsigned mask, const int* operand, int width, int* out_int, double* out_double) {
  const unsigned l = simt::lane();
  if (!((mask >> l) & 1u)) {
    out_int[l] = -1;
    out_double[l] = -1;
    return;
  }
  const int v = 1000 + int(l);
  const double d = -0.5 * double(l);
  const int op = operand[l];
  switch (mode) {
    case Shuffle::Index:
      out_int[l] = simt::shfl(mask, v, op, width);
      out_double[l] = simt::shfl(mask, d, op, width);
      break;
    case Shuffle::Up:
      out_int[l] = simt::shfl_up(mask, v, unsigned(op), width);
      out_double[l] = simt::shfl_up(mask, d, unsigned(op), width);
      break;
    case Shuffle::Down:
      out_int[l] = simt::shfl_down(mask, v, unsigned(op), width);
      out_double[l] = simt::shfl_down(mask, d, unsigned(op), width);
      break;
    case Shuffle::Xor:
      out_int[l] = simt::shfl_xor(mask, v, op, width);
      out_double[l] = simt::shfl_xor(mask, d, op, width);
      break;
  }
}

MDCSRN_KERNEL void vote_kernel(unsigned mask, const int* predicate, unsigned* ballot, int* any, int* all) {
  const unsigned l = simt::lane();
  if (!((mask >> l) & 1u)) return;
  const bool p = predicate[l] != 0;
  ballot[l] = simt::ballot(mask, p);
  any[l] = simt::any(mask, p);
  all[l] = simt::all(mask, p);
}

template <int Count, bool Trans>
MDCSRN_KERNEL void ldmatrix_kernel(int row_stride, uint32_t* out) {
  const simt::Shared<uint16_t> s = simt::shared<uint16_t>(0, 32 * row_stride);
  const unsigned l = simt::lane();
  // Lane l writes row l: matrix l / 8, row l % 8.
  for (int c = 0; c < 8; ++c) s.store(int(l) * row_stride + c, uint16_t(((l / 8) << 12) | ((l % 8) << 8) | unsigned(c)));
  simt::barrier();
  uint32_t r[Count];
  simt::ldmatrix<Count, Trans>(r, s, int(l % (8 * Count)) * row_stride);
  for (int i = 0; i < 4; ++i) out[4 * l + unsigned(i)] = i < Count ? r[i] : 0u;
}

// The fragment layouts as the PTX ISA states them ("Matrix Fragments for mma.m16n8k16 with
// floating point type"), independently of kernels/simt/tensor_core.h.
MDCSRN_KERNEL void mma_kernel(const uint16_t* a, const uint16_t* b, const float* c, float* d) {
  const int lane = int(simt::lane()), group = lane >> 2, tig = lane % 4;
  uint32_t af[4], bf[2];
  float cf[4], df[4];
  for (int r = 0; r < 4; ++r) {
    uint16_t e[2];
    for (int h = 0; h < 2; ++h) {
      const int i = 2 * r + h;
      const int row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
      const int col = i < 4 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
      e[h] = a[row * 16 + col];
    }
    af[r] = pack_bf16x2(e[0], e[1]);
  }
  for (int r = 0; r < 2; ++r) {
    uint16_t e[2];
    for (int h = 0; h < 2; ++h) {
      const int i = 2 * r + h;
      const int row = i < 2 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
      e[h] = b[row * 8 + group];
    }
    bf[r] = pack_bf16x2(e[0], e[1]);
  }
  for (int i = 0; i < 4; ++i) cf[i] = c[(i < 2 ? group : group + 8) * 8 + tig * 2 + (i & 1)];
  simt::mma_m16n8k16_bf16(df, af, bf, cf);
  for (int i = 0; i < 4; ++i) d[(i < 2 ? group : group + 8) * 8 + tig * 2 + (i & 1)] = df[i];
}

constexpr int kGemmM = 64, kGemmN = 32, kGemmK = 64;

MDCSRN_KERNEL void warp_gemm_kernel(const uint16_t* a, const uint16_t* bt, float* c) {
  const simt::Shared<uint16_t> as = simt::shared<uint16_t>(0, kGemmM * kGemmK);
  const simt::Shared<uint16_t> bs = simt::shared<uint16_t>(sizeof(uint16_t) * kGemmM * kGemmK, kGemmN * kGemmK);
  const int t = int(simt::linear_thread()), threads = int(simt::block_threads());
  for (int chunk = t; chunk < kGemmM * kGemmK / 8; chunk += threads) simt::cp_async<16>(as, 8 * chunk, a + 8 * chunk);
  for (int chunk = t; chunk < kGemmN * kGemmK / 8; chunk += threads) simt::cp_async<16>(bs, 8 * chunk, bt + 8 * chunk);
  simt::cp_async_commit();
  simt::cp_async_wait<0>();
  simt::barrier();
  const int lane = int(simt::lane()), row0 = 16 * int(simt::warp());
  float acc[kGemmN / 8][4] = {};
  for (int k0 = 0; k0 < kGemmK; k0 += 16) {
    uint32_t af[4];
    // Matrices 0..3: rows +0 / +8, columns +0 / +8, in the order of the A fragment's registers.
    simt::ldmatrix<4>(af, as, (row0 + lane % 8 + 8 * ((lane / 8) % 2)) * kGemmK + k0 + 8 * (lane / 16));
    for (int nt = 0; nt < kGemmN / 8; ++nt) {
      uint32_t bf[2];
      simt::ldmatrix<2>(bf, bs, (8 * nt + lane % 8) * kGemmK + k0 + 8 * ((lane / 8) % 2));
      simt::mma_m16n8k16_bf16(acc[nt], af, bf, acc[nt]);
    }
  }
  for (int nt = 0; nt < kGemmN / 8; ++nt)
    for (int i = 0; i < 4; ++i) {
      const simt::FragmentPosition p = simt::mma_c_position(lane, i);
      c[(row0 + p.row) * kGemmN + 8 * nt + p.col] = acc[nt][i];
    }
}

MDCSRN_KERNEL void async_copy_kernel(const float* src, float* out) {
  const int t = int(simt::linear_thread()), threads = int(simt::block_threads());
  const simt::Shared<float> s = simt::shared<float>(0, 4 * threads);
  simt::cp_async<16>(s, 4 * t, src + 4 * t, (t % 5) * 4);
  simt::cp_async_commit();
  simt::cp_async_wait<0>();
  simt::barrier();
  const int from = (t + 1) % threads;
  for (int i = 0; i < 4; ++i) out[4 * t + i] = s.load(4 * from + i);
}

}  // namespace

template <class Context>
void shuffles(Context& ctx, Shuffle mode, unsigned mask, const int* operand, int width, int* out_int, double* out_double) {
  simt::launch(ctx, simt::LaunchConfig(1, 32), shuffle_kernel, mode, mask, operand, width, out_int, out_double);
}

template <class Context>
void votes(Context& ctx, unsigned mask, const int* predicate, unsigned* ballot, int* any, int* all) {
  simt::launch(ctx, simt::LaunchConfig(1, 32), vote_kernel, mask, predicate, ballot, any, all);
}

template <class Context>
void load_matrices(Context& ctx, int count, bool trans, int row_stride, uint32_t* out) {
  const simt::LaunchConfig config(1, 32, sizeof(uint16_t) * 32 * size_t(row_stride));
  if (count == 1) simt::launch(ctx, config, trans ? ldmatrix_kernel<1, true> : ldmatrix_kernel<1, false>, row_stride, out);
  if (count == 2) simt::launch(ctx, config, trans ? ldmatrix_kernel<2, true> : ldmatrix_kernel<2, false>, row_stride, out);
  if (count == 4) simt::launch(ctx, config, trans ? ldmatrix_kernel<4, true> : ldmatrix_kernel<4, false>, row_stride, out);
}

template <class Context>
void mma_tile(Context& ctx, const uint16_t* a, const uint16_t* b, const float* c, float* d) {
  simt::launch(ctx, simt::LaunchConfig(1, 32), mma_kernel, a, b, c, d);
}

template <class Context>
void warp_gemm(Context& ctx, const uint16_t* a, const uint16_t* bt, float* c) {
  simt::launch(ctx, simt::LaunchConfig(1, 32 * kGemmM / 16, sizeof(uint16_t) * (kGemmM + kGemmN) * kGemmK), warp_gemm_kernel, a, bt, c);
}

template <class Context>
void async_copies(Context& ctx, const float* src, int threads, float* out) {
  simt::launch(ctx, simt::LaunchConfig(1, unsigned(threads), sizeof(float) * 4 * size_t(threads)), async_copy_kernel, src, out);
}

using simt::TargetContext;
template void shuffles(TargetContext&, Shuffle, unsigned, const int*, int, int*, double*);
template void votes(TargetContext&, unsigned, const int*, unsigned*, int*, int*);
template void load_matrices(TargetContext&, int, bool, int, uint32_t*);
template void mma_tile(TargetContext&, const uint16_t*, const uint16_t*, const float*, float*);
template void warp_gemm(TargetContext&, const uint16_t*, const uint16_t*, float*);
template void async_copies(TargetContext&, const float*, int, float*);

}  // namespace mdcsrn::probe
