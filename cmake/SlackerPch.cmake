# Precompiled headers: the third-party headers nearly every unit includes
# (CAF's core and io, nlohmann's JSON, Boost's binary archives) are compiled
# twice per build — once position-independent for the libraries (-fPIC), once
# for executables (-fPIE) — and every target reuses one of the two. A unit
# then parses none of them (2-3 s of its 4-25 s on this machine).
# `-DSLACKER_PCH=OFF` builds without; -Winvalid-pch makes a PCH that GCC
# cannot use an error rather than a silent slowdown.
#   slacker_pch(TARGET)   reuse the PCH that fits TARGET's kind
option(SLACKER_PCH "Precompile CAF, nlohmann/json and Boost archive headers" ON)
if(SLACKER_PCH)
  set(slacker_pch_headers <caf/all.hpp> <caf/io/all.hpp> <nlohmann/json.hpp>
      <boost/archive/binary_iarchive.hpp> <boost/archive/binary_oarchive.hpp>)
  set(slacker_pch_source "${CMAKE_BINARY_DIR}/slacker_pch.cpp")
  file(CONFIGURE OUTPUT "${slacker_pch_source}"
       CONTENT "// The unit that carries the precompiled headers.\n")
  # The same libraries (hence the same definitions) as the lowest layer.
  foreach(kind lib exe)
    add_library(slacker-pch-${kind} OBJECT "${slacker_pch_source}")
    target_link_libraries(slacker-pch-${kind} PRIVATE CAF::core CAF::io
      Boost::serialization nlohmann_json::nlohmann_json Threads::Threads)
    target_precompile_headers(slacker-pch-${kind} PRIVATE ${slacker_pch_headers})
  endforeach()
  set_target_properties(slacker-pch-exe PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(slacker-pch-exe PRIVATE -fPIE)
endif()

function(slacker_pch target)
  if(NOT SLACKER_PCH)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL EXECUTABLE)
    target_precompile_headers(${target} REUSE_FROM slacker-pch-exe)
  else()
    target_precompile_headers(${target} REUSE_FROM slacker-pch-lib)
  endif()
  target_compile_options(${target} PRIVATE -Winvalid-pch)
endfunction()
