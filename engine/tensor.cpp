#include "engine/tensor.h"

namespace mdcsrn {

std::string Shape5::str() const {
  return "[" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(d) + ", " +
         std::to_string(h) + ", " + std::to_string(w) + "]";
}

}  // namespace mdcsrn
