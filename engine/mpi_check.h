#pragma once
// An MPI call's error code as an Error naming the call and MPI's own text (the engine's MPI code
// only; include after <mpi.h>, in a build with MPI).
#include <string>

#include "engine/error.h"

namespace mdcsrn {

inline void mpi_check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(std::string(call) + ": " + std::string(text, size_t(length)));
}

}  // namespace mdcsrn
