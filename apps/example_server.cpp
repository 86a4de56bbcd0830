// The example server of slacker-cluster: registers in a cluster and serves
// slacker.example.api, slacker.example.api2 and the manager namespace.
//   example-server [PORT] [--port=N] [--cluster=NAME] [--zk=HOST:PORT[,...]]
//                  [--server-data=JSON] [--node=IP] [--session-timeout=MS]
//                  [--tls-cert=FILE --tls-key=FILE --tls-ca=FILE] [--insecure]
//                  [--manager-token=SECRET] [--zk-auth=USER:PASSWORD]
// Without TLS it takes connections from loopback only (--insecure: from
// anywhere); manager writes need --manager-token, or a caller on this host.
// Ctrl-C, SIGTERM or the manager's shutdown stop it gracefully: it drains
// (clients send new calls elsewhere), leaves the cluster, finishes running
// calls, then exits (docs/reliability.md).
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

#include "slacker/actors/server.hpp"
#include "slacker/registry/manager.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/registry/server_config.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"

namespace {

struct server_config : slacker::cluster_server_config {
  size_t grace = 300;
  server_config() {
    port = 2104;
    server_data = R"({"label":"example"})";
    session_timeout = 5000;
    opt_group{custom_options_, "global"}.add(
        grace, "grace", "stop once no call arrived for this many ms while draining (300)");
    set("slacker.log-calls", true);
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

void caf_main(caf::actor_system& sys, const server_config& cfg) {
  auto port = cfg.port;
  if (!cfg.remainder.empty()) {
    std::fprintf(stderr, "usage: example-server [PORT] [--port=N] [--cluster=NAME] "
                         "[--zk=HOST:PORT[,...]] [--server-data=JSON] [--node=IP] "
                         "[--session-timeout=MS] [--tls-cert=FILE --tls-key=FILE "
                         "--tls-ca=FILE] [--insecure] [--manager-token=SECRET] "
                         "[--zk-auth=USER:PASSWORD]\n");
    std::exit(2);
  }
  if (!nlohmann::json::accept(cfg.server_data)) {
    std::fprintf(stderr, "error: --server-data is not JSON: %s\n",
                 cfg.server_data.c_str());
    std::exit(2);
  }
  auto whoami = std::make_shared<std::string>();
  slacker::server srv{sys};
  srv.add(example_api(whoami));
  srv.add(slacker::ns("slacker.example.api2")
              .def(
                  "echo2", [](std::string s) { return s; }, "returns its argument"));
  auto published = srv.publish(port);
  if (!published) {
    std::fprintf(stderr, "error: cannot serve on port %u: %s\n", port,
                 slacker::describe(published.error()).c_str());
    std::exit(1);
  }
  slacker::registration reg{sys, srv, cfg.registration()};
  srv.add(slacker::manager_namespace(reg, [] { kill(getpid(), SIGTERM); }));
  reg.publish(slacker::manager_ns);
  if (auto err = reg.wait_registered(std::chrono::seconds{10})) {
    if (slacker::code_of(err) != slacker::sc::timeout) {
      std::fprintf(stderr, "error: %s\n", slacker::describe(err).c_str());
      srv.stop();
      std::exit(1);
    }
    std::fprintf(stderr, "warning: not registered in ZooKeeper at %s yet; still trying\n",
                 cfg.zk.c_str());
  }

  *whoami = (cfg.node.empty() ? std::string{"127.0.0.1"} : cfg.node) + ":" +
            std::to_string(*published);
  std::printf("serving slacker.example.api, slacker.example.api2 and %s on port %u, "
              "cluster %s at %s\n",
              slacker::manager_ns, *published, cfg.cluster.c_str(), cfg.zk.c_str());
  std::fflush(stdout);
  // Blocked since main: taken here only.
  slacker::wait_stop_signal();
  slacker::on_further_stop_signals("example-server: stopping gracefully (draining); send "
                                   "another signal to force");
  std::printf("stopping\n");
  std::fflush(stdout);
  slacker::graceful_stop(srv, reg, std::chrono::milliseconds{cfg.grace},
                         std::chrono::seconds{30});
}

} // namespace

// `example-server 2104 --zk=...`: the port may come first, as in the original;
// it becomes --port=2104 so that the options after it still count.
int main(int argc, char** argv) {
  slacker::block_stop_signals(); // before CAF starts threads: they inherit it
  std::vector<std::string> args(argv, argv + argc);
  slacker::expand_option_aliases(args);
  for (size_t i = 1; i < args.size(); ++i)
    if (!args[i].empty() && args[i].find_first_not_of("0123456789") == std::string::npos)
      args[i] = "--port=" + args[i];
  std::vector<char*> ptrs;
  for (auto& a : args)
    ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  return caf::exec_main<>(caf_main, static_cast<int>(args.size()), ptrs.data());
}
