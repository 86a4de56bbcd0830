#include "slacker/runtime/signals.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace slacker {

namespace {

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

/// Whether the calling thread blocks every stop signal (then `sigwait` takes
/// them, if every other thread blocks them too: SLACKER_MAIN).
bool blocked_here() {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, SIGINT) == 1 && sigismember(&current, SIGTERM) == 1 &&
         sigismember(&current, SIGHUP) == 1;
}

/// The self-pipe of the handlers: a signal's number, written by whichever
/// thread took it, read by `wait_stop_signal`.
int signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  auto saved = errno;
  auto byte = static_cast<char>(sig);
  [[maybe_unused]] auto n = ::write(signal_pipe[1], &byte, 1);
  errno = saved;
}

/// Where the stop signals were not blocked beforehand (a plain CAF_MAIN:
/// CAF's threads take them as well), handlers take them from here on.
void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(signal_pipe, O_CLOEXEC) != 0) {
      std::perror("slacker: cannot wait for stop signals");
      return;
    }
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
      sigaction(sig, &sa, nullptr);
  });
}

} // namespace

void block_stop_signals() {
  auto set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_stop_signal() {
  if (blocked_here()) {
    auto set = stop_set();
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
  }
  install_handlers();
  for (;;) {
    char byte = 0;
    auto n = ::read(signal_pipe[0], &byte, 1);
    if (n == 1)
      return byte;
    if (n < 0 && errno == EINTR)
      continue;
    // No pipe: nothing can tell this thread; the default action (the end of
    // the process) is all there is.
    for (;;)
      ::pause();
  }
}

void exit_on_stop_signal() {
  std::thread{[] {
    _exit(128 + wait_stop_signal());
  }}.detach();
}

void on_further_stop_signals(std::string note) {
  std::thread{[note = std::move(note)] {
    wait_stop_signal();
    std::fprintf(stderr, "%s\n", note.c_str());
    std::fflush(stderr);
    _exit(128 + wait_stop_signal());
  }}.detach();
}

} // namespace slacker
