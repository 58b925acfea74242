#include "kernels/window_pooling.h"

namespace mdcsrn {

void check_pool_shapes(const char* op, const PoolWindow& w, const Shape5& x, const Shape5& y) {
  const std::string name(op);
  MDCSRN_ASSERT(w.kernel >= 1 && w.stride >= 1, name + ": the window and stride must be positive");
  // As PyTorch: at most half the window is padding, so that every window holds an input voxel.
  MDCSRN_ASSERT(w.padding >= 0 && 2 * w.padding <= w.kernel, name + ": padding must be in [0, kernel / 2]");
  const Shape5 expected = pool_output_shape(x, w);
  MDCSRN_ASSERT(expected.d > 0 && expected.h > 0 && expected.w > 0, name + ": input " + x.str() + " is smaller than the window");
  MDCSRN_ASSERT(y == expected, name + ": output shape " + y.str() + " should be " + expected.str() + " for input " + x.str());
  MDCSRN_ASSERT(x.spatial() <= std::numeric_limits<int32_t>::max(), name + ": planes of " + x.str() + " overflow the 32-bit record");
}

}  // namespace mdcsrn
