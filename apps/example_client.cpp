// The example client of slacker-cluster: the original's scenario against the
// example cluster, saying what it does at each step.
//   example-client [--cluster=NAME] [--zk=HOST:PORT[,...]] [--servers=N]
// --servers=N waits (up to 30 s) until N servers provide both namespaces.
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/cluster/cluster_client.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"

namespace {

struct client_config : slacker::config {
  std::string cluster = "example-cluster";
  std::string zk = "127.0.0.1:2181";
  size_t servers = 1;
  client_config() {
    opt_group{custom_options_, "global"}
        .add(cluster, "cluster", "cluster name (default example-cluster)")
        .add(zk, "zk", "ZooKeeper ensemble, HOST:PORT[,HOST:PORT...]")
        .add(servers, "servers", "servers to wait for before starting (default 1)");
  }
};

int failures = 0;

template <class T> void show(const char* what, const caf::expected<T>& res) {
  if (res) {
    std::printf("%-48s -> %s\n", what, caf::deep_to_string(*res).c_str());
  } else {
    std::printf("%-48s -> error: %s\n", what, slacker::describe(res.error()).c_str());
    ++failures;
  }
  std::fflush(stdout);
}

void caf_main(caf::actor_system& sys, const client_config& cfg) {
  if (auto err = slacker::start_metrics(sys.config())) { // --slacker.metrics
    std::fprintf(stderr, "error: %s\n", slacker::describe(err).c_str());
    std::exit(1);
  }
  slacker::cluster_client sc{sys, cfg.cluster, cfg.zk};
  std::printf("cluster %s at %s\n", cfg.cluster.c_str(), cfg.zk.c_str());
  // Wait for the servers to register (bounded).
  sc.wait_until(
      [&](auto& view) {
        auto count = [&](const char* ns) {
          auto i = view.namespaces.find(ns);
          return i == view.namespaces.end() ? 0 : i->second.size();
        };
        return count("slacker.example.api") >= cfg.servers &&
               count("slacker.example.api2") >= cfg.servers;
      },
      std::chrono::seconds{30});
  show("timestamp (default: random, single)",
       sc.call<int64_t>("slacker.example.api/timestamp"));

  slacker::cluster_options all_vector;
  all_vector.grouping = slacker::grouping_kind::all;
  all_vector.results = slacker::results_kind::vector;
  show("timestamp with all + vector",
       sc.call<std::vector<int64_t>>(all_vector, "slacker.example.api/timestamp"));

  slacker::cluster_options lif_map;
  lif_map.grouping = slacker::grouping_kind::least_in_flight;
  lif_map.results = slacker::results_kind::map;
  std::promise<caf::expected<std::map<std::string, std::string>>> done;
  sc.call_async<std::map<std::string, std::string>>(
      lif_map, "slacker.example.api/whoami",
      [&](caf::expected<std::map<std::string, std::string>> r) {
        std::printf("(callback ran)\n");
        done.set_value(std::move(r));
      });
  show("whoami with least-in-flight + map, async", done.get_future().get());

  slacker::cluster_options random;
  random.grouping = slacker::grouping_kind::random;
  show("api2/echo2 with random",
       sc.call<std::string>(random, "slacker.example.api2/echo2", "hello cluster"));

  slacker::remote_fn<int64_t()> timestamp{sc, "slacker.example.api/timestamp"};
  int ok = 0;
  for (int i = 0; i < 100; ++i)
    if (timestamp())
      ++ok;
  std::printf("%-48s -> %d of 100 succeeded\n", "100 timestamp calls (remote_fn)", ok);
  if (ok != 100)
    ++failures;

  auto err = sc.call<int64_t>("slacker.example.api/make-error");
  if (!err && slacker::code_of(err.error()) == slacker::sc::exception) {
    std::printf("%-48s -> caught: %s\n", "make-error",
                slacker::describe(err.error()).c_str());
  } else {
    std::printf("make-error did not fail as expected\n");
    ++failures;
  }
  if (failures > 0) {
    std::printf("%d step(s) failed\n", failures);
    std::exit(1);
  }
  std::printf("all steps succeeded\n");
}

} // namespace

// The apps' spellings (--tls-cert=F, --switch=false, ...) work here too.
int main(int argc, char** argv) {
  // Blocked before CAF starts threads; a stop signal ends it at once.
  slacker::block_stop_signals();
  slacker::exit_on_stop_signal();
  std::vector<std::string> args(argv, argv + argc);
  slacker::expand_option_aliases(args);
  std::vector<char*> ptrs;
  for (auto& a : args)
    ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  return caf::exec_main<>(caf_main, static_cast<int>(args.size()), ptrs.data());
}
