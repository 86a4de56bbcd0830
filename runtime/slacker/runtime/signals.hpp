#pragma once

// How a slacker process takes SIGINT, SIGTERM and SIGHUP: blocked in every
// thread (`SLACKER_MAIN()` of slacker/runtime/main.hpp, or
// `block_stop_signals()` first thing in `main`, before CAF starts its
// threads, which inherit the mask), then taken by `sigwait` where the process
// is ready to stop cleanly. Under a plain `CAF_MAIN()` (nothing blocked)
// `wait_stop_signal` installs handlers instead: it works the same from then
// on, but a signal that comes before it ends the process at once.

#include <string>

namespace slacker {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
/// thread it starts afterwards).
void block_stop_signals();

/// Waits for SIGINT, SIGTERM or SIGHUP; the signal. Takes them by `sigwait`
/// when the calling thread blocks them (blocked beforehand), else by
/// handlers it installs on its first call.
int wait_stop_signal();

/// For a process with nothing to clean up: the first stop signal ends it at
/// once (exit status 128 + signal). Runs on a detached thread of its own.
void exit_on_stop_signal();

/// While a process stops gracefully: the next stop signal prints `note` on
/// stderr and is otherwise ignored; the one after ends the process at once
/// (exit status 128 + signal). Runs on a detached thread of its own.
void on_further_stop_signals(std::string note);

} // namespace slacker
