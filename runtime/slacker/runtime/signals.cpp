#include "slacker/runtime/signals.hpp"

#include <csignal>
#include <cstdio>
#include <thread>

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

} // namespace

void block_stop_signals() {
  auto set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_stop_signal() {
  auto set = stop_set();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
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
