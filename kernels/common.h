#pragma once
// Pieces shared by every op family: how backward writes gradients, and the per-element indexing
// of strided tensors used alike by the CPU loops and the CUDA grids.
#include <cstdint>

#include "engine/error.h"
#include "engine/hd.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

namespace mdcsrn {

// Backward ops either overwrite their gradient outputs or add to them. Accumulation is what a
// dense block needs: every unit that reads a feature channel adds its share of that channel's
// gradient.
enum class GradMode { Overwrite, Accumulate };

template <class T>
MDCSRN_HD void store_grad(T& dst, T value, bool accumulate) {
  dst = accumulate ? dst + value : value;
}

// Offset of the i-th element (in N, C, D, H, W order) of a spatially dense tensor.
template <class T>
MDCSRN_HD int64_t element_offset(const Tensor<T>& t, int64_t i) {
  const int64_t spatial = t.shape.spatial();
  const int64_t s = i % spatial;
  const int64_t nc = i / spatial;
  return (nc / t.shape.c) * t.stride.n + (nc % t.shape.c) * t.stride.c + s;
}

// Shape checks done by every op before it launches: the tensors agree in shape and each
// (sample, channel) plane is dense.
template <class A, class B>
void require_same_planes(const char* op, const A& first, const B& other) {
  MDCSRN_ASSERT(other.shape == first.shape,
                 std::string(op) + ": shape " + other.shape.str() + " does not match " + first.shape.str());
  MDCSRN_ASSERT(other.spatially_dense(), std::string(op) + ": tensor planes must be dense");
}

template <class T, class... Rest>
void require_planes(const char* op, const Tensor<T>& first, const Rest&... rest) {
  MDCSRN_ASSERT(first.spatially_dense(), std::string(op) + ": tensor planes must be dense");
  (require_same_planes(op, first, rest), ...);
}

namespace cpu {

// Calls body(n, c, plane_of_each_tensor...) for every (sample, channel) plane, in parallel.
template <class Body>
void for_each_plane(const Shape5& shape, Body&& body) {
  const int64_t spatial = shape.spatial();
  parallel_for(shape.n * shape.c, (1 << 15) / (spatial + 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) body(nc / shape.c, nc % shape.c);
  });
}

}  // namespace cpu
}  // namespace mdcsrn
