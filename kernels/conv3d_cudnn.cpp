// The GPU convolutions through cuDNN's descriptor API. It is deprecated in cuDNN 9 in favour of the
// graph API but still fully supported; it is the simplest correct base, and the fused paths
// (graph API runtime fusion) will sit beside it with this one kept as their reference.
#include <cudnn.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "kernels/conv3d.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace mdcsrn::gpu {
namespace {

cudnnTensorDescriptor_t make_tensor_descriptor(const Shape5& s, const Strides5& st) {
  const int64_t dims64[5] = {s.n, s.c, s.d, s.h, s.w};
  const int64_t strides64[5] = {st.n, st.c, st.d, st.h, st.w};
  int dims[5], strides[5];
  for (int i = 0; i < 5; ++i) {
    MDCSRN_ASSERT(dims64[i] < (int64_t(1) << 31) && strides64[i] < (int64_t(1) << 31), "conv3d: tensor too large for cuDNN");
    dims[i] = int(dims64[i]);
    strides[i] = int(strides64[i]);
  }
  cudnnTensorDescriptor_t d;
  MDCSRN_CUDA_CHECK(cudnnCreateTensorDescriptor(&d));
  MDCSRN_CUDA_CHECK(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, 5, dims, strides));
  return d;
}

// Descriptors and the chosen algorithm for each direction of one convolution shape.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgoPerf_t forward{};
  cudnnConvolutionBwdDataAlgoPerf_t backward_data{};
  cudnnConvolutionBwdFilterAlgoPerf_t backward_filter{};

  ~ConvPlan() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
};

bool math_allowed(cudnnMathType_t math, bool tf32) {
  return tf32 || (math != CUDNN_TENSOR_OP_MATH && math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
}

// Algorithms that accumulate with atomics, so that two runs can differ in the last bits.
bool deterministic(cudnnConvolutionFwdAlgo_t) { return true; }
bool deterministic(cudnnConvolutionBwdDataAlgo_t a) { return a != CUDNN_CONVOLUTION_BWD_DATA_ALGO_0; }
bool deterministic(cudnnConvolutionBwdFilterAlgo_t a) {
  return a != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 && a != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

// The candidates come from cuDNN's heuristics, ranked by expected speed: a function of the GPU,
// the cuDNN version and the shape only. Timed selection (cudnnFind*) can rank differently from
// one process to the next, and a different algorithm rounds differently, which would break
// bit-identical resumption. Take the first that is supported, respects the fp32/TF32 choice and,
// unless the context allows otherwise, is deterministic.
template <class Perf>
Perf pick(const std::vector<Perf>& results, int count, const CudaContext& ctx, const char* direction) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[size_t(i)];
    if (r.status == CUDNN_STATUS_SUCCESS && (!ctx.deterministic() || deterministic(r.algo)) && math_allowed(r.mathType, ctx.tf32()))
      return r;
  }
  fail(std::string("conv3d: cuDNN offers no ") + (ctx.deterministic() ? "deterministic " : "") + direction +
       " algorithm for this shape");
}

std::string plan_key(const ConvParams& p, const Tensor<const float>& x, const Tensor<const float>& y, bool tf32, bool deterministic) {
  auto dims = [](const Tensor<const float>& t) {
    return t.shape.str() + "/" + std::to_string(t.stride.n) + "," + std::to_string(t.stride.c);
  };
  return "conv3d:k" + std::to_string(p.kernel) + "s" + std::to_string(p.stride) + "p" + std::to_string(p.padding) + ":" +
         dims(x) + "->" + dims(y) + (tf32 ? ":tf32" : ":fp32") + (deterministic ? "" : ":any");
}

