#pragma once
// Deterministic reductions for the GPU kernels on both targets: a warp merges its lanes' partials
// by shuffles in a fixed tree, the warps' results meet in shared memory, and per-plane partials
// are merged by a finalising kernel in index order. No float atomics, so a run repeats bit for bit.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/plane_grid.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

// A trivially copyable value moved down the warp by `delta` lanes, one 32-bit word at a time.
template <class T>
MDCSRN_DEVICE T shuffle_down_words(const T& value, unsigned delta) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 4 == 0, "shuffled partials are whole 32-bit words");
  uint32_t words[sizeof(T) / 4];
  memcpy(words, &value, sizeof(T));
  for (unsigned i = 0; i < sizeof(T) / 4; ++i) words[i] = simt::shfl_down(simt::kFullMask, words[i], delta);
  T out;
  memcpy(&out, words, sizeof(T));
  return out;
}

template <class Acc>
MDCSRN_DEVICE Acc warp_reduce(Acc acc) {
  for (unsigned offset = 16; offset > 0; offset >>= 1) acc.merge(shuffle_down_words(acc, offset));
  return acc;  // complete in lane 0
}

// Shared bytes block_reduce needs for a block of `threads` threads.
template <class Acc>
constexpr size_t block_reduce_shared_bytes(int threads = kThreads) {
  return sizeof(Acc) * size_t((threads + 31) / 32);
}

// Merges one partial per thread; linear thread 0 receives the block's result. `per_warp` holds
// one partial per warp of the block (block_reduce_shared_bytes). Every thread must call it.
template <class Acc>
MDCSRN_DEVICE Acc block_reduce(Acc acc, simt::Shared<Acc> per_warp) {
  acc = warp_reduce(acc);
  const unsigned warps = (simt::block_threads() + 31) / 32;
  if (simt::lane() == 0) per_warp.store(int(simt::warp()), acc);
  simt::barrier();
  if (simt::warp() == 0) {
    acc = simt::lane() < warps ? per_warp.load(int(simt::lane())) : Acc{};
    acc = warp_reduce(acc);
  }
  return acc;
}

// How the per-plane partials of a grouped reduction are ordered: per channel (BatchNorm: the N
// planes of channel c are consecutive) or per sample (LayerNorm, losses: sample n's C planes).
struct PartialLayout {
  int64_t samples = 0, channels = 0;
  bool by_channel = false;
  MDCSRN_HD int64_t index(const PlaneCoords& p, int part, int parts) const {
    const int64_t plane = by_channel ? p.c * samples + p.n : p.n * channels + p.c;
    return plane * parts + part;
  }
};

// Block (part, plane) pushes its share of the plane through load(acc, plane, s, Width<W>) into a
// per-thread accumulator and writes the merged result (acc.result()) to its partial slot.
template <class Accumulator, class Loader>
MDCSRN_KERNEL void plane_partials_kernel(PlaneGrid g, Loader load, PartialLayout layout,
                                         decltype(Accumulator{}.result())* partials) {
  using Partial = decltype(Accumulator{}.result());
  Accumulator acc{};
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) { load(acc, p, s, width); });
  const Partial merged = block_reduce(acc.result(), simt::shared<Partial>(0, int((simt::block_threads() + 31) / 32)));
  if (simt::linear_thread() == 0) partials[layout.index(g.plane(), g.part(), g.parts())] = merged;
}

// Enough blocks per plane to give the GPU a few hundred in all, each with a few thousand elements.
inline int reduction_parts(const Shape5& shape) {
  const int64_t planes = shape.n * shape.c;
  const int64_t wanted = std::max<int64_t>(1, 1024 / std::max<int64_t>(planes, 1));
  const int64_t useful = std::max<int64_t>(1, shape.spatial() / (kThreads * 16));
  return int(std::min(wanted, useful));
}

}  // namespace mdcsrn
