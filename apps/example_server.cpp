// The example server: namespaces slacker.example.api and slacker.example.api2.
//   example-server [PORT] [--port=N] [--bind=ADDR]
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/server.hpp"
#include "slacker/runtime/config.hpp"

namespace {

struct server_config : slacker::config {
  uint16_t port = 2104;
  std::string bind = "127.0.0.1";
  server_config() {
    opt_group{custom_options_, "global"}
        .add(port, "port", "port to serve on (default 2104)")
        .add(bind, "bind", "address to bind (default 127.0.0.1, empty: all)");
  }
};

slacker::ns example_api(const std::string& whoami) {
  auto counter = std::make_shared<std::atomic<int64_t>>(0);
  return slacker::ns("slacker.example.api")
      .def(
          "timestamp",
          [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
          },
          "milliseconds since the epoch")
      .def(
          "inc-m", [counter](int64_t by) { return *counter += by; },
          "adds to a counter kept by the server, returns the new value")
      .def(
          "rand-ints",
          [](int32_t n) {
            thread_local std::mt19937_64 gen{std::random_device{}()};
            std::vector<int32_t> xs(static_cast<size_t>(std::max(n, 0)));
            for (auto& x : xs)
              x = static_cast<int32_t>(gen() % 1000);
            return xs;
          },
          "n random integers below 1000")
      .def(
          "make-error",
          []() -> int64_t { throw std::runtime_error("expected exception"); },
          "always throws")
      .def(
          "echo", [](std::string s) { return s; }, "returns its argument")
      .def(
          "whoami", [whoami] { return whoami; }, "this server's host:port")
      .def(
          "slow",
          [](int64_t ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds{ms});
            return ms;
          },
          "sleeps ms milliseconds on the worker pool", slacker::blocking);
}

void caf_main(caf::actor_system& sys, const server_config& cfg) {
  auto port = cfg.port;
  // The port may also come as the one positional argument: example-server 2104.
  if (!cfg.remainder.empty())
    port = static_cast<uint16_t>(std::stoi(cfg.remainder.front()));
  auto host = cfg.bind.empty() ? std::string{"0.0.0.0"} : cfg.bind;
  slacker::server srv{sys};
  srv.add(example_api(host + ":" + std::to_string(port)));
  srv.add(slacker::ns("slacker.example.api2")
              .def(
                  "echo2", [](std::string s) { return s; }, "returns its argument"));
  auto published = srv.publish(port, cfg.bind);
  if (!published) {
    std::fprintf(stderr, "error: cannot serve on port %u: %s\n", port,
                 slacker::describe(published.error()).c_str());
    std::exit(1);
  }
  std::printf("serving slacker.example.api and slacker.example.api2 on %s:%u\n",
              host.c_str(), *published);
  std::fflush(stdout);
  // Serve until SIGINT or SIGTERM.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("stopping\n");
}

} // namespace

CAF_MAIN()
