#include "engine/cpu_isa.h"
#include "engine/device.h"
#include "engine/parallel.h"

namespace mdcsrn {

int cuda_device_count() { return 0; }

std::string describe_device(DeviceKind kind) {
  if (kind == DeviceKind::Cuda) return "no CUDA backend in this build";
  return "CPU, " + std::to_string(cpu_threads()) + " threads, " + cpu_isa_name(cpu_isa());
}

}  // namespace mdcsrn
