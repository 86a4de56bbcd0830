#pragma once

// A child process for integration tests: started with a pipe on stdin (closing
// it asks the child to stop) and one on stdout (read line by line).

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace slacker_test {

/// Where each thread of process `pid` is: its call stacks (gdb, when
/// installed) or else each thread's name and kernel wait channel.
std::string thread_stacks(pid_t pid);

class process {
public:
  /// Starts `argv[0]` with `argv`; stderr is inherited.
  explicit process(std::vector<std::string> argv);

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  /// Kills the child (SIGKILL) if it still runs, and reaps it.
  ~process();

  /// The next line of the child's stdout, or nothing after `timeout_ms` or at EOF.
  std::optional<std::string> read_line(int timeout_ms);

  /// The same, waiting until `until` at most.
  std::optional<std::string> read_line_until(std::chrono::steady_clock::time_point until);

  /// Reads lines until one starts with `prefix`; returns the rest of it.
  std::optional<std::string> wait_for(const std::string& prefix, int timeout_ms);

  /// Sends `sig` to the child. `SIGSTOP` returns once every thread of the
  /// child is stopped (the kernel stops them after `kill` returns, each when
  /// it next runs), at most 10 s later.
  void signal(int sig);

  /// Writes `line` and a newline to the child's stdin.
  void write_line(const std::string& line);

  /// Closes the child's stdin: it reads end-of-file.
  void close_input();

  /// Sends SIGKILL and waits until the child is gone.
  void kill();

  /// Closes the child's stdin and waits for it to exit; its exit status.
  int stop();

  /// Where each thread of the running child is (`thread_stacks`). For a
  /// test to say where a child hung before it kills it.
  std::string threads() const;

  pid_t pid() const noexcept {
    return pid_;
  }

private:
  pid_t pid_ = -1;
  int in_ = -1;  // child's stdin
  int out_ = -1; // child's stdout
  std::string buffer_;
};

} // namespace slacker_test
