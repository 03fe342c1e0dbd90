# Installs the built project into a scratch prefix, then configures, builds
# and runs tests/find-package-test against it with find_package(cohort).
#
# Usage (see the find_package_consumer test in CMakeLists.txt):
#   cmake -DCOHORT_SOURCE_DIR=<repo> -DCOHORT_BINARY_DIR=<build>
#         -DWORK_DIR=<scratch> [-DGENERATOR=<gen>] [-DMAKE_PROGRAM=<ninja>]
#         [-DCXX_COMPILER=<c++>] [-DBUILD_TYPE=<cfg>] [-DCONSUMER_FLAGS=<flags>]
#         -P cmake/find_package_test.cmake

foreach(var COHORT_SOURCE_DIR COHORT_BINARY_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "find_package_test: ${var} is not set")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "find_package_test: ${step} failed (${rc}): ${cmd}")
  endif()
endfunction()

set(config_args "")
if(BUILD_TYPE)
  set(config_args --config "${BUILD_TYPE}")
endif()

run(install "${CMAKE_COMMAND}" --install "${COHORT_BINARY_DIR}" --prefix "${prefix}" ${config_args})

set(configure_args
    -S "${COHORT_SOURCE_DIR}/tests/find-package-test"
    -B "${consumer_build}"
    "-DCMAKE_PREFIX_PATH=${prefix}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
if(CONSUMER_FLAGS)
  # A sanitizer build of a static cohort needs the sanitizer runtime in the
  # consumer's link too.
  list(APPEND configure_args
       "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}"
       "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}")
endif()

run(configure "${CMAKE_COMMAND}" ${configure_args})
run(build "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# Single-config generators put the binary at the top of the build tree,
# multi-config ones in a per-config subdirectory.
set(exe "${consumer_build}/cohort_consumer")
if(NOT EXISTS "${exe}" AND BUILD_TYPE)
  set(exe "${consumer_build}/${BUILD_TYPE}/cohort_consumer")
endif()
run(run "${exe}")
message(STATUS "find_package_test: installed, found, built and ran ${exe}")
