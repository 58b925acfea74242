#include "models/inference.h"

#include <memory>
#include <type_traits>

#include "models/generator_fast.h"

#include <cmath>

#include "engine/error.h"
#include "models/generator.h"

namespace mdcsrn {

Stitching parse_stitching(const std::string& name) {
  if (name == "crop") return Stitching::MarginCrop;
  if (name == "gaussian") return Stitching::Gaussian;
  fail("--stitching '" + name + "': expected crop or gaussian");
}

void check_inference_options(const InferenceOptions& o) {
  const std::string patch = std::to_string(o.patch);
  if (o.patch < 4) fail("--patch " + patch + ": the patch size must be at least 4, e.g. 32");
  if (o.batch < 1) fail("--batch " + std::to_string(o.batch) + ": must be a positive integer, e.g. 16");
  if (o.stitching == Stitching::MarginCrop && (o.margin < 0 || 2 * o.margin >= o.patch))
    fail("--margin " + std::to_string(o.margin) + ": a tile keeps patch - 2 margin voxels of " + patch + "; the margin must be in [0, " +
         std::to_string((o.patch - 1) / 2) + "], e.g. 3");
  if (o.stitching == Stitching::Gaussian && (o.stride < 1 || o.stride > o.patch))
    fail("--stride " + std::to_string(o.stride) + ": Gaussian tiles must overlap or touch; the stride must be in [1, " + patch + "], e.g. 16");
  if (o.precision != "auto" && o.precision != "bf16" && o.precision != "tf32" && o.precision != "fp32")
    fail("--precision '" + o.precision + "': expected auto, bf16, tf32 or fp32");
}

std::vector<int64_t> tile_origins(int64_t n, const InferenceOptions& o) {
  std::vector<int64_t> origins;
  if (o.stitching == Stitching::MarginCrop) {
    const int64_t core = o.patch - 2 * o.margin;
    MDCSRN_ASSERT(core > 0, "tile_origins: the margin leaves no core in the patch");
    for (int64_t start = 0; start < n; start += core) origins.push_back(start - o.margin);
    return origins;
  }
  MDCSRN_ASSERT(o.stride > 0 && o.stride <= o.patch, "tile_origins: the stride must be in [1, patch]");
  for (int64_t start = 0;; start += o.stride) {
    if (start + o.patch >= n) {
      origins.push_back(std::max<int64_t>(0, n - o.patch));  // the last tile ends at the border
      break;
    }
    origins.push_back(start);
  }
  return origins;
}

std::vector<float> stitch_volume(const std::vector<float>& volume, const std::array<int64_t, 3>& dims, const InferenceOptions& o,
                                 const std::function<void(int64_t count, const float* in, float* out)>& predict) {
  const int64_t p = o.patch, voxels = p * p * p;
  const std::array<std::vector<int64_t>, 3> origins{tile_origins(dims[0], o), tile_origins(dims[1], o), tile_origins(dims[2], o)};
  std::vector<std::array<int64_t, 3>> tiles;
  for (int64_t k : origins[2])
    for (int64_t j : origins[1])
      for (int64_t i : origins[0]) tiles.push_back({i, j, k});

  // Per-voxel weight inside a tile: the Gaussian, or 1 on the core and 0 on the margin.
  std::vector<float> weight(static_cast<size_t>(voxels));
  const double sigma = 0.125 * double(p), centre = double(p - 1) / 2;
  for (int64_t e = 0; e < voxels; ++e) {
    const int64_t x = e % p, y = e / p % p, z = e / (p * p);
    if (o.stitching == Stitching::Gaussian) {
      const double d2 = (x - centre) * (x - centre) + (y - centre) * (y - centre) + (z - centre) * (z - centre);
      weight[size_t(e)] = float(std::exp(-d2 / (2 * sigma * sigma)));
    } else {
      auto inside = [&](int64_t t) { return t >= o.margin && t < p - o.margin; };
      weight[size_t(e)] = inside(x) && inside(y) && inside(z) ? 1.f : 0.f;
    }
  }

  const int64_t n = int64_t(volume.size());
  std::vector<double> sum(static_cast<size_t>(n), 0.0), total(static_cast<size_t>(n), 0.0);
  std::vector<float> in(static_cast<size_t>(o.batch * voxels)), out(in.size());
  for (size_t first = 0; first < tiles.size(); first += size_t(o.batch)) {
    const int64_t count = std::min<int64_t>(o.batch, int64_t(tiles.size() - first));
    for (int64_t t = 0; t < count; ++t) {
      const auto& origin = tiles[first + size_t(t)];
      for (int64_t e = 0; e < voxels; ++e) {
        const int64_t i = origin[0] + e % p, j = origin[1] + e / p % p, k = origin[2] + e / (p * p);
        const bool inside = i >= 0 && j >= 0 && k >= 0 && i < dims[0] && j < dims[1] && k < dims[2];
        in[size_t(t * voxels + e)] = inside ? volume[size_t(i + dims[0] * (j + dims[1] * k))] : 0.f;
      }
    }
    predict(count, in.data(), out.data());
    for (int64_t t = 0; t < count; ++t) {
      const auto& origin = tiles[first + size_t(t)];
      for (int64_t e = 0; e < voxels; ++e) {
        const int64_t i = origin[0] + e % p, j = origin[1] + e / p % p, k = origin[2] + e / (p * p);
        if (i < 0 || j < 0 || k < 0 || i >= dims[0] || j >= dims[1] || k >= dims[2] || weight[size_t(e)] == 0.f) continue;
        const size_t v = size_t(i + dims[0] * (j + dims[1] * k));
        sum[v] += double(weight[size_t(e)]) * out[size_t(t * voxels + e)];
        total[v] += weight[size_t(e)];
      }
    }
  }
  std::vector<float> result(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) {
    MDCSRN_ASSERT(total[size_t(v)] > 0, "inference: a voxel is covered by no tile");
    result[size_t(v)] = float(sum[size_t(v)] / total[size_t(v)]);
  }
  return result;
}

namespace {

// fused: the context of the fused bf16 forward (a GPU's, or the fused CPU kernels'), which needs
// only the running statistics of the reference generator, not the reference generator itself; or
// none for the reference path.
template <class Backend, class Context>
std::vector<float> run_generator(const GeneratorConfig& model, const GeneratorState& state, const std::vector<float>& volume,
                                 const std::array<int64_t, 3>& dims, const InferenceOptions& o, Backend be, Context* fused) {
  using Fast = typename FastGeneratorOf<Backend>::type;
  const GeneratorLayout layout(model);
  const Shape5 shape{o.batch, 1, o.patch, o.patch, o.patch};
  std::unique_ptr<Generator<Backend>> reference;
  std::unique_ptr<Fast> fast_forward;
  if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
    if (fused) fast_forward = std::make_unique<Fast>(layout, *fused, shape);
  }
  if (!fast_forward) reference = std::make_unique<Generator<Backend>>(layout, be, shape);
  Buffer<float> params(Backend::memory, int64_t(state.params.size())), in(Backend::memory, shape.numel()), out(Backend::memory, shape.numel());
  Buffer<float> running(Backend::memory, int64_t(state.running.size()));
  params.upload(state.params);
  running.upload(state.running);
  if (reference) raw_copy(Backend::memory, reference->running_stats(), MemoryKind::Host, state.running.data(), state.running.size() * sizeof(float));
  return stitch_volume(volume, dims, o, [&](int64_t count, const float* host_in, float* host_out) {
    raw_copy(Backend::memory, in.data(), MemoryKind::Host, host_in, size_t(shape.numel()) * sizeof(float));
    const Tensor<const float> x(in.data(), shape);
    const Tensor<float> y(out.data(), shape);
    if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
      if (fast_forward) fast_forward->forward_eval(params.data(), running.data(), float(kBatchNormEps), x, y);
    }
    if (reference) reference->forward(params.data(), x, y, NormMode::Eval);
    raw_copy(MemoryKind::Host, host_out, Backend::memory, out.data(), size_t(count * shape.spatial()) * sizeof(float));
  });
}

}  // namespace

