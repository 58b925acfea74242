// GPU tests: without a CUDA device the whole program reports "skipped" (exit code 77, which ctest
// shows as Skipped, never as Passed).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

#include "engine/device.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list", 6) == 0 || std::strncmp(argv[i], "-l", 2) == 0) listing = true;
  if (!listing && mdcsrn::cuda_device_count() == 0) {
    std::printf("SKIPPED: no CUDA device visible; these tests did not run\n");
    return 77;
  }
  if (!listing) std::printf("device: %s\n", mdcsrn::describe_device(mdcsrn::DeviceKind::Cuda).c_str());
  doctest::Context context(argc, argv);
  return context.run();
}
