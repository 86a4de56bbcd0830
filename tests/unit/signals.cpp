#define CAF_SUITE signals
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slacker/runtime/signals.hpp"

namespace {

/// Whether process `pid` has signal `sig` in the mask `field` of its
/// /proc status (SigCgt: caught by a handler).
bool in_mask(pid_t pid, const std::string& field, int sig) {
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0)
      return (std::stoull(line.substr(field.size() + 1), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

/// Forks a child that runs `child` (its exit status is what it returns),
/// waits until `field` of the child shows SIGTERM, sends it, and returns how
/// the child ended.
template <class F> int signalled_child(const std::string& field, F child) {
  auto pid = fork();
  if (pid == 0)
    _exit(child());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!in_mask(pid, field, SIGTERM) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{1}); // polls the child's state
  CAF_CHECK(in_mask(pid, field, SIGTERM));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

} // namespace

CAF_TEST(wait stop signal takes a signal that was never blocked through its handlers) {
  // A plain CAF_MAIN: nothing blocked, so any thread may take the signal;
  // without handlers the default action would end the process.
  auto status = signalled_child("SigCgt", [] {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    std::thread other{[] {
    }}; // a thread of the process that does not wait
    other.join();
    return slacker::wait_stop_signal() == SIGTERM ? 42 : 1;
  });
  CAF_CHECK(WIFEXITED(status));
  CAF_CHECK_EQUAL(WEXITSTATUS(status), 42);
}

CAF_TEST(wait stop signal takes a blocked signal by sigwait) {
  // Blocked, the signal stays pending until sigwait takes it: the child says
  // when it has blocked them (while it waits, the kernel shows them unblocked).
  int ready[2];
  CAF_REQUIRE_EQUAL(pipe(ready), 0);
  auto pid = fork();
  if (pid == 0) {
    slacker::block_stop_signals();
    char byte = 1;
    if (write(ready[1], &byte, 1) != 1)
      _exit(2);
    _exit(slacker::wait_stop_signal() == SIGTERM ? 42 : 1);
  }
  close(ready[1]);
  char byte = 0;
  CAF_CHECK_EQUAL(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  CAF_CHECK(WIFEXITED(status));
  CAF_CHECK_EQUAL(WEXITSTATUS(status), 42);
}
