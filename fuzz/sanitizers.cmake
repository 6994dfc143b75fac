# EDBP_FUZZ=ON (make fuzz): every library is compiled with libFuzzer's coverage
# instrumentation, AddressSanitizer and UndefinedBehaviorSanitizer, so that the
# targets in fuzz/ see into the readers they call. Included by the top-level
# CMakeLists.txt before its subdirectories; clang only (gcc has no libFuzzer).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "EDBP_FUZZ=ON needs clang (CC=clang-14 CXX=clang++-14), not "
                      "${CMAKE_CXX_COMPILER_ID}")
endif()
# A UB finding aborts like an ASan one (libFuzzer then keeps the input); frame pointers
# give the reports whole stacks.
set(EDBP_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all)
add_compile_options(-fsanitize=fuzzer-no-link ${EDBP_SANITIZE} -fno-omit-frame-pointer)
add_link_options(${EDBP_SANITIZE})
