#pragma once
// The entry point the benchmark programs share: a failure becomes one line on stderr, prefixed
// with the program's name, and exit status 1.
#include <cstdio>
#include <exception>

namespace mdcsrn::bench {

inline int guarded_main(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace mdcsrn::bench
