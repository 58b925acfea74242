#pragma once
// The fast path's kernels (kernels/fused) on the CPU: a context type for which every kernel of
// FastGenerator is implemented natively (kernels/cpu_fused/*.cpp) instead of on the SIMT emulator.
// The same NDHWC bf16 feature buffer, deferred gradients, fp32 master weights and Adam; bf16
// operands, fp32 accumulation, and the same roundings to bf16 as the GPU kernels. Statistics and
// weight gradients are sums over fixed ranges of planes merged in order, so results do not
// depend on the number of CPU threads.
#include <cstddef>
#include <string>
#include <vector>

#include "engine/memory.h"

namespace mdcsrn {

class CpuFusedContext {
 public:
  static constexpr MemoryKind memory = MemoryKind::Host;

  CpuFusedContext() = default;
  CpuFusedContext(const CpuFusedContext&) = delete;
  CpuFusedContext& operator=(const CpuFusedContext&) = delete;

  void synchronize() const {}
  void zero(void* p, size_t bytes) const;
  bool tf32() const { return false; }
};

// Why this CPU cannot run the fused kernels (they need AVX2 and FMA, within MDCSRN_MAX_CPU_ISA),
// or "" when it can.
std::string cpu_fused_unsupported();

// The instruction set the fused kernels use here, e.g. "AVX2+FMA (bf16 storage, fp32 arithmetic)".
std::string cpu_fused_kernels();

}  // namespace mdcsrn
