#include "engine/cpu_isa.h"

#include <cstdlib>

#include "engine/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace mdcsrn {
namespace {

constexpr const char* kNames[] = {"baseline", "avx2", "avx512_bf16", "amx_bf16"};

#if defined(__x86_64__) && defined(__GNUC__)
// The register state the operating system saves (XCR0): without it an instruction set the CPU
// has still faults.
unsigned long long enabled_state() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// Linux hands out the AMX tile data state (XFEATURE 18) only to a process that asks for it.
bool amx_tile_state_granted() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureTileData = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) == 0;
#else
  return false;
#endif
}

CpuIsa detect() {
  const unsigned long long xcr0 = enabled_state();
  const bool avx_state = (xcr0 & 0x6) == 0x6, avx512_state = avx_state && (xcr0 & 0xe0) == 0xe0,
             amx_state = avx512_state && (xcr0 & 0x60000) == 0x60000;
  unsigned a, b, c, d;
  if (!avx_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CpuIsa::Baseline;
  const unsigned leaf7_ebx = b, leaf7_edx = d;
  unsigned leaf1_ecx = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) leaf1_ecx = c;
  const bool avx2 = (leaf7_ebx & bit_AVX2) && (leaf1_ecx & bit_FMA);
  if (!avx2) return CpuIsa::Baseline;
  unsigned leaf7_1_eax = 0;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) leaf7_1_eax = a;
  const bool avx512 = avx512_state && (leaf7_ebx & bit_AVX512F) && (leaf7_ebx & bit_AVX512BW) && (leaf7_ebx & bit_AVX512VL) &&
                      (leaf7_1_eax & (1u << 5));  // AVX512_BF16
  if (!avx512) return CpuIsa::Avx2;
  const bool amx = amx_state && (leaf7_edx & (1u << 22)) && (leaf7_edx & (1u << 24));  // AMX-BF16, AMX-TILE
  return amx && amx_tile_state_granted() ? CpuIsa::AmxBf16 : CpuIsa::Avx512Bf16;
}
#else
CpuIsa detect() { return CpuIsa::Baseline; }
#endif

}  // namespace

std::string cpu_isa_name(CpuIsa isa) { return kNames[int(isa)]; }

std::optional<CpuIsa> parse_cpu_isa(const std::string& name) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return CpuIsa(i);
  return std::nullopt;
}

CpuIsa cpu_isa_detected() {
  static const CpuIsa detected = detect();
  return detected;
}

namespace {

bool amx_emulation_requested() {
  static const bool requested = [] {
    const char* value = std::getenv("MDCSRN_EMULATE_AMX");
    if (!value || !*value || std::string(value) == "0") return false;
    if (std::string(value) != "1") fail(std::string("MDCSRN_EMULATE_AMX: '") + value + "' is neither 0 nor 1");
    return true;
  }();
  return requested;
}

// What the kernels could use without a cap: emulated AMX needs AVX512-BF16 around its tiles.
CpuIsa cpu_isa_available() {
  return amx_emulation_requested() && cpu_isa_detected() >= CpuIsa::Avx512Bf16 ? CpuIsa::AmxBf16 : cpu_isa_detected();
}

}  // namespace

CpuIsa cpu_isa() {
  static const std::optional<CpuIsa> cap = [] {
    const char* value = std::getenv("MDCSRN_MAX_CPU_ISA");
    if (!value || !*value) return std::optional<CpuIsa>();
    const std::optional<CpuIsa> isa = parse_cpu_isa(value);
    if (!isa) fail(std::string("MDCSRN_MAX_CPU_ISA: '") + value + "' is not an instruction set; expected baseline, avx2, avx512_bf16 or amx_bf16");
    return isa;
  }();
  return cap && *cap < cpu_isa_available() ? *cap : cpu_isa_available();
}

AmxTiles cpu_amx_tiles() {
  if (cpu_isa() < CpuIsa::AmxBf16) return AmxTiles::None;
  return amx_emulation_requested() ? AmxTiles::Emulated : AmxTiles::Hardware;
}

}  // namespace mdcsrn
