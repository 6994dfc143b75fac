# The dashboard of edbp-client (`edbp-client dashboard`): decides whether it is built
# and provides edbp_embed_assets(), which turns the page's files into a generated .cc.
#
# EDBP_DASHBOARD: AUTO (default) builds it where node, npm and cpp-httplib are found and
# `npm ci` can install client/dashboard/web/package-lock.json (from the npm cache or the
# registry), ON requires all that, OFF never builds it. Without it `edbp-client
# dashboard` says so. `npm ci` runs here, at configure time, so that AUTO can leave the
# dashboard out instead of failing the build; it runs again only when the lock file
# changes or node_modules is gone.
# Results (cache INTERNAL, so tests/ sees them): EDBP_WITH_DASHBOARD (ON/OFF),
# EDBP_DASHBOARD_NODE_MODULES (where `npm ci` installed the packages). Included by
# worker/ (the --gradient-flow page embeds uPlot) and client/; it runs once.
include_guard(GLOBAL)
set(EDBP_DASHBOARD "AUTO" CACHE STRING
    "Build the dashboard of edbp-client: AUTO (where node, npm, cpp-httplib and the npm packages are available), ON, OFF")
set_property(CACHE EDBP_DASHBOARD PROPERTY STRINGS AUTO ON OFF)
set(EDBP_NPM_TIMEOUT 300 CACHE STRING
    "Seconds each configure-time `npm ci` of the dashboard may take")

set(EDBP_DASHBOARD_NODE_MODULES "${CMAKE_BINARY_DIR}/client/dashboard/npm/node_modules"
    CACHE INTERNAL "node_modules installed at configure time (npm ci)")

# _edbp_dashboard_npm_ci(<result-var> <error-var>): makes EDBP_DASHBOARD_NODE_MODULES
# match client/dashboard/web/package-lock.json. Skips npm while the stamp (a hash of
# package.json and the lock, written into node_modules after a successful `npm ci`)
# matches; otherwise tries the npm cache alone (`--offline`), then the registry. Sets
# <result-var> to TRUE or FALSE and <error-var> to why it failed.
function(_edbp_dashboard_npm_ci result_var error_var)
  set(web_dir "${PROJECT_SOURCE_DIR}/client/dashboard/web")
  cmake_path(GET EDBP_DASHBOARD_NODE_MODULES PARENT_PATH npm_dir)
  set(stamp "${EDBP_DASHBOARD_NODE_MODULES}/.edbp-npm-ci.stamp")
  # npm ci needs package.json and the lock side by side; copies keep npm out of the
  # source tree. configure_file() also re-runs CMake when either changes.
  configure_file("${web_dir}/package.json" "${npm_dir}/package.json" COPYONLY)
  configure_file("${web_dir}/package-lock.json" "${npm_dir}/package-lock.json" COPYONLY)
  file(SHA256 "${web_dir}/package.json" package_hash)
  file(SHA256 "${web_dir}/package-lock.json" lock_hash)
  set(want "${package_hash} ${lock_hash}")

  set(installed FALSE)
  set(uplot "${EDBP_DASHBOARD_NODE_MODULES}/uplot/dist/uPlot.iife.min.js")
  if(EXISTS "${stamp}" AND EXISTS "${uplot}")
    file(READ "${stamp}" have)
    if(have STREQUAL want)
      set(installed TRUE)
    endif()
  endif()
  if(NOT installed)
    file(REMOVE "${stamp}")
    set(npm_ci "${EDBP_NPM_EXECUTABLE}" ci --no-audit --no-fund --ignore-scripts
               --loglevel=error)
    message(STATUS "edbp: npm ci (uPlot and playwright-core) into ${npm_dir}")
    # The cache alone first: quick, and enough where the packages were fetched before.
    execute_process(COMMAND ${npm_ci} --offline
                    WORKING_DIRECTORY "${npm_dir}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                    TIMEOUT ${EDBP_NPM_TIMEOUT})
    if(NOT rc EQUAL 0)
      execute_process(COMMAND ${npm_ci} --prefer-offline
                      WORKING_DIRECTORY "${npm_dir}"
                      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                      TIMEOUT ${EDBP_NPM_TIMEOUT})
    endif()
    if(rc EQUAL 0 AND EXISTS "${uplot}")
      file(WRITE "${stamp}" "${want}")
      set(installed TRUE)
    else()
      # npm's own summary (code, reason, log file), without its stack trace and dumps.
      string(REPLACE ";" "," out "${out}")
      string(REGEX MATCHALL "npm error [^\n]*[^\n ]" lines "${out}")
      list(FILTER lines EXCLUDE REGEX "^npm error +(at |[a-z]+: |[{}]$|syscall |errno )")
      list(SUBLIST lines 0 6 lines)
      list(JOIN lines "\n    " why)
      set(${error_var} "`npm ci` in ${npm_dir} failed (${rc}):\n    ${why}" PARENT_SCOPE)
    endif()
  endif()
  set(${result_var} ${installed} PARENT_SCOPE)
endfunction()

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
    _edbp_dashboard_npm_ci(_edbp_npm_ok _edbp_npm_error)
    if(_edbp_npm_ok)
      set(_edbp_dashboard_on ON)
      # Deleting node_modules (or the stamp) re-runs CMake, which installs it again.
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                   "${EDBP_DASHBOARD_NODE_MODULES}/.edbp-npm-ci.stamp")
    else()
      string(CONCAT _edbp_npm_help
          "The dashboard embeds uPlot (client/dashboard/web/package-lock.json), which "
          "`npm ci` installs from the npm cache or the registry; npm's own settings "
          "apply (registry, proxy, cache, as in npm_config_registry=URL in the "
          "environment). To build it, make the registry reachable or fill the npm cache "
          "(run `npm ci` in a copy of client/dashboard/web where the registry is "
          "reachable and copy ~/.npm), then re-run cmake. -DEDBP_DASHBOARD=OFF leaves it "
          "out without trying npm.")
      if(EDBP_DASHBOARD STREQUAL "ON")
        message(FATAL_ERROR "EDBP_DASHBOARD=ON but the dashboard's npm packages could "
                            "not be installed: ${_edbp_npm_error}\n${_edbp_npm_help}")
      endif()
      message(WARNING "edbp: the dashboard is left out (`edbp-client dashboard` will say "
                      "so): its npm packages could not be installed. "
                      "${_edbp_npm_error}\n${_edbp_npm_help}")
    endif()
  endif()
