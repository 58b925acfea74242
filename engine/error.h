#pragma once
#include <stdexcept>
#include <string>

namespace mdcsrn {

// Every failure in the engine is reported as one Error whose message is a single line naming the
// culprit (a file, an argument, a library call) and the problem.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] void fail(const std::string& message);

// Argument and shape validation on the host.
#define MDCSRN_REQUIRE(condition, message)                                   \
  do {                                                                       \
    if (!(condition)) ::mdcsrn::fail(std::string(message) + " (" #condition ")"); \
  } while (0)

}  // namespace mdcsrn
