# Installs slacker from BUILD_DIR into WORK_DIR/prefix, then configures, builds
# and runs the consumer project against that install tree.
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
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
                        -G Ninja "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer failed: ${rc}")
endif()
