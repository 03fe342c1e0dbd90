# Fails if a core header includes Asio. DESIGN.md: "The core never includes
# Asio." Core headers are include/cohort/*.hpp and include/cohort/detail/*.hpp,
# except files whose name starts with "asio"; include/cohort/runtime/ is not
# core. Only direct includes are checked.
#
# Usage: cmake -DCOHORT_SOURCE_DIR=<repo> -P cmake/check_core_no_asio.cmake

if(NOT COHORT_SOURCE_DIR)
  get_filename_component(COHORT_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()

file(GLOB core_headers
     "${COHORT_SOURCE_DIR}/include/cohort/*.hpp"
     "${COHORT_SOURCE_DIR}/include/cohort/detail/*.hpp")

set(checked 0)
set(offenders "")
foreach(header IN LISTS core_headers)
  get_filename_component(name "${header}" NAME)
  if(name MATCHES "^asio")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  file(STRINGS "${header}" hits
       REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](boost/)?asio")
  foreach(hit IN LISTS hits)
    file(RELATIVE_PATH rel "${COHORT_SOURCE_DIR}" "${header}")
    string(STRIP "${hit}" hit)
    list(APPEND offenders "${rel}: ${hit}")
  endforeach()
endforeach()

if(offenders)
  list(JOIN offenders "\n  " text)
  message(FATAL_ERROR "core headers must not include Asio:\n  ${text}")
endif()
message(STATUS "core_has_no_asio: ${checked} core header(s) checked, none includes Asio")
