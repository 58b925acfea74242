#include "kernels/linear.h"

namespace mdcsrn {

void check_linear_shapes(const char* op, const Shape5& x, const Shape5& y) {
  const std::string name(op);
  MDCSRN_ASSERT(x.spatial() == 1 && y.spatial() == 1, name + ": inputs and outputs must be [N, C, 1, 1, 1], not " + x.str() + " and " + y.str());
  MDCSRN_ASSERT(x.n == y.n && x.n >= 1, name + ": batch of " + x.str() + " does not match " + y.str());
  MDCSRN_ASSERT(x.c >= 1 && y.c >= 1, name + ": no features in " + x.str() + " or " + y.str());
}

}  // namespace mdcsrn
