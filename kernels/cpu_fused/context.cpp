#include "kernels/cpu_fused/context.h"

#include <cstring>

#include "engine/cpu_isa.h"

namespace mdcsrn {

void CpuFusedContext::zero(void* p, size_t bytes) const { std::memset(p, 0, bytes); }

std::string cpu_fused_unsupported() {
  if (cpu_isa() >= CpuIsa::Avx2) return "";
  return "this CPU's instructions (" + cpu_isa_name(cpu_isa()) + "; the fused CPU kernels need AVX2 and FMA)";
}

std::string cpu_fused_kernels() {
  if (cpu_isa() >= CpuIsa::AmxBf16)
    return std::string("AMX-BF16 (bf16 storage; the dense units in TDPBF16PS tiles") +
           (cpu_amx_tiles() == AmxTiles::Emulated ? " on a software model of the tiles" : "") +
           ", the 1x1 layers in VDPBF16PS; fp32 accumulation)";
  if (cpu_isa() >= CpuIsa::Avx512Bf16) return "AVX512-BF16 (bf16 storage; the dense units' products in VDPBF16PS, fp32 accumulation)";
  return "AVX2+FMA (bf16 storage, fp32 arithmetic)";
}

}  // namespace mdcsrn
