#include "engine/error.h"

namespace mdcsrn {

void fail(const std::string& message) { throw Error(message); }

}  // namespace mdcsrn
