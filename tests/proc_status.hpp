#pragma once

#include <fstream>
#include <string>

namespace slacker_test {

/// A memory figure in KiB from /proc/`pid`/status (`pid` a number or `self`):
/// `VmRSS:` (resident now) or `VmHWM:` (peak resident); -1 when absent.
inline long status_kib(const std::string& pid, const std::string& key) {
  std::ifstream status{"/proc/" + pid + "/status"};
  std::string word;
  long value = 0;
  while (status >> word) {
    if (word == key) {
      status >> value;
      return value;
    }
    status.ignore(4096, '\n');
  }
  return -1;
}

} // namespace slacker_test
