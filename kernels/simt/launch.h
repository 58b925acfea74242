#pragma once
// Launching a kernel written over simt.h on the target its translation unit is compiled for: with
// nvcc, a CUDA launch on the context's stream; with the host compiler, a run under the emulator.
// A kernel family's launchers (the host functions of kernels/*.cu) are templates over the context
// type, explicitly instantiated for TargetContext in each of the file's two compilations.
#include <tuple>
#include <utility>

#include "kernels/simt/launch_config.h"
#include "kernels/simt/simt.h"

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#else
#include "kernels/simt/emulator.h"
#endif

namespace mdcsrn::simt {

#if defined(__CUDACC__)

using TargetContext = CudaContext;

template <class... Params, class... Args>
void launch(CudaContext& ctx, const LaunchConfig& c, void (*kernel)(Params...), Args&&... args) {
  if (c.shared_bytes > 48 * 1024)  // above 48 KiB a kernel must opt in to its dynamic shared memory
    MDCSRN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(c.shared_bytes)));
  kernel<<<dim3(c.grid.x, c.grid.y, c.grid.z), dim3(c.block.x, c.block.y, c.block.z), c.shared_bytes, ctx.stream()>>>(
      std::forward<Args>(args)...);
  MDCSRN_KERNEL_CHECK();
}

#else

using TargetContext = Emulator;

template <class... Params, class... Args>
void launch(Emulator& emulator, const LaunchConfig& c, void (*kernel)(Params...), Args&&... args) {
  const std::tuple<std::decay_t<Params>...> parameters(std::forward<Args>(args)...);  // copied once, as by a launch
  emulator.run(c, [&] { std::apply(kernel, parameters); }, reinterpret_cast<const void*>(kernel));
}

#endif

}  // namespace mdcsrn::simt
