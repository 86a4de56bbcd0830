#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <sys/types.h>

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

/// Waits (bounded) until process `pid` is in `state` (`T`: stopped) as
/// /proc/PID/stat says: a SIGSTOP takes effect when the kernel next
/// schedules the process, not when `kill` returns.
inline bool wait_proc_state(pid_t pid, char state, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == state)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return false;
}

} // namespace slacker_test
