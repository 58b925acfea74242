// test_cpu_fused's main: the fused CPU kernels' suites at the instruction set MDCSRN_MAX_CPU_ISA
// names (the highest this CPU has when unset), reported as skipped (exit 77) where they cannot run
// there: a CPU below AVX2, or one without the instruction set named, whose kernels would run a
// lower path than the one the test is for.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "engine/cpu_isa.h"
#include "kernels/cpu_fused/context.h"

int main(int argc, char** argv) {
  const std::string why = mdcsrn::cpu_fused_unsupported();
  if (!why.empty()) {
    std::printf("SKIPPED: the fused CPU kernels cannot run on %s\n", why.c_str());
    return 77;
  }
  const char* cap = std::getenv("MDCSRN_MAX_CPU_ISA");
  if (cap && *cap && mdcsrn::cpu_isa() != *mdcsrn::parse_cpu_isa(cap)) {
    std::printf("SKIPPED: the fused CPU kernels' %s path: this CPU has only %s\n", cap, mdcsrn::cpu_isa_name(mdcsrn::cpu_isa()).c_str());
    return 77;
  }
  std::printf("the fused CPU kernels on %s\n", mdcsrn::cpu_fused_kernels().c_str());
  return doctest::Context(argc, argv).run();
}
