#pragma once
// The CPU instruction sets the kernels may use, chosen at run time: what the CPU and the operating
// system allow, capped by the environment variable MDCSRN_MAX_CPU_ISA (as oneDNN's
// ONEDNN_MAX_CPU_ISA), so that every lower path can be tested on a machine that has a higher one.
#include <optional>
#include <string>

namespace mdcsrn {

// Ordered: each level includes the ones below it.
enum class CpuIsa {
  Baseline,    // what the compiler targets by default (x86-64: SSE2)
  Avx2,        // AVX2 and FMA
  Avx512Bf16,  // AVX-512 F/BW/VL with VDPBF16PS
  AmxBf16,     // AMX tiles with TDPBF16PS (Linux grants the tile state on request)
};

std::string cpu_isa_name(CpuIsa isa);  // baseline, avx2, avx512_bf16, amx_bf16
std::optional<CpuIsa> parse_cpu_isa(const std::string& name);

// The highest level the CPU and the operating system allow, whatever the cap.
CpuIsa cpu_isa_detected();

// The level the kernels use: the detected one (or amx_bf16 when AMX is emulated, below), capped by
// MDCSRN_MAX_CPU_ISA when it is set. An unknown value is a one-line Error naming the variable (the
// commands check it before they start).
CpuIsa cpu_isa();

// Where the AMX path's tile registers are (kernels/cpu_fused/amx_tiles.h): none (cpu_isa() is below
// amx_bf16), the CPU's, or with MDCSRN_EMULATE_AMX=1 on a CPU with AVX512-BF16 a software model of
// them, so that the AMX path's tiling is tested where the CPU lacks AMX (slow: for tests only).
enum class AmxTiles { None, Hardware, Emulated };
AmxTiles cpu_amx_tiles();

}  // namespace mdcsrn
