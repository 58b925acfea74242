// The convolutions of the GPU backend under the SIMT emulator: the CPU's fp32 convolutions, in the
// place cuDNN takes on a device.
#include "kernels/conv3d.h"
#include "kernels/simt/emulator.h"

namespace mdcsrn::gpu {

void conv3d_forward(simt::Emulator&, const ConvParams& p, Tensor<const float> x, const float* weight, const float* bias,
                    Tensor<float> y) {
  cpu::conv3d_forward<float>(p, x, weight, bias, y);
}

void conv3d_backward_data(simt::Emulator&, const ConvParams& p, const float* weight, Tensor<const float> dy, Tensor<float> dx,
                          GradMode mode) {
  cpu::conv3d_backward_data<float>(p, weight, dy, dx, mode);
}

void conv3d_backward_weight(simt::Emulator&, const ConvParams& p, Tensor<const float> x, Tensor<const float> dy, float* dweight,
                            float* dbias, GradMode mode) {
  cpu::conv3d_backward_weight<float>(p, x, dy, dweight, dbias, mode);
}

}  // namespace mdcsrn::gpu
