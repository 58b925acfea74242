#include "models/age_regressor.h"
#include "tests/gpu/gpu_support.h"
#include "tests/network_support.h"

namespace mdcsrn::test {
namespace {

// The brain-age DenseNet on the GPU (cuDNN convolutions, the kernels of kernels/*.cu) against the
// CPU in double from the same weights: a training forward and backward, then an eval forward with
// the running statistics training left. fp32 through up to 120 layers: bound 1e-4; TF32: 1e-2.
void compare_age_model(const AgeRegressorConfig& config, const Shape5& shape, bool tf32, double tolerance) {
  CAPTURE(config.describe());
  CAPTURE(shape.str());
  CAPTURE(tf32);
  const AgeRegressorLayout L(config);
  const AgeCase c = age_case(L, shape, 41, 42);

  CudaContext ctx;
  ctx.set_tf32(tf32);
  Buffer<float> p_dev = device_copy(c.params), g_dev(MemoryKind::Device, int64_t(c.params.size()));
  DeviceTensor x_dev(c.x), dout_dev(c.dout), out_dev(c.dout), eval_dev(c.dout);
  AgeRegressor<GpuBackend> model(L, GpuBackend{&ctx}, shape);
  model.forward(p_dev.data(), x_dev.in(), out_dev.view, NormMode::Train);
  model.backward(p_dev.data(), g_dev.data(), x_dev.in(), dout_dev.in(), NormMode::Train);
  model.forward(p_dev.data(), x_dev.in(), eval_dev.view, NormMode::Eval);
  ctx.synchronize();

  std::string worst_name;
  const double worst = worst_age_gradient_error(L, g_dev.download(), c.grads, worst_name);
  const double e_out = relative_error(gather(out_dev.download(c.dout)), gather(c.out));
  const double e_eval = relative_error(gather(eval_dev.download(c.dout)), gather(c.eval));
  MESSAGE((tf32 ? "TF32" : "fp32") << ": output " << e_out << ", eval output " << e_eval << ", worst parameter gradient " << worst << " ("
                                   << worst_name << ")");
  CHECK(e_out < tolerance);
  CHECK(e_eval < tolerance);
  CHECK(worst < tolerance);
}

TEST_SUITE("gpu_age_model") {
  TEST_CASE("the CPU configuration on the GPU matches the CPU reference, fp32") {
    compare_age_model(AgeRegressorConfig::small(), {3, 1, 40, 48, 40}, false, 1e-4);
  }
  TEST_CASE("DenseNet121 on the GPU matches the CPU reference, fp32 and TF32") {
    compare_age_model(AgeRegressorConfig::densenet121(), {2, 1, 64, 64, 64}, false, 1e-4);
    compare_age_model(AgeRegressorConfig::densenet121(), {2, 1, 64, 64, 64}, true, 1e-2);
  }
}

}  // namespace
}  // namespace mdcsrn::test
