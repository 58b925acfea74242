#pragma once
// The primitives a GPU kernel body is written over, for two targets from one source. Compiled by
// nvcc they are the CUDA built-ins and intrinsics; compiled by the host compiler they run under the
// SIMT emulator (emulator.h), where every thread of a block is a fiber, barriers and warp
// collectives really wait for their participants, and shared memory is checked: bounds, reads of
// words never written, and races (a word written by one thread and read or written by another
// between the same two barriers). Kernels use only these primitives: no built-in variables, no
// __shared__ declarations, no inline PTX (that lives in tensor_core.h).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "engine/hd.h"
#include "kernels/simt/launch_config.h"

#if defined(__CUDACC__)
#define MDCSRN_KERNEL __global__
#define MDCSRN_DEVICE __device__ __forceinline__
#else
#include <source_location>

#include "kernels/simt/emulator.h"
#define MDCSRN_KERNEL
#define MDCSRN_DEVICE inline
#endif

namespace mdcsrn::simt {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;

struct Float4 {
  float x, y, z, w;
};

// Sixteen bytes of anything (eight bf16 values, four packed pairs), for 16-byte accesses.
struct Words4 {
  uint32_t x, y, z, w;
};

// The types CUDA's __shfl*_sync take (and so the emulator too): 4- and 8-byte arithmetic values.
template <class T>
constexpr bool kShuffleable = std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && (sizeof(T) == 4 || sizeof(T) == 8);

#if defined(__CUDACC__)

MDCSRN_DEVICE Dim3 thread_idx() { return Dim3(threadIdx.x, threadIdx.y, threadIdx.z); }
MDCSRN_DEVICE Dim3 block_idx() { return Dim3(blockIdx.x, blockIdx.y, blockIdx.z); }
MDCSRN_DEVICE Dim3 block_dim() { return Dim3(blockDim.x, blockDim.y, blockDim.z); }
MDCSRN_DEVICE Dim3 grid_dim() { return Dim3(gridDim.x, gridDim.y, gridDim.z); }

MDCSRN_DEVICE void barrier() { __syncthreads(); }
MDCSRN_DEVICE void sync_warp(unsigned mask = kFullMask) { __syncwarp(mask); }

template <class T>
MDCSRN_DEVICE T shfl(unsigned mask, T value, int source_lane, int width = kWarpSize) {
  static_assert(kShuffleable<T>, "shuffles move 4- or 8-byte arithmetic values");
  return __shfl_sync(mask, value, source_lane, width);
}
template <class T>
MDCSRN_DEVICE T shfl_up(unsigned mask, T value, unsigned delta, int width = kWarpSize) {
  static_assert(kShuffleable<T>, "shuffles move 4- or 8-byte arithmetic values");
  return __shfl_up_sync(mask, value, delta, width);
}
template <class T>
MDCSRN_DEVICE T shfl_down(unsigned mask, T value, unsigned delta, int width = kWarpSize) {
  static_assert(kShuffleable<T>, "shuffles move 4- or 8-byte arithmetic values");
  return __shfl_down_sync(mask, value, delta, width);
}
template <class T>
MDCSRN_DEVICE T shfl_xor(unsigned mask, T value, int lane_mask, int width = kWarpSize) {
  static_assert(kShuffleable<T>, "shuffles move 4- or 8-byte arithmetic values");
  return __shfl_xor_sync(mask, value, lane_mask, width);
}
MDCSRN_DEVICE unsigned ballot(unsigned mask, bool predicate) { return __ballot_sync(mask, predicate); }
MDCSRN_DEVICE bool any(unsigned mask, bool predicate) { return __any_sync(mask, predicate) != 0; }
MDCSRN_DEVICE bool all(unsigned mask, bool predicate) { return __all_sync(mask, predicate) != 0; }

// A typed window of the block's dynamic shared memory.
template <class T>
class Shared {
  static_assert(sizeof(T) >= 2, "shared memory is race-checked in 2-byte granules: no 1-byte elements");

 public:
  MDCSRN_DEVICE Shared(T* data, int count) : data_(data), count_(count) {}
  MDCSRN_DEVICE T load(int i) const { return data_[i]; }
  MDCSRN_DEVICE void store(int i, T value) const { data_[i] = value; }
  MDCSRN_DEVICE int size() const { return count_; }
  MDCSRN_DEVICE T* address(int i) const { return data_ + i; }

 private:
  T* data_;
  int count_;
};

// `count` elements of T at `byte_offset` into the dynamic shared memory the launch requested.
template <class T>
MDCSRN_DEVICE Shared<T> shared(size_t byte_offset, int count) {
  extern __shared__ __align__(16) unsigned char simt_dynamic_shared[];
  return Shared<T>(reinterpret_cast<T*>(simt_dynamic_shared + byte_offset), count);
}

// 16-byte global loads and stores; the address must be 16-byte aligned.
MDCSRN_DEVICE Float4 load4(const float* p) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  return Float4{v.x, v.y, v.z, v.w};
}
MDCSRN_DEVICE void store4(float* p, Float4 v) { *reinterpret_cast<float4*>(p) = make_float4(v.x, v.y, v.z, v.w); }
MDCSRN_DEVICE Words4 load16(const void* p) {
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return Words4{v.x, v.y, v.z, v.w};
}
MDCSRN_DEVICE void store16(void* p, Words4 v) { *reinterpret_cast<uint4*>(p) = make_uint4(v.x, v.y, v.z, v.w); }

#define MDCSRN_UNROLL _Pragma("unroll")

#else  // the host: the emulator

inline Dim3 thread_idx() { return emulator::current().thread_idx; }
inline Dim3 block_idx() { return emulator::current().block_idx; }
inline Dim3 block_dim() { return emulator::current().block_dim; }
inline Dim3 grid_dim() { return emulator::current().grid_dim; }

