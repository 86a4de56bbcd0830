# slacker_layer(NAME SOURCES ... [PUBLIC deps...] [PRIVATE deps...] [PC_REQUIRES ...] [PC_LIBS ...])
# One layer of the library, called from the layer's folder: the target
# slacker_NAME (slacker::NAME, exported as a component of the package), its
# include tree (NAME/slacker/NAME/..., public headers installed, detail/ not)
# and its pkg-config file slacker-NAME.pc.
function(slacker_layer name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC;PRIVATE;PC_REQUIRES;PC_LIBS" ${ARGN})
  set(target slacker_${name})
  add_library(${target} ${arg_SOURCES})
  add_library(slacker::${name} ALIAS ${target})
  # A shared build (-DBUILD_SHARED_LIBS=ON) gets a versioned soname.
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_include_directories(${target} PUBLIC
    "$<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>" "$<INSTALL_INTERFACE:include>")
  target_link_libraries(${target} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE})
  target_compile_options(${target} PRIVATE ${SLACKER_WARNINGS})
  slacker_pch(${target})

  install(DIRECTORY slacker/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/slacker
          FILES_MATCHING PATTERN "*.hpp" PATTERN detail EXCLUDE)
  install(TARGETS ${target} EXPORT slackerTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  # install/strip (and the package): a static archive keeps its symbols and
  # loses its debug info (strip would drop what the linker needs).
  if(NOT BUILD_SHARED_LIBS)
    install(CODE "if(CMAKE_INSTALL_DO_STRIP)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${target}>\")
    endif()")
  endif()

  # pkg-config, relocatable: the prefix is found from the .pc file's place.
  list(TRANSFORM arg_PC_REQUIRES PREPEND slacker-)
  string(JOIN " " SLACKER_PC_REQUIRES ${arg_PC_REQUIRES})
  string(JOIN " " SLACKER_PC_LIBS -lslacker_${name} ${arg_PC_LIBS})
  set(SLACKER_PC_NAME slacker-${name})
  set(SLACKER_PC_DESCRIPTION "slacker's ${name} layer")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/slacker.pc.in
                 "${PROJECT_BINARY_DIR}/slacker-${name}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/slacker-${name}.pc"
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
