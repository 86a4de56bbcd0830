// The example server of slacker-cluster: registers in a cluster and serves
// slacker.example.api, slacker.example.api2 and the manager namespace.
// `example-server --help` shows its options and their defaults; the port may
// come first (`example-server 2104`), as in the original. Without TLS it takes
// connections from loopback only (--insecure: from anywhere); manager writes
// need --manager-token, or a caller on this host. Ctrl-C, SIGTERM or the
// manager's shutdown stop it gracefully: it drains (clients send new calls
// elsewhere), leaves the cluster, finishes running calls, then exits
// (docs/reliability.md). It prints `serving ...` once it listens and
// `registered ...` once it is in the cluster.
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
#include <nlohmann/json.hpp>

#include "apps/support/cli.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/cluster/server_config.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"

namespace {

struct server_config : slacker::cluster_server_config {
  size_t grace = 300;
  size_t drain_timeout = 30000;
};

/// The command line: CLI11 documents and checks it; the values land in the
/// CAF configuration `cfg` (whose defaults it shows).
struct command_line {
  CLI::App app{
      "The example server of slacker-cluster: serves slacker.example.api, "
      "slacker.example.api2 and the manager namespace, registered in a cluster.\n"
      "Configuration keys (--slacker.worker-threads=8, --caf.*) pass through to CAF, "
      "as does --config-file=FILE (an INI file of them).",
      "example-server"};
  uint16_t port = 2104;
  std::string cluster = "example-cluster";
  std::string zk = "127.0.0.1:2181";
  std::string server_data = R"({"label":"example"})";
  std::string node;
  size_t session_timeout = 5000;
  size_t grace = 300;
  size_t drain_timeout = 30000;
  bool log_calls = true;
  std::string metrics;
  slacker_apps::security_options security;

  command_line() {
    app.option_defaults()->always_capture_default();
    app.add_option("PORT,--port", port, "the port to serve on (0: any free one)");
    app.add_option("--cluster", cluster, "the cluster to join")->type_name("NAME");
    app.add_option("--zk", zk, "ZooKeeper ensemble")->type_name("HOST:PORT[,...]");
    app.add_option("--server-data", server_data, "this server's data for clients (JSON)")
        ->type_name("JSON");
    app.add_option("--node", node, "the address to register (default: detected)")
        ->type_name("IP");
    app.add_option("--session-timeout", session_timeout, "ZooKeeper session timeout")
        ->type_name("MS");
    app.add_option("--grace", grace,
                   "while stopping, stop once no call arrived for this many ms")
        ->type_name("MS");
    app.add_option("--drain-timeout", drain_timeout,
                   "while stopping, calls still running after this many ms are abandoned "
                   "and the process exits")
        ->type_name("MS");
    app.add_option("--log-calls", log_calls,
                   "one log line per call: function, caller address, duration, outcome");
    app.add_option("--metrics", metrics,
                   "serve Prometheus /metrics, /health and the status portal (/) on this "
                   "address (default: off)")
        ->type_name("HOST:PORT");
    security.add_to(app, true);
  }

  /// The values, into the server's configuration.
  void apply(server_config& cfg) const {
    cfg.port = port;
    cfg.cluster = cluster;
    cfg.zk = zk;
    cfg.server_data = server_data;
    cfg.node = node;
    cfg.session_timeout = session_timeout;
    cfg.grace = grace;
    cfg.drain_timeout = drain_timeout;
  }

  /// The configuration keys these flags stand for.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    security.forward(out);
    out.push_back(std::string{"--slacker.log-calls="} + (log_calls ? "true" : "false"));
    if (!metrics.empty())
      out.push_back("--slacker.metrics=" + metrics);
    return out;
  }
};

slacker::ns example_api(std::shared_ptr<std::string> whoami) {
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
          "whoami", [whoami] { return *whoami; }, "this server's host:port")
      .def(
          "slow",
          [](int64_t ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds{ms});
            return ms;
          },
          "sleeps ms milliseconds on the worker pool", slacker::blocking);
}

