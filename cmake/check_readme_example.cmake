# Fails if the example in README.md differs from examples/readme_example.cpp,
# which CI builds and runs: the README must show code that works. Compares
# the README's first ```cpp block with the file from its first #include on.
#
# Usage: cmake -DCOHORT_SOURCE_DIR=<repo> -P cmake/check_readme_example.cmake

if(NOT COHORT_SOURCE_DIR)
  get_filename_component(COHORT_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()

file(READ "${COHORT_SOURCE_DIR}/README.md" readme)
file(READ "${COHORT_SOURCE_DIR}/examples/readme_example.cpp" example)

string(FIND "${readme}" "```cpp\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```cpp block")
endif()
math(EXPR start "${start} + 7")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} block)

string(FIND "${example}" "#include" include_at)
string(SUBSTRING "${example}" ${include_at} -1 code)

if(NOT block STREQUAL code)
  message(FATAL_ERROR
          "README.md's example differs from examples/readme_example.cpp; copy the file's "
          "code (from its first #include) into the README's first ```cpp block")
endif()
message(STATUS "README example matches examples/readme_example.cpp")
