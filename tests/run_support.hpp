#pragma once

// Processes the security tests start: test-servers with options of their
// choice, client actor systems configured like a command line, and command
// lines run to their end with stdout and stderr captured.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/test/unit_test.hpp>

#include "apps/support/proc_status.hpp"
#include "apps/support/process.hpp"
#include "binaries.hpp"
#include "require.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker_test {

/// Prints where every thread of this test process is (`thread_stacks`) if it
/// still exists `after` from now (by default 5 s before CAF's watchdog, which
/// aborts a test that runs too long, 30 s unless `-r` says otherwise, without
/// saying where it stood). Make it a fixture's first member, so that it also
/// watches the fixture's end (its actor system's shutdown).
class hang_report {
public:
  hang_report()
    : thread_([this] {
        std::chrono::seconds after{std::max(1, caf::test::engine::max_runtime() - 5)};
        std::unique_lock<std::mutex> guard{mtx_};
        if (cv_.wait_for(guard, after, [this] { return done_; }))
          return;
        std::fprintf(stderr, "HANG: still running after %llds; the threads:\n%s",
                     static_cast<long long>(after.count()),
                     thread_stacks(::getpid()).c_str());
        std::fflush(stderr);
      }) {}

  ~hang_report() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  hang_report(const hang_report&) = delete;
  hang_report& operator=(const hang_report&) = delete;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

/// A test-server started with `extra` options; `port` once it serves.
struct server_process {
  process proc;
  uint16_t port = 0;

  explicit server_process(const std::vector<std::string>& extra)
    : proc([&] {
        std::vector<std::string> argv{binary_path("test-server"), "--port=0",
                                      "--slacker.handshake-timeout=1s"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
      }()) {
    auto line = proc.wait_for("port ", 15000);
    SLACKER_REQUIRE(line, "test-server did not start");
    port = static_cast<uint16_t>(std::stoi(*line));
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(port);
  }

  /// The server's resident memory in KiB.
  long rss_kib() const {
    return status_kib(std::to_string(proc.pid()), "VmRSS:");
  }
};

/// An actor system configured from command-line style options.
struct client_system {
  slacker::config cfg;
  std::unique_ptr<caf::actor_system> sys;

  explicit client_system(std::vector<std::string> args) {
    args.insert(args.begin(), "client");
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    auto err = cfg.parse(static_cast<int>(argv.size()), argv.data());
    SLACKER_REQUIRE(!err, "bad options");
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

struct run_result {
  int exit_code = -1;
  std::string output; // stdout and stderr
};

/// Runs `argv` through the shell to its end, stderr merged into stdout;
/// `env` (e.g. `NAME=value`) is set for it.
inline run_result run(const std::vector<std::string>& argv, const std::string& env = {}) {
  std::string cmd = env.empty() ? "exec" : env + " exec";
  for (auto& a : argv)
    cmd += " '" + a + "'";
  process proc{{"/bin/sh", "-c", cmd + " 2>&1"}};
  run_result out;
  while (auto line = proc.read_line(30000))
    out.output += *line + "\n";
  auto status = proc.stop();
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

/// A port nothing listens on now (on 127.0.0.1).
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// An HTTP GET with curl: the status code and the body.
inline std::pair<int, std::string> http_get(const std::string& url) {
  auto out =
      run({"/usr/bin/curl", "-s", "--max-time", "10", "-w", "\n%{http_code}\n", url})
          .output;
  auto nl = out.rfind('\n', out.size() - 2);
  if (nl == std::string::npos)
    return {0, out};
  return {std::atoi(out.c_str() + nl + 1), out.substr(0, nl + 1)};
}

/// The `slacker` command-line tool of this build.
inline std::string cli_path() {
  return app_path("slacker");
}

/// `argv` with its stderr merged into its stdout: for a `process` whose log
/// lines the test reads.
inline std::vector<std::string> merging_stderr(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"});
  return argv;
}

} // namespace slacker_test
