#pragma once

#include <string>

namespace slacker_test {

/// The path of a binary built next to the test binaries (set by CMake).
inline std::string binary_path(const std::string& name) {
  return std::string{SLACKER_TEST_BIN_DIR} + "/" + name;
}

/// The path of a program built in apps/ (example-server, slacker, ...).
inline std::string app_path(const std::string& name) {
  return binary_path("../apps/" + name);
}

} // namespace slacker_test
