#pragma once

// SLACKER_MAIN(): CAF_MAIN for a process that serves until it is told to
// stop. It blocks SIGINT, SIGTERM and SIGHUP before CAF starts its threads
// (they inherit the mask), so that a signal is taken only where the program
// waits for it (`slacker::wait_stop_signal`, `slacker::serve_until_stopped`)
// and never ends the process half-way. Takes CAF's module list as CAF_MAIN
// does: `SLACKER_MAIN(caf::io::middleman)`.

#include <caf/exec_main.hpp>

#include "slacker/runtime/signals.hpp"

#define SLACKER_MAIN(...)                                                                \
  int main(int argc, char** argv) {                                                      \
    ::slacker::block_stop_signals();                                                     \
    return ::caf::exec_main<__VA_ARGS__>(caf_main, argc, argv);                          \
  }
