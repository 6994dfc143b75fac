# The dashboard of edbp-client (`edbp-client dashboard`): decides whether it is built
# and provides edbp_embed_assets(), which turns the page's files into a generated .cc.
#
# EDBP_DASHBOARD: AUTO (default) builds it where node, npm and cpp-httplib are found,
# ON requires them, OFF never builds it. Without it `edbp-client dashboard` says so.
# Results (cache INTERNAL, so tests/ sees them): EDBP_WITH_DASHBOARD (ON/OFF),
# EDBP_DASHBOARD_NODE_MODULES (where the build runs `npm ci`).
set(EDBP_DASHBOARD "AUTO" CACHE STRING
    "Build the dashboard of edbp-client: AUTO (where node, npm and cpp-httplib exist), ON, OFF")
set_property(CACHE EDBP_DASHBOARD PROPERTY STRINGS AUTO ON OFF)

set(_edbp_dashboard_on OFF)
set(_edbp_dashboard_missing "")
if(NOT EDBP_DASHBOARD STREQUAL "OFF")
  find_program(EDBP_NODE_EXECUTABLE NAMES node nodejs)
  find_program(EDBP_NPM_EXECUTABLE NAMES npm)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(EDBP_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
  endif()
  # A cached path that no longer exists counts as missing.
  if(NOT EDBP_NODE_EXECUTABLE OR NOT EXISTS "${EDBP_NODE_EXECUTABLE}")
    list(APPEND _edbp_dashboard_missing node)
  endif()
  if(NOT EDBP_NPM_EXECUTABLE OR NOT EXISTS "${EDBP_NPM_EXECUTABLE}")
    list(APPEND _edbp_dashboard_missing npm)
  endif()
  if(NOT EDBP_HTTPLIB_FOUND)
    list(APPEND _edbp_dashboard_missing "cpp-httplib (libcpp-httplib-dev)")
  endif()
  if(_edbp_dashboard_missing)
    if(EDBP_DASHBOARD STREQUAL "ON")
      message(FATAL_ERROR "EDBP_DASHBOARD=ON but ${_edbp_dashboard_missing} not found "
                          "(scripts/install-deps.sh installs them)")
    endif()
    message(STATUS "edbp: dashboard OFF (not found: ${_edbp_dashboard_missing})")
  else()
    set(_edbp_dashboard_on ON)
  endif()
endif()
set(EDBP_WITH_DASHBOARD ${_edbp_dashboard_on} CACHE INTERNAL "the dashboard is built")
set(EDBP_DASHBOARD_NODE_MODULES "${CMAKE_BINARY_DIR}/client/dashboard/npm/node_modules"
    CACHE INTERNAL "node_modules installed by the build (npm ci)")
message(STATUS "edbp: dashboard ${EDBP_WITH_DASHBOARD}")

# edbp_embed_assets(OUTPUT file.cc ASSETS /url=path ... [DEPENDS ...])
# Writes OUTPUT at build time: the files as byte arrays and EmbeddedAssets() (see
# client/dashboard/assets.h) mapping each URL path to its bytes and content type.
function(edbp_embed_assets)
  cmake_parse_arguments(ARG "" "OUTPUT" "ASSETS;DEPENDS" ${ARGN})
  set(files "")
  foreach(asset IN LISTS ARG_ASSETS)
    string(FIND "${asset}" "=" eq)
    math(EXPR value_at "${eq} + 1")
    string(SUBSTRING "${asset}" ${value_at} -1 file)
    list(APPEND files "${file}")
  endforeach()
  string(REPLACE ";" "|" assets_arg "${ARG_ASSETS}")
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DASSETS=${assets_arg}"
            -P "${PROJECT_SOURCE_DIR}/cmake/EdbpEmbedAssets.cmake"
    DEPENDS ${files} ${ARG_DEPENDS} "${PROJECT_SOURCE_DIR}/cmake/EdbpEmbedAssets.cmake"
    COMMENT "Embedding the dashboard's page into ${ARG_OUTPUT}"
    VERBATIM)
endfunction()
