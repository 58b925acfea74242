#pragma once
// Where the GPU-kernel tests of tests/kernels run: compiled into test_emu, on the SIMT emulator
// (CPU, every build); compiled into test_gpu (MDCSRN_TEST_ON_DEVICE), on the CUDA device; the fused
// kernels' tests also compiled into test_cpu_fused (MDCSRN_TEST_ON_CPU_FUSED), on their native CPU
// implementations (kernels/cpu_fused). The same sources check the same kernels against the same
// references everywhere, so a device run also checks the emulator's definitions of the primitives
// against the hardware.
#include "tests/memory_tensor.h"
#if defined(MDCSRN_TEST_ON_DEVICE)
#include "engine/cuda_context.h"
#elif defined(MDCSRN_TEST_ON_CPU_FUSED)
#include "kernels/cpu_fused/kernels.h"
#else
#include "kernels/simt/emulator.h"
#endif

namespace mdcsrn {
class CudaContext;
}

namespace mdcsrn::test {

#if defined(MDCSRN_TEST_ON_DEVICE)
using TargetContext = CudaContext;
#define MDCSRN_TARGET_SUITE(name) "gpu_" name
#elif defined(MDCSRN_TEST_ON_CPU_FUSED)
using TargetContext = CpuFusedContext;
#define MDCSRN_TARGET_SUITE(name) "cpu_fused_" name
#else
using TargetContext = simt::Emulator;
#define MDCSRN_TARGET_SUITE(name) "emu_" name
#endif
constexpr MemoryKind kTargetMemory = TargetContext::memory;

struct TargetTensor : MemoryTensor {
  explicit TargetTensor(const HostTensor<float>& host) : MemoryTensor(kTargetMemory, host) {}
};

template <class T>
Buffer<T> target_copy(const std::vector<T>& host) {
  return copy_to(kTargetMemory, host);
}

// The CUDA context a GPU dataset samples on (GeneratorStep's), or none where the target's memory is
// the host's and sampling runs on the CPU.
#ifdef MDCSRN_TEST_ON_DEVICE
inline CudaContext* sampling_context(TargetContext& ctx) { return &ctx; }
#else
inline CudaContext* sampling_context(TargetContext&) { return nullptr; }
#endif

// A target buffer filled with NaN, so that an element a kernel should write and does not shows.
inline Buffer<float> poisoned(int64_t count) { return target_copy(std::vector<float>(size_t(count), NAN)); }

// The view's elements of a host tensor set to NaN (outputs that are overwritten); what lies
// outside the view keeps its values, so that writes there still show.
inline void poison(HostTensor<float>& t) {
  for (int64_t i : view_offsets(t)) t.storage[size_t(i)] = NAN;
}

}  // namespace mdcsrn::test