ConvPlan& plan_for(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, Tensor<const float> y) {
  return ctx.plan<ConvPlan>(plan_key(p, x, y, ctx.tf32(), ctx.deterministic()), [&] {
    auto plan = std::make_unique<ConvPlan>();
    plan->x = make_tensor_descriptor(x.shape, x.stride);
    plan->y = make_tensor_descriptor(y.shape, y.stride);
    plan->bias = make_tensor_descriptor(Shape5{1, y.shape.c, 1, 1, 1}, dense_strides(Shape5{1, y.shape.c, 1, 1, 1}));
    const int wdims[5] = {int(y.shape.c), int(x.shape.c), p.kernel, p.kernel, p.kernel};
    MDCSRN_CUDA_CHECK(cudnnCreateFilterDescriptor(&plan->w));
    MDCSRN_CUDA_CHECK(cudnnSetFilterNdDescriptor(plan->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 5, wdims));
    const int pad[3] = {p.padding, p.padding, p.padding}, stride[3] = {p.stride, p.stride, p.stride}, dilation[3] = {1, 1, 1};
    MDCSRN_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
    MDCSRN_CUDA_CHECK(cudnnSetConvolutionNdDescriptor(plan->conv, 3, pad, stride, dilation, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MDCSRN_CUDA_CHECK(cudnnSetConvolutionMathType(plan->conv, ctx.tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));

    int found = 0;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    MDCSRN_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), plan->x, plan->w, plan->conv, plan->y, int(fwd.size()), &found, fwd.data()));
    plan->forward = pick(fwd, found, ctx, "forward");
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> bwd(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    MDCSRN_CUDA_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn(), plan->w, plan->y, plan->conv, plan->x, int(bwd.size()), &found, bwd.data()));
    plan->backward_data = pick(bwd, found, ctx, "backward-data");
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> flt(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    MDCSRN_CUDA_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.cudnn(), plan->x, plan->y, plan->conv, plan->w, int(flt.size()), &found, flt.data()));
    plan->backward_filter = pick(flt, found, ctx, "backward-filter");
    return plan;
  });
}

}  // namespace

void conv3d_forward(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, const float* weight, const float* bias,
                    Tensor<float> y) {
  check_conv_shapes("conv3d_forward", p, x.shape, y.shape);
  ConvPlan& plan = plan_for(ctx, p, x, y);
  const float one = 1.f, zero = 0.f;
  MDCSRN_CUDA_CHECK(cudnnSetConvolutionMathType(plan.conv, plan.forward.mathType));
  void* workspace = ctx.scratch(plan.forward.memory);
  MDCSRN_CUDA_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, plan.x, x.data, plan.w, weight, plan.conv, plan.forward.algo,
                                            workspace, plan.forward.memory, &zero, plan.y, y.data));
  if (bias) MDCSRN_CUDA_CHECK(cudnnAddTensor(ctx.cudnn(), &one, plan.bias, bias, &one, plan.y, y.data));
}

void conv3d_backward_data(CudaContext& ctx, const ConvParams& p, const float* weight, Tensor<const float> dy,
                          Tensor<float> dx, GradMode mode) {
  check_conv_shapes("conv3d_backward_data", p, dx.shape, dy.shape);
  ConvPlan& plan = plan_for(ctx, p, dx, dy);
  const float one = 1.f, beta = mode == GradMode::Accumulate ? 1.f : 0.f;
  MDCSRN_CUDA_CHECK(cudnnSetConvolutionMathType(plan.conv, plan.backward_data.mathType));
  void* workspace = ctx.scratch(plan.backward_data.memory);
  MDCSRN_CUDA_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, plan.w, weight, plan.y, dy.data, plan.conv,
                                                 plan.backward_data.algo, workspace, plan.backward_data.memory, &beta,
                                                 plan.x, dx.data));
}

void conv3d_backward_weight(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, Tensor<const float> dy,
                            float* dweight, float* dbias, GradMode mode) {
  check_conv_shapes("conv3d_backward_weight", p, x.shape, dy.shape);
  ConvPlan& plan = plan_for(ctx, p, x, dy);
  const float one = 1.f, beta = mode == GradMode::Accumulate ? 1.f : 0.f;
  MDCSRN_CUDA_CHECK(cudnnSetConvolutionMathType(plan.conv, plan.backward_filter.mathType));
  void* workspace = ctx.scratch(plan.backward_filter.memory);
  MDCSRN_CUDA_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, plan.x, x.data, plan.y, dy.data, plan.conv,
                                                   plan.backward_filter.algo, workspace, plan.backward_filter.memory,
                                                   &beta, plan.w, dweight));
  if (dbias) MDCSRN_CUDA_CHECK(cudnnConvolutionBackwardBias(ctx.cudnn(), &one, plan.y, dy.data, &beta, plan.bias, dbias));
}

}  // namespace mdcsrn::gpu
