# Installs the built project into a scratch prefix, then configures, builds
# and runs tests/find-package-test against it with find_package(cohort): a
# program on the umbrella cohort::cohort and a core-only one on cohort::core,
# which must need none of Boost, libcurl or SQLite.
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

# Single-config generators put the binaries at the top of the build tree,
# multi-config ones in a per-config subdirectory.
function(find_exe name out)
  set(exe "${consumer_build}/${name}")
  if(NOT EXISTS "${exe}" AND BUILD_TYPE)
    set(exe "${consumer_build}/${BUILD_TYPE}/${name}")
  endif()
  set(${out} "${exe}" PARENT_SCOPE)
endfunction()

find_exe(cohort_consumer exe)
find_exe(cohort_core_consumer core_exe)
run(run "${exe}")
run(run-core "${core_exe}")

# The core-only program needs none of the other layers' libraries: neither in
# its dynamic section nor on its link line (Ninja can print it).
find_program(READELF readelf)
if(READELF)
  execute_process(COMMAND "${READELF}" -d "${core_exe}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "find_package_test: readelf -d ${core_exe} failed")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${dynamic}")
  message(STATUS "find_package_test: ${core_exe} needs: ${needed}")
  if(needed MATCHES "boost|curl|sqlite")
    message(FATAL_ERROR "find_package_test: the core-only consumer needs ${needed}")
  endif()
endif()
if(GENERATOR STREQUAL "Ninja" AND MAKE_PROGRAM)
  execute_process(COMMAND "${MAKE_PROGRAM}" -C "${consumer_build}" -t commands cohort_core_consumer
                  OUTPUT_VARIABLE commands RESULT_VARIABLE rc)
  string(REGEX REPLACE "^.*\n([^\n]+)\n?$" "\\1" link_line "${commands}")
  if(NOT rc EQUAL 0 OR NOT link_line MATCHES "cohort-core")
    message(FATAL_ERROR "find_package_test: no link line for cohort_core_consumer:\n${commands}")
  endif()
  if(link_line MATCHES "boost|curl|sqlite|cohort-runtime|cohort-io|cohort-runner")
    message(FATAL_ERROR "find_package_test: the core-only consumer links: ${link_line}")
  endif()
  message(STATUS "find_package_test: core-only link line: ${link_line}")
endif()
message(STATUS "find_package_test: installed, found, built and ran ${exe} and ${core_exe}")
