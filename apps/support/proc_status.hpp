#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
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

/// The directories of process `pid`'s threads (/proc/PID/task/TID); none
/// when the process is gone.
inline std::vector<std::string> thread_dirs(pid_t pid) {
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  std::vector<std::string> out;
  if (auto d = opendir(dir.c_str())) {
    while (auto e = readdir(d))
      if (e->d_name[0] != '.')
        out.push_back(dir + "/" + e->d_name);
    closedir(d);
  }
  return out;
}

/// Whether every thread of process `pid` is in `state` (or has ended), as
/// /proc/PID/task/TID/stat says.
inline bool in_proc_state(pid_t pid, char state) {
  auto threads = thread_dirs(pid);
  for (auto& dir : threads) {
    std::ifstream stat{dir + "/stat"};
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')'); // the name may hold spaces and parentheses
    if (paren == std::string::npos || paren + 2 >= line.size())
      continue; // the thread ended meanwhile
    auto s = line[paren + 2];
    if (s != state && s != 'Z' && s != 'X')
      return false;
  }
  return !threads.empty();
}

/// Waits (bounded) until every thread of process `pid` is in `state` (`T`:
/// stopped, `Z`: exited): a SIGSTOP takes effect when the kernel next
/// schedules each thread, not when `kill` returns, and a thread not stopped
/// yet can still answer a call.
inline bool wait_proc_state(pid_t pid, char state, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (in_proc_state(pid, state))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return false;
}

/// The TCP connections established to local port `port` on IPv4 (the
/// server's ends, from /proc/net/tcp of this network namespace).
inline int established_to(uint16_t port) {
  std::ifstream tcp{"/proc/net/tcp"};
  std::string line;
  std::getline(tcp, line); // the header
  int n = 0;
  while (std::getline(tcp, line)) {
    // "  0: 0100007F:1F90 0100007F:A2C4 01 ...": local address:port (hex),
    // remote, state (01: established).
    auto colon = line.find(':', line.find(':') + 1);
    if (colon == std::string::npos || colon + 4 >= line.size())
      continue;
    auto local_port = std::stoul(line.substr(colon + 1, 4), nullptr, 16);
    auto st = line.find(' ', line.find(' ', colon) + 1);
    if (local_port == port && st != std::string::npos &&
        line.compare(st + 1, 2, "01") == 0)
      ++n;
  }
  return n;
}

/// Waits (bounded) until no TCP connection to local port `port` is left.
inline bool wait_no_connection_to(uint16_t port, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (established_to(port) == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return false;
}

} // namespace slacker_test
