// The data-parallel tests' entry point: every rank that mpirun starts runs the selected doctest
// cases; the launcher's exit status is non-zero when any rank fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "engine/communicator.h"
#include "tests/requirements.h"

int main(int argc, char** argv) {
  if (const int skip = mdcsrn::test::unmet_requirements(argc, argv)) return skip;  // every rank alike
  mdcsrn::Communicator::init(argc, argv);
  doctest::Context context(argc, argv);
  const int result = context.run();
  mdcsrn::Communicator::finalize();
  return result;
}
