# Builds the .deb from BUILD_DIR (CPack), unpacks it with dpkg -x into
# WORK_DIR/root, then builds and runs the consumer against what it holds:
# once with CMake (find_package) and once with pkg-config, for all of slacker
# and for direct calls alone (slacker-actors, no ZooKeeper).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

run("cpack" cpack -G DEB --config "${BUILD_DIR}/CPackConfig.cmake" -B "${WORK_DIR}/pkg")
file(GLOB debs "${WORK_DIR}/pkg/*.deb")
list(LENGTH debs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one .deb, found: ${debs}")
endif()
# Stripped programs, archives without debug info: a small download.
file(SIZE "${debs}" deb_size)
math(EXPR deb_mib "${deb_size} / 1048576")
message(STATUS "the package: ${deb_size} bytes")
if(deb_size GREATER 15728640)
  message(FATAL_ERROR "the package is ${deb_mib} MiB, over 15 MiB")
endif()
run("dpkg -x" dpkg -x "${debs}" "${WORK_DIR}/root")
set(usr "${WORK_DIR}/root/usr")
foreach(f bin/slacker bin/slacker-example-zk bin/slacker-example-server
          include/slacker/cluster/cluster_client.hpp lib/libslacker_cluster.a
          lib/libslacker_actors.a lib/pkgconfig/slacker-actors.pc
          lib/cmake/slacker/slackerConfig.cmake lib/pkgconfig/slacker.pc
          share/doc/slacker/LICENSE share/doc/slacker/docs/cli.md)
  if(NOT EXISTS "${usr}/${f}")
    message(FATAL_ERROR "the package lacks ${f}")
  endif()
endforeach()
file(READ "${usr}/share/doc/slacker/README.md" readme)
if(readme MATCHES "build/apps/" OR NOT readme MATCHES "slacker-example-server 2104")
  message(FATAL_ERROR "the packaged README names programs of the build tree")
endif()
run("slacker --version" "${usr}/bin/slacker" --version)
if(NOT output MATCHES "^slacker ${VERSION}")
  message(FATAL_ERROR "slacker --version says: ${output}")
endif()

# CMake.
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/cmake"
    -G Ninja "-DCMAKE_PREFIX_PATH=${usr}")
run("building the consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/cmake")
run("the CMake consumer" "${WORK_DIR}/cmake/consumer")

# pkg-config (the .pc file finds its prefix from where it lies).
set(ENV{PKG_CONFIG_PATH} "${usr}/lib/pkgconfig")
run("pkg-config" pkg-config --cflags --libs slacker)
string(STRIP "${output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling with pkg-config" c++ "${SOURCE_DIR}/main.cpp" -o "${WORK_DIR}/pc-consumer" ${flags})
run("the pkg-config consumer" "${WORK_DIR}/pc-consumer")

# Direct calls with pkg-config's slacker-actors: no ZooKeeper on the link line.
run("pkg-config slacker" pkg-config --libs slacker)
if(NOT output MATCHES "zookeeper")
  message(FATAL_ERROR "pkg-config --libs slacker names no ZooKeeper: ${output}")
endif()
run("pkg-config slacker-actors" pkg-config --cflags --libs slacker-actors)
if(output MATCHES "zookeeper")
  message(FATAL_ERROR "pkg-config --libs slacker-actors names ZooKeeper: ${output}")
endif()
string(STRIP "${output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling the direct consumer with pkg-config" c++ "${SOURCE_DIR}/direct/main.cpp"
    -o "${WORK_DIR}/pc-direct" ${flags})
run("the pkg-config direct consumer" "${WORK_DIR}/pc-direct")
