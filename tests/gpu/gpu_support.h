#pragma once
// Device copies of host test tensors and vectors.
#include "engine/cuda_context.h"
#include "tests/memory_tensor.h"

namespace mdcsrn::test {

struct DeviceTensor : MemoryTensor {
  explicit DeviceTensor(const HostTensor<float>& host) : MemoryTensor(MemoryKind::Device, host) {}
};

inline Buffer<float> device_copy(const std::vector<float>& host) { return copy_to(MemoryKind::Device, host); }

}  // namespace mdcsrn::test
