#pragma once
#include <string>

namespace mdcsrn {

enum class DeviceKind { Cpu, Cuda };

// Number of usable CUDA devices: 0 in a CPU-only build, without a driver, or without a GPU.
int cuda_device_count();

// One line naming the device, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" or the CPU threads.
std::string describe_device(DeviceKind kind);

}  // namespace mdcsrn