std::vector<float> super_resolve(const GeneratorConfig& model, const GeneratorState& state, const std::vector<float>& volume,
                                 const std::array<int64_t, 3>& dims, const InferenceOptions& o, CudaContext* ctx, std::string* path) {
  check_inference_options(o);
#ifdef MDCSRN_HAVE_CUDA
  if (ctx) {
    const bool bf16 = o.precision == "bf16" || o.precision == "auto";
    const std::string why = bf16 ? fast_path_unsupported(GeneratorLayout(model)) : "";
    const bool fast = bf16 && why.empty();
    ctx->set_tf32(o.precision != "fp32");
    if (path) *path = fast ? "bf16 fast path" : o.precision == "fp32" ? "fp32 reference path" : "TF32 reference path";
    if (path && bf16 && !fast) *path += " (the fast path does not cover " + why + ")";
    return run_generator(model, state, volume, dims, o, GpuBackend{ctx}, fast ? ctx : nullptr);
  }
#else
  MDCSRN_ASSERT(ctx == nullptr, "super_resolve: a CUDA context in a build without CUDA");
#endif
  std::string why = fast_path_unsupported(GeneratorLayout(model));
  if (why.empty()) why = cpu_fused_unsupported();
  CpuFusedContext fused;
  const bool fast = o.precision == "bf16" && why.empty();
  if (path) *path = fast ? "bf16 on the fused CPU kernels, " + cpu_fused_kernels() : "fp32 (CPU)";
  if (path && o.precision == "bf16" && !fast) *path += " (the fused bf16 CPU kernels do not cover " + why + ")";
  return run_generator(model, state, volume, dims, o, CpuBackend<float>{}, fast ? &fused : nullptr);
}

}  // namespace mdcsrn
