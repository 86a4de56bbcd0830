# Finds civetweb's C library (libcivetweb-dev). Debian's own CMake config
# names the `civetweb` program of another package, so it fails without it.
# Defines Civetweb::civetweb.
find_path(Civetweb_INCLUDE_DIR civetweb.h)
find_library(Civetweb_LIBRARY civetweb)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Civetweb
  REQUIRED_VARS Civetweb_INCLUDE_DIR Civetweb_LIBRARY)
if(Civetweb_FOUND AND NOT TARGET Civetweb::civetweb)
  add_library(Civetweb::civetweb UNKNOWN IMPORTED)
  set_target_properties(Civetweb::civetweb PROPERTIES
    IMPORTED_LOCATION "${Civetweb_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Civetweb_INCLUDE_DIR}")
endif()
mark_as_advanced(Civetweb_INCLUDE_DIR Civetweb_LIBRARY)
