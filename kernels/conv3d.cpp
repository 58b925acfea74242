#include "kernels/conv3d.h"

#include <string>

namespace mdcsrn {

void check_conv_shapes(const char* op, const ConvParams& p, const Shape5& x, const Shape5& y) {
  const std::string name(op);
  MDCSRN_ASSERT(p.kernel == 1 || p.kernel == 3 || p.kernel == 7, name + ": kernel size must be 1, 3 or 7");
  MDCSRN_ASSERT(p.stride == 1 || p.stride == 2, name + ": stride must be 1 or 2");
  MDCSRN_ASSERT(p.padding >= 0 && p.padding < p.kernel, name + ": padding must be in [0, kernel)");
  const Shape5 expected = conv_output_shape(x, y.c, p);
  MDCSRN_ASSERT(y == expected, name + ": output shape " + y.str() + " should be " + expected.str() + " for input " + x.str());
  MDCSRN_ASSERT(expected.d > 0 && expected.h > 0 && expected.w > 0, name + ": input " + x.str() + " is smaller than the kernel");
}

}  // namespace mdcsrn
