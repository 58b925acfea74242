#pragma once
// The test programs' option --requires=cpu_fused: a ctest entry whose cases need the fused CPU
// kernels exits 77 (ctest's skip) with one line where they cannot run, instead of passing without
// testing anything. The option is taken out of argv before doctest reads it.
#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/cpu_fused/context.h"

namespace mdcsrn::test {

// 77 when a requirement named in argv is not met here, else 0.
inline int unmet_requirements(int& argc, char** argv) {
  int status = 0, kept = 0;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--requires=cpu_fused") != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    const std::string why = cpu_fused_unsupported();
    if (!why.empty()) {
      std::printf("SKIPPED: the fused CPU kernels cannot run on %s\n", why.c_str());
      status = 77;
    }
  }
  argc = kept;
  return status;
}

}  // namespace mdcsrn::test
