// slacker watch [--count=N] [--detect]: membership events as JSON lines until
// a signal, as a cluster client sees them (with --detect, connected to every
// server: its failure detector's unreachable and reachable too).
#include <atomic>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/signals.hpp"

namespace slacker_cli {

namespace {

// One JSON line per membership event (`slacker watch`).
json event_json(const slacker::membership_view& v) {
  auto j = members_json(v);
  j["event"] = "snapshot";
  return j;
}
json event_json(const slacker::member_up& x) {
  return {{"event", "member_up"}, {"addr", x.addr}, {"data", data_json(x.data)}};
}
json event_json(const slacker::member_down& x) {
  return {{"event", "member_down"}, {"addr", x.addr}};
}
json event_json(const slacker::member_leaving& x) {
  return {{"event", "member_leaving"}, {"addr", x.addr}};
}
json event_json(const slacker::member_unreachable& x) {
  return {{"event", "member_unreachable"}, {"addr", x.addr}, {"reason", x.reason}};
}
json event_json(const slacker::member_reachable& x) {
  return {{"event", "member_reachable"}, {"addr", x.addr}};
}
json event_json(const slacker::server_data_changed& x) {
  return {
      {"event", "server_data_changed"}, {"addr", x.addr}, {"data", data_json(x.data)}};
}
json event_json(const slacker::namespace_up& x) {
  return {{"event", "namespace_up"}, {"ns", x.ns}, {"addr", x.addr}};
}
json event_json(const slacker::namespace_down& x) {
  return {{"event", "namespace_down"}, {"ns", x.ns}, {"addr", x.addr}};
}
json event_json(const slacker::leader_changed& x) {
  return {{"event", "leader_changed"},
          {"ns", x.ns},
          {"addr", x.addr},
          {"token", x.addr.empty() ? json(nullptr) : token_json(x.token)}};
}
json event_json(const slacker::registry_state& x) {
  return {{"event", "registry_state"},
          {"status", slacker::to_string(x.status)},
          {"view_age_ms", x.view_age_ms}};
}

int run_watch(caf::actor_system& sys, const cli_config& cfg) {
  slacker::cluster_client sc{sys, zk_of(cfg)};
  // Subscribe once the client has read the cluster: the snapshot is whole.
  if (auto err = wait_zk(cfg, [&] { return client_connected(sc); }))
    return fail(err);
  // Ends after --count events, or on SIGINT/SIGTERM/SIGHUP (blocked since main).
  auto done = std::make_shared<std::promise<void>>();
  auto ended = std::make_shared<std::atomic<bool>>(false);
  auto finish = [done, ended] {
    if (!ended->exchange(true))
      done->set_value();
  };
  std::thread{[finish] {
    slacker::wait_stop_signal();
    finish();
  }}.detach();
  auto left = std::make_shared<size_t>(cfg.count);
  auto print = [left, finish](json line) {
    std::cout << line.dump() << std::endl;
    if (*left > 0 && --*left == 0)
      finish();
  };
  // --detect: each namespace warmed up once, when first seen (the client
  // then connects to its servers as they join).
  auto* client = &sc; // outlives the watcher (ended below)
  auto warmed = cfg.detect ? std::make_shared<std::set<std::string>>() : nullptr;
  auto warm = [client, warmed](const std::string& ns) {
    if (warmed && warmed->insert(ns).second)
      client->warm_up(ns);
  };
  auto watcher = sys.spawn([print, warm](caf::event_based_actor*) -> caf::behavior {
    return slacker::on_membership([print, warm](auto& x) {
      using event = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<event, slacker::membership_view>) {
        for (auto& kvp : x.namespaces)
          warm(kvp.first);
      } else if constexpr (std::is_same_v<event, slacker::namespace_up>) {
        warm(x.ns);
      }
      print(event_json(x));
    });
  });
  sc.subscribe(watcher);
  done->get_future().wait();
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace

command watch_command() {
  return {"watch", "membership events as JSON lines until a signal",
          [](CLI::App& c, cli_config& cfg) {
            c.add_option("--count", cfg.count, "stop after this many lines (0: never)")
                ->type_name("N");
            c.add_flag("--detect", cfg.detect,
                       "connect to every server: print member_unreachable and "
                       "member_reachable as this client's failure detector sees them");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_watch};
}

} // namespace slacker_cli
