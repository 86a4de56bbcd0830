#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>

#include "slacker/runtime/wire_options.hpp"
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/messages/membership.hpp"

namespace slacker {

/// Called (on the dispatcher's thread) with `(addr, data)` when a server's
/// server-data changes. Keep it short.
struct server_data_handler {
  std::function<void(const std::string& addr, const std::string& data)> fn;
};

/// Asks a dispatcher which actors serve `ns` under `grouping` (for plain CAF
/// messages to namespaces served by user actors).
struct actor_pick {
  std::string ns;
  grouping_policy grouping;
};

/// The answer to an `actor_pick`: the chosen servers and their actors, and
/// the chosen servers whose actor could not be looked up.
struct picked_actors {
  std::vector<std::string> addrs;
  std::vector<caf::actor> handlers;
  std::vector<server_failure> failures;
};

/// What the dispatcher of one cluster client remembers.
struct dispatcher_state {
  using clock = std::chrono::steady_clock;

  struct pending {
    caf::actor gather;
    std::string addr;
    std::string ns;
    clock::time_point expires;
  };

  struct queued {
    cluster_call call;
    caf::typed_response_promise<cluster_reply> rp;
    clock::time_point deadline;
  };

  std::string cluster;
  caf::actor registry;
  bool ready = false; // the registry has read the cluster at least once
  registry_status status = registry_status::connecting;
  std::map<std::string, std::string> servers;              // addr -> server-data
  std::map<std::string, std::set<std::string>> namespaces; // ns -> addrs
  std::map<std::string, std::string> leaders;              // ns -> addr
  std::map<std::string, caf::actor> links; // addr -> its connection broker
  std::optional<wire_options> wire; // read from the config once, on first use
  std::map<std::string, size_t> in_flight;
  std::set<std::string> broken; // connection lost: not chosen until it reconnects
  std::set<std::string> used;   // namespaces this client called
  std::unordered_map<uint64_t, pending> calls;
  std::vector<queued> waiting; // calls that came before the first view
  std::vector<server_data_handler> data_handlers;
  uint64_t next_id = 1;
  bool gathers_on_network_thread = false; // slacker.gather-hot-path=network
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t turn = 0;

  static inline const char* name = "slacker.dispatcher";
};

/// The dispatcher of a cluster client: follows membership through the
/// registry actor (subscribe it there: `(subscribe_atom, dispatcher)`; it
/// answers calls once it has seen the cluster), keeps one connection broker
/// per server (client_connection.hpp), and runs each `cluster_call` by
/// choosing servers (grouping), sending the request to their connection
/// brokers, and spawning one gather that collects the answers under the
/// call's policies and replies.
/// Messages:
/// - `cluster_call -> cluster_reply` (or an error);
/// - `(server_data_atom, addr) -> string`: a server's data, or `not_found`;
/// - `server_data_handler`: adds a handler of server-data changes;
/// - `(view_atom) -> membership_view`: what it knows of the cluster;
/// - `actor_pick -> picked_actors`: the actors a plain message should go to.
caf::behavior dispatcher_actor(caf::stateful_actor<dispatcher_state>* self,
                               std::string cluster, caf::actor registry);

/// The same, spawned as a broker (`middleman().spawn_broker`): it runs on the
/// network thread, where its requests leave and the replies arrive.
caf::behavior dispatcher_broker(caf::stateful_actor<dispatcher_state, caf::io::broker>* self,
                                std::string cluster, caf::actor registry);

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::server_data_handler)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::actor_pick)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::picked_actors)
