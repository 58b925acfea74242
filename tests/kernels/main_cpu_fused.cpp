// test_cpu_fused's main: the fused CPU kernels' suites, reported as skipped (exit 77) on a CPU
// that cannot run them (below AVX2, or capped there by MDCSRN_MAX_CPU_ISA).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "kernels/cpu_fused/context.h"

int main(int argc, char** argv) {
  const std::string why = mdcsrn::cpu_fused_unsupported();
  if (!why.empty()) {
    std::printf("SKIPPED: the fused CPU kernels cannot run on %s\n", why.c_str());
    return 77;
  }
  return doctest::Context(argc, argv).run();
}
