#include "engine/tensor.h"

namespace mdcsrn {

std::string Shape5::str() const {
  std::string s = "[";
  for (const int64_t extent : {n, c, d, h, w}) s += (s.size() > 1 ? ", " : "") + std::to_string(extent);
  return s + "]";
}

}  // namespace mdcsrn
