# Fuzz targets. Every *_fuzz.c defines LLVMFuzzerTestOneInput and, unless it
# is built for libFuzzer, a driver main() of its own (pseudo-random damage of
# built-in seeds, or files to replay), which ctest runs for a fixed count.
#
# IP_FUZZ=ON (clang only; scripts/fuzz configures build/fuzz this way) builds
# the whole tree with -fsanitize=fuzzer-no-link, so the code under test gives
# libFuzzer its coverage, and links each fuzz target with -fsanitize=fuzzer
# (libFuzzer's main) instead of its driver. With IP_SANITIZE the sanitizers
# come on top.
option(IP_FUZZ "Build the fuzz targets as libFuzzer binaries (clang)" OFF)
if(IP_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "IP_FUZZ=ON needs clang (CC=clang): libFuzzer is part of clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# ip_fuzz_target(NAME SOURCE DRIVER_DEFINE TEST_NAME COUNT LIBS...): the fuzz
# target NAME from SOURCE linked with LIBS. Without IP_FUZZ it is the driver
# (DRIVER_DEFINE set, or "" when the file has its driver by default) and the
# ctest TEST_NAME (label unit) runs it with COUNT inputs; with IP_FUZZ it is a
# libFuzzer binary (LIBFUZZER_DEFINE, if given after LIBFUZZER, set instead).
function(ip_fuzz_target name src driver_define test_name count)
  cmake_parse_arguments(F "" "LIBFUZZER" "LIBS;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  if(IP_FUZZ)
    if(F_LIBFUZZER)
      target_compile_definitions(${name} PRIVATE ${F_LIBFUZZER})
    endif()
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    return()
  endif()
  if(driver_define)
    target_compile_definitions(${name} PRIVATE ${driver_define})
  endif()
  add_test(NAME ${test_name} COMMAND ${name} ${count})
  set_tests_properties(${test_name} PROPERTIES LABELS unit TIMEOUT 300)
  if(F_ENVIRONMENT)
    set_tests_properties(${test_name} PROPERTIES ENVIRONMENT "${F_ENVIRONMENT}")
  endif()
endfunction()
