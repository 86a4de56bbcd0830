#pragma once

#include <string>

namespace slacker_test {

/// The path of a binary built next to the test binaries (set by CMake).
inline std::string binary_path(const std::string& name) {
  return std::string{SLACKER_TEST_BIN_DIR} + "/" + name;
}

} // namespace slacker_test
