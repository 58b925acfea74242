# mpi.failing_rank: two ranks of test_mpi where rank 1 fails while rank 0 waits in a collective.
# Passes only when mpirun exits non-zero by itself within SECONDS with rank 1's one-line error:
# a failing rank must end the whole run promptly, never leave the others hanging.
# usage: cmake -DMPIEXEC=... -DNP_FLAG=... -DTEST_MPI=... -DSECONDS=60 -P failing_rank.cmake
string(TIMESTAMP start "%s")
execute_process(COMMAND ${MPIEXEC} ${NP_FLAG} 2 --oversubscribe ${TEST_MPI} --no-skip "--test-case=planted*"
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${SECONDS})
string(TIMESTAMP end "%s")
math(EXPR elapsed "${end} - ${start}")
message("exit status: ${result} after ${elapsed} s\n${out}${err}")
if(result EQUAL 0)
  message(FATAL_ERROR "the run succeeded; the failing rank should have ended it")
endif()
if(NOT result MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the run did not end by itself: ${result}")
endif()
string(FIND "${out}${err}" "rank 1 of 2: planted failure on rank 1" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the output lacks rank 1's error")
endif()
