# Installs slacker from BUILD_DIR into WORK_DIR/prefix, then configures, builds
# and runs the consumer project against that install tree: all of slacker
# (find_package(slacker)), run against the ZooKeeper whose address is in
# ZK_ADDRESS_FILE, and direct calls alone (COMPONENTS actors), which link no
# ZooKeeper.
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed")
endif()
# Internals stay out of the install tree; the cluster client's header pulls no
# broker.
file(GLOB_RECURSE internals "${WORK_DIR}/prefix/include/slacker/*/detail/*")
if(internals)
  message(FATAL_ERROR "internals were installed: ${internals}")
endif()
file(WRITE "${WORK_DIR}/surface.cpp" "#include <slacker/cluster/cluster_client.hpp>\n")
execute_process(COMMAND c++ -std=c++20 -H -fsyntax-only -I "${WORK_DIR}/prefix/include"
                        "${WORK_DIR}/surface.cpp"
                ERROR_VARIABLE included RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the installed cluster_client.hpp does not compile alone:\n${included}")
endif()
foreach(heavy caf/io/broker.hpp caf/io/middleman.hpp)
  string(FIND "${included}" "${heavy}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "<slacker/cluster/cluster_client.hpp> pulls in ${heavy}")
  endif()
endforeach()
# Configures, builds and runs the project in SOURCE_DIR/sub as WORK_DIR/dir
# (its program with the arguments after `program`).
function(build_and_run what sub dir program)
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/${sub}" -B "${WORK_DIR}/${dir}"
                          -G Ninja "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring the ${what} failed")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/${dir}" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "building the ${what} failed")
  endif()
  execute_process(COMMAND "${WORK_DIR}/${dir}/${program}" ${ARGN} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "the ${what} failed: ${rc}")
  endif()
endfunction()

# With the suite's ZooKeeper: a cluster, an ask from an actor, membership.
file(READ "${ZK_ADDRESS_FILE}" zk_address)
string(STRIP "${zk_address}" zk_address)
build_and_run("consumer" "." build consumer "--zk=${zk_address}")
# Direct calls alone: the actors component.
build_and_run("direct consumer (COMPONENTS actors)" direct direct direct)
# What each was linked with: the direct consumer without ZooKeeper's library,
# the full one with it (so that the check can fail).
execute_process(COMMAND ninja -C "${WORK_DIR}/direct" -t commands direct
                OUTPUT_VARIABLE direct_link)
execute_process(COMMAND ninja -C "${WORK_DIR}/build" -t commands consumer
                OUTPUT_VARIABLE full_link)
if(direct_link MATCHES "zookeeper")
  message(FATAL_ERROR "the direct consumer is linked with ZooKeeper:\n${direct_link}")
endif()
if(NOT full_link MATCHES "zookeeper")
  message(FATAL_ERROR "the full consumer's link line names no ZooKeeper:\n${full_link}")
endif()

# An unknown component is refused.
file(WRITE "${WORK_DIR}/bogus/CMakeLists.txt"
  "cmake_minimum_required(VERSION 3.20)\nproject(bogus LANGUAGES CXX)\n"
  "find_package(slacker REQUIRED COMPONENTS nonsense)\n")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${WORK_DIR}/bogus" -B "${WORK_DIR}/bogus/build"
                        "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc OR NOT err MATCHES "nonsense")
  message(FATAL_ERROR "find_package(slacker COMPONENTS nonsense) did not fail naming it:\n${err}")
endif()