inline void barrier(std::source_location where = std::source_location::current()) { emulator::barrier(where); }
inline void sync_warp(unsigned mask = kFullMask) { emulator::sync_warp(mask); }

namespace shuffle_detail {
template <class T>
T exchange(unsigned mask, T value, emulator::ShuffleMode mode, int operand, int width) {
  static_assert(kShuffleable<T>, "shuffles move 4- or 8-byte arithmetic values, as CUDA's __shfl*_sync");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = emulator::shuffle(mask, bits, mode, operand, width);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace shuffle_detail

template <class T>
T shfl(unsigned mask, T value, int source_lane, int width = kWarpSize) {
  return shuffle_detail::exchange(mask, value, emulator::ShuffleMode::Index, source_lane, width);
}
template <class T>
T shfl_up(unsigned mask, T value, unsigned delta, int width = kWarpSize) {
  return shuffle_detail::exchange(mask, value, emulator::ShuffleMode::Up, int(delta), width);
}
template <class T>
T shfl_down(unsigned mask, T value, unsigned delta, int width = kWarpSize) {
  return shuffle_detail::exchange(mask, value, emulator::ShuffleMode::Down, int(delta), width);
}
template <class T>
T shfl_xor(unsigned mask, T value, int lane_mask, int width = kWarpSize) {
  return shuffle_detail::exchange(mask, value, emulator::ShuffleMode::Xor, lane_mask, width);
}
inline unsigned ballot(unsigned mask, bool predicate) { return emulator::ballot(mask, predicate); }
inline bool any(unsigned mask, bool predicate) { return (emulator::ballot(mask, predicate) & mask) != 0; }
inline bool all(unsigned mask, bool predicate) { return emulator::ballot(mask, !predicate) == 0; }  // over the lanes present

template <class T>
class Shared {
  static_assert(std::is_trivially_copyable_v<T>, "shared memory holds trivially copyable values");
  static_assert(sizeof(T) >= 2, "shared memory is race-checked in 2-byte granules: no 1-byte elements");

 public:
  Shared(size_t byte_offset, int count) : byte_offset_(byte_offset), count_(count) {}
  // `where` identifies the access for the emulator's counters (counters.h).
  T load(int i, std::source_location where = std::source_location::current()) const {
    T value;
    const size_t byte = checked_byte(i);
    if (emulator::counting()) emulator::count_shared(SharedAccess::Load, byte, int(sizeof(T)), where);
    emulator::shared_read(byte, sizeof(T), &value);
    return value;
  }
  void store(int i, T value, std::source_location where = std::source_location::current()) const {
    const size_t byte = checked_byte(i);
    if (emulator::counting()) emulator::count_shared(SharedAccess::Store, byte, int(sizeof(T)), where);
    emulator::shared_write(byte, sizeof(T), &value);
  }
  int size() const { return count_; }
  // The byte offset of element i in the block's shared memory (what ldmatrix and cp.async take).
  size_t address(int i) const { return checked_byte(i); }

 private:
  size_t checked_byte(int i) const {
    if (i < 0 || i >= count_) emulator::fault_out_of_bounds("shared-memory index", int64_t(i), int64_t(count_));
    return byte_offset_ + size_t(i) * sizeof(T);
  }
  size_t byte_offset_;
  int count_;
};

template <class T>
Shared<T> shared(size_t byte_offset, int count) {
  emulator::check_shared_window(byte_offset, size_t(count) * sizeof(T), alignof(T));
  return Shared<T>(byte_offset, count);
}

inline Float4 load4(const float* p, std::source_location where = std::source_location::current()) {
  emulator::check_global_alignment(p, 16);
  if (emulator::counting()) emulator::count_global(GlobalAccess::Load, p, 16, where);
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, Float4 v, std::source_location where = std::source_location::current()) {
  emulator::check_global_alignment(p, 16);
  if (emulator::counting()) emulator::count_global(GlobalAccess::Store, p, 16, where);
  std::memcpy(p, &v, sizeof v);
}
inline Words4 load16(const void* p, std::source_location where = std::source_location::current()) {
  emulator::check_global_alignment(p, 16);
  if (emulator::counting()) emulator::count_global(GlobalAccess::Load, p, 16, where);
  Words4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(void* p, Words4 v, std::source_location where = std::source_location::current()) {
  emulator::check_global_alignment(p, 16);
  if (emulator::counting()) emulator::count_global(GlobalAccess::Store, p, 16, where);
  std::memcpy(p, &v, sizeof v);
}

// Loop unrolling is the device compiler's business; the host runs the loop as written.
#define MDCSRN_UNROLL

#endif

// Single-rounded multiply and add that the device compiler may not fuse into an FMA (the host
// compiler does not fuse without FMA code generation): for results the CPU must reproduce bit for bit.
MDCSRN_DEVICE float mul_rn(float a, float b) {
#if defined(__CUDACC__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MDCSRN_DEVICE float add_rn(float a, float b) {
#if defined(__CUDACC__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// Derived indices, the same on both targets. Warps are made of consecutive linear thread indices.
MDCSRN_DEVICE unsigned linear_thread() {
  const Dim3 t = thread_idx(), b = block_dim();
  return t.x + b.x * (t.y + b.y * t.z);
}
MDCSRN_DEVICE unsigned block_threads() {
  const Dim3 b = block_dim();
  return b.x * b.y * b.z;
}
MDCSRN_DEVICE unsigned lane() { return linear_thread() % kWarpSize; }
MDCSRN_DEVICE unsigned warp() { return linear_thread() / kWarpSize; }

}  // namespace mdcsrn::simt
