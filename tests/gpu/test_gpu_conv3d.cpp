#include "kernels/conv3d.h"
#include "tests/gpu/gpu_support.h"

namespace mdcsrn::test {
namespace {

struct GpuConvCase {
  const char* name;
  ConvParams p;
  Shape5 x;
  int64_t out_channels;
  bool bias;
  int64_t x_total_channels, x_first;  // the input is channels [x_first, x_first + x.c) of a wider buffer
  int64_t y_total_channels, y_first;
};

// Shapes of mDCSRN, its critic and the brain-age DenseNet: a dense unit reading a feature slice and
// writing its 16 channels at an offset, a 1x1 compressor, a strided critic conv with bias, the
// regressor's 7^3 stride-2 stem.
const GpuConvCase kCases[] = {
    {"dense unit 3x3x3, 48 -> 16 into a 96-channel buffer", {3, 1, 1}, {2, 48, 16, 16, 16}, 16, false, 96, 0, 96, 48},
    {"compressor 1x1x1, 128 -> 32", {1, 1, 0}, {2, 128, 12, 12, 12}, 32, false, 128, 0, 32, 0},
    {"critic 3x3x3 stride 2 with bias, 32 -> 64", {3, 2, 1}, {2, 32, 16, 16, 16}, 64, true, 32, 0, 64, 0},
    {"reconstruction 1x1x1, 416 -> 1", {1, 1, 0}, {2, 416, 8, 8, 8}, 1, false, 416, 0, 1, 0},
    {"brain-age stem 7x7x7 stride 2, 1 -> 64", {7, 2, 3}, {2, 1, 24, 28, 24}, 64, false, 1, 0, 64, 0},
};

void run_case(const GpuConvCase& c, bool tf32, double tolerance) {
  CAPTURE(std::string(c.name));
  CAPTURE(tf32);
  std::mt19937_64 rng(1000 + uint64_t(c.x.c));
  const Shape5 ys = conv_output_shape(c.x, c.out_channels, c.p);
  HostTensor<float> x = HostTensor<float>::slice(c.x, c.x_total_channels, c.x_first);
  HostTensor<float> y = HostTensor<float>::slice(ys, c.y_total_channels, c.y_first);
  HostTensor<float> dy = HostTensor<float>::slice(ys, c.y_total_channels, c.y_first);
  fill_random(x, rng);
  fill_random(y, rng);
  fill_random(dy, rng);
  HostTensor<float> dx = x;  // accumulate target: starts from random values
  fill_random(dx, rng);
  const std::vector<float> w = random_values<float>(conv_weight_count(c.x.c, c.out_channels, c.p), rng, 0.0, 0.2);
  const std::vector<float> b = random_values<float>(c.out_channels, rng);
  const std::vector<float> dw0 = random_values<float>(int64_t(w.size()), rng), db0 = random_values<float>(c.out_channels, rng);

  // Reference: the CPU code in double on the same fp32 values.
  HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
  const std::vector<double> wr = convert<double>(w), br = convert<double>(b);
  std::vector<double> dwr = convert<double>(dw0), dbr = convert<double>(db0);
  cpu::conv3d_forward<double>(c.p, xr.in(), wr.data(), c.bias ? br.data() : nullptr, yr.view);
  cpu::conv3d_backward_data<double>(c.p, wr.data(), dyr.in(), dxr.view, GradMode::Accumulate);
  cpu::conv3d_backward_weight<double>(c.p, xr.in(), dyr.in(), dwr.data(), c.bias ? dbr.data() : nullptr, GradMode::Accumulate);

  CudaContext ctx;
  ctx.set_tf32(tf32);
  DeviceTensor xd(x), yd(y), dyd(dy), dxd(dx);
  Buffer<float> wd = device_copy(w), bd = device_copy(b), dwd = device_copy(dw0), dbd = device_copy(db0);
  gpu::conv3d_forward(ctx, c.p, xd.in(), wd.data(), c.bias ? bd.data() : nullptr, yd.view);
  gpu::conv3d_backward_data(ctx, c.p, wd.data(), dyd.in(), dxd.view, GradMode::Accumulate);
  gpu::conv3d_backward_weight(ctx, c.p, xd.in(), dyd.in(), dwd.data(), c.bias ? dbd.data() : nullptr, GradMode::Accumulate);
  ctx.synchronize();

  const HostTensor<float> y_gpu = yd.download(y), dx_gpu = dxd.download(dx);
  const double e_y = relative_error(gather(y_gpu), gather(yr));
  const double e_dx = relative_error(gather(dx_gpu), gather(dxr));
  const double e_dw = relative_error(convert<double>(dwd.download()), dwr);
  MESSAGE("relative errors: y " << e_y << ", dx " << e_dx << ", dw " << e_dw);
  CHECK(e_y < tolerance);
  CHECK(e_dx < tolerance);
  CHECK(e_dw < tolerance);
  if (c.bias) CHECK(relative_error(convert<double>(dbd.download()), dbr) < tolerance);
  check_outside_view_unchanged(y, y_gpu);
  check_outside_view_unchanged(dx, dx_gpu);

  // The chosen algorithms are deterministic: a second backward pass gives identical bits.
  Buffer<float> dw_again = device_copy(dw0);
  gpu::conv3d_backward_weight(ctx, c.p, xd.in(), dyd.in(), dw_again.data(), nullptr, GradMode::Accumulate);
  ctx.synchronize();
  CHECK(dw_again.download() == dwd.download());
}

TEST_SUITE("gpu_conv3d") {
  // fp32 (FMA only): sums of up to ~10^5 products, relative error ~1e-6 expected; bound 1e-5.
  TEST_CASE("cuDNN fp32 matches the double reference, with strided slices and accumulation") {
    for (const GpuConvCase& c : kCases) run_case(c, false, 1e-5);
  }
  // TF32 rounds operands to 10-bit mantissas (~5e-4 relative each); bound 3e-3.
  TEST_CASE("cuDNN TF32 matches the double reference at TF32 tolerance") {
    for (const GpuConvCase& c : kCases) run_case(c, true, 3e-3);
  }
}

}  // namespace
}  // namespace mdcsrn::test
