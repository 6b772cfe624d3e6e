# Runs PROGRAM on 2 ranks and expects it to fail quickly with rank 1's check message.
execute_process(COMMAND ${MPIEXEC} ${NP_FLAG} 2 ${PROGRAM}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 45)
set(all "${out}${err}")
if(status EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit status, got 0:\n${all}")
endif()
if(NOT all MATCHES "check failed on [^ ]+ rank 1 at [^:]+mpi_check_abort.cpp:[0-9]+: value == 42 \\(value = 41\\)")
  message(FATAL_ERROR "expected rank 1's check message, got (status ${status}):\n${all}")
endif()
message(STATUS "job ended with status ${status} and rank 1's message")
