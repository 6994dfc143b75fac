# edbp_add_test(NAME name SOURCES a.cc b.cc LIBS lib... LABELS unit|integration|gpu|slow...)
# One gtest executable = one ctest test, run from the source tree's root so test data
# paths are stable (tests/data/...).
function(edbp_add_test)
  cmake_parse_arguments(ARG "ISA_LEVELS" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    message(FATAL_ERROR "edbp_add_test(${ARG_NAME}): LABELS is required")
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  # ISA_LEVELS: the CPU kernels' tests run again capped at each lower instruction-set
  # level (EDBP_CPU_ISA, kernels/cpu/isa.h), so a machine with AVX-512 tests the AVX2
  # and portable variants too; a cap above what the CPU has runs the CPU's level.
  if(ARG_ISA_LEVELS AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    foreach(level avx2 portable)
      add_test(NAME ${ARG_NAME}_${level} COMMAND ${ARG_NAME}
               WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
      set_tests_properties(${ARG_NAME}_${level} PROPERTIES LABELS "${ARG_LABELS}"
                           TIMEOUT ${ARG_TIMEOUT} ENVIRONMENT "EDBP_CPU_ISA=${level}")
    endforeach()
  endif()
endfunction()
