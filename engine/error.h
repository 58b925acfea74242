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

// A check of what a person gave (a setting, an option, a file): the message alone, which must say
// what is wrong and what is allowed, e.g. "sampler.patch: 7 is odd; the patch size must be even".
#define MDCSRN_REQUIRE(condition, message)                 \
  do {                                                     \
    if (!(condition)) ::mdcsrn::fail(std::string(message)); \
  } while (0)

// An invariant of the engine's own code (shapes one layer hands the next, launch limits): failing
// it is a bug, so the message keeps the condition for whoever reports it.
#define MDCSRN_ASSERT(condition, message)                                                                    \
  do {                                                                                                       \
    if (!(condition)) ::mdcsrn::fail(std::string(message) + " (internal check failed: " #condition ")"); \
  } while (0)

}  // namespace mdcsrn