endif()
set(EDBP_WITH_DASHBOARD ${_edbp_dashboard_on} CACHE INTERNAL "the dashboard is built")
message(STATUS "edbp: dashboard ${EDBP_WITH_DASHBOARD}")

# edbp_embed_assets(TARGET tgt OUTPUT file.cc ASSETS /url=path ... [DEPENDS ...])
# Writes OUTPUT at build time: the files as byte arrays and EmbeddedAssets() (see
# client/dashboard/assets.h) mapping each URL path to its bytes and content type; OUTPUT
# is compiled into tgt.
function(edbp_embed_assets)
  cmake_parse_arguments(ARG "" "TARGET;OUTPUT" "ASSETS;DEPENDS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_OUTPUT)
    message(FATAL_ERROR "edbp_embed_assets: TARGET and OUTPUT are required")
  endif()
  set(files "")
  foreach(asset IN LISTS ARG_ASSETS)
    string(FIND "${asset}" "=" eq)
    math(EXPR value_at "${eq} + 1")
    string(SUBSTRING "${asset}" ${value_at} -1 file)
    list(APPEND files "${file}")
  endforeach()
  string(REPLACE ";" "|" assets_arg "${ARG_ASSETS}")
  # EdbpEmbedAssets.cmake rewrites OUTPUT only when its text changes. A stamp is the
  # rule's output, so that the rule is up to date after it ran with every generator
  # (Make has no restat: an untouched OUTPUT would re-run it at every build); OUTPUT is
  # a byproduct, which Ninja restats, so unchanged assets recompile nothing there.
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}.stamp"
    BYPRODUCTS "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DASSETS=${assets_arg}"
            -P "${PROJECT_SOURCE_DIR}/cmake/EdbpEmbedAssets.cmake"
    COMMAND "${CMAKE_COMMAND}" -E touch "${ARG_OUTPUT}.stamp"
    DEPENDS ${files} ${ARG_DEPENDS} "${PROJECT_SOURCE_DIR}/cmake/EdbpEmbedAssets.cmake"
    COMMENT "Embedding the dashboard's page into ${ARG_OUTPUT}"
    VERBATIM)
  # The stamp as a source attaches the rule to the target (a byproduct alone does not).
  target_sources(${ARG_TARGET} PRIVATE "${ARG_OUTPUT}" "${ARG_OUTPUT}.stamp")
endfunction()