int run(caf::actor_system& sys, const server_config& cfg) {
  auto port = cfg.port;
  auto whoami = std::make_shared<std::string>();
  slacker::server srv{sys};
  srv.add(example_api(whoami));
  srv.add(slacker::ns("slacker.example.api2")
              .def(
                  "echo2", [](std::string s) { return s; }, "returns its argument"));
  auto published = srv.publish(port);
  if (!published) {
    // One line that names the cause (the port in use, an address not here).
    std::fprintf(stderr, "error: %s\n", slacker::describe(published.error()).c_str());
    std::exit(1);
  }
  *whoami = (cfg.node.empty() ? std::string{"127.0.0.1"} : cfg.node) + ":" +
            std::to_string(*published);
  std::printf("serving slacker.example.api, slacker.example.api2 and %s on port %u\n",
              slacker::manager_ns, *published);
  std::fflush(stdout);
  slacker::registration reg{sys, srv, cfg.registration()};
  srv.add(slacker::manager_namespace(reg, slacker::request_stop));
  reg.publish(slacker::manager_ns);
  auto registered = [&] {
    // `whoami` answers the address clients reach it at (detected without
    // --node: the interface that reaches ZooKeeper, not 127.0.0.1).
    if (auto at = reg.address(); !at.empty())
      *whoami = at;
    std::printf("registered in cluster %s at %s\n", cfg.cluster.c_str(), cfg.zk.c_str());
    std::fflush(stdout);
  };
  // `registered` once it is: at once, or (ZooKeeper unreachable) whenever
  // it gets there, while serving direct calls meanwhile.
  std::atomic<bool> stopping{false};
  std::thread later;
  if (auto err = reg.wait_registered(std::chrono::seconds{10})) {
    if (slacker::code_of(err) != slacker::sc::timeout) {
      std::fprintf(stderr, "error: %s\n", slacker::describe(err).c_str());
      srv.stop();
      return 1;
    }
    std::fprintf(stderr, "warning: not registered in ZooKeeper at %s yet; still trying\n",
                 cfg.zk.c_str());
    later = std::thread{[&] {
      while (!stopping) {
        auto again = reg.wait_registered(std::chrono::milliseconds{500});
        if (!again)
          return registered();
        if (slacker::code_of(again) != slacker::sc::timeout)
          return;
      }
    }};
  } else {
    registered();
  }
  // The stop signals are blocked since main (SLACKER_MAIN): taken here only.
  slacker::stop_options stop;
  stop.quiet = std::chrono::milliseconds{cfg.grace};
  stop.drain_timeout = std::chrono::milliseconds{cfg.drain_timeout};
  stop.note = "example-server: stopping gracefully (draining); send another signal to "
              "force";
  stop.on_signal = [&](int) {
    stopping = true;
    if (later.joinable())
      later.join();
    std::printf("stopping\n");
    std::fflush(stdout);
  };
  slacker::serve_until_stopped(srv, reg, stop);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  slacker::block_stop_signals(); // before CAF starts threads: they inherit it
  auto parts = slacker_apps::split(argc, argv);
  command_line cli;
  if (auto rc = slacker_apps::parse(cli.app, parts.cli); rc >= 0)
    return rc;
  if (!nlohmann::json::accept(cli.server_data)) {
    std::fprintf(stderr, "example-server: --server-data is not JSON: %s\n",
                 cli.server_data.c_str());
    return slacker_apps::usage_exit;
  }
  server_config cfg;
  auto keys = cli.keys();
  keys.insert(keys.end(), parts.caf.begin(), parts.caf.end());
  slacker::expand_option_aliases(keys); // --slacker.log-calls=false and the like
  if (auto rc = slacker_apps::parse_config(cfg, "example-server", keys); rc >= 0)
    return rc;
  cli.apply(cfg);
  caf::actor_system sys{cfg};
  return run(sys, cfg);
}
