# An mpirun that must fail: passes only when the command exits non-zero by itself within SECONDS and
# its output holds EXPECT, so that a failing rank is seen to end the whole run promptly with its
# one-line error, never leaving the others hanging in a collective.
# usage: cmake "-DCOMMAND=mpirun|-np|2|prog|args" "-DEXPECT=text" -DSECONDS=60 -P expect_failure.cmake
# (COMMAND's words separated by |)
string(REPLACE "|" ";" command "${COMMAND}")
string(TIMESTAMP start "%s")
execute_process(COMMAND ${command} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${SECONDS})
string(TIMESTAMP end "%s")
math(EXPR elapsed "${end} - ${start}")
message("exit status: ${result} after ${elapsed} s\n${out}${err}")
if(result EQUAL 0)
  message(FATAL_ERROR "the run succeeded; it should have failed")
endif()
if(NOT result MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the run did not end by itself: ${result}")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the output lacks '${EXPECT}'")
endif()
