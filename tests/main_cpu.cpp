// The CPU and emulator test programs' entry point: doctest's, after the requirements an entry
// names (tests/requirements.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/requirements.h"

int main(int argc, char** argv) {
  if (const int skip = mdcsrn::test::unmet_requirements(argc, argv)) return skip;
  return doctest::Context(argc, argv).run();
}
