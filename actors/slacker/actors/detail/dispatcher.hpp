#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/detail/client_connection.hpp"
#include "slacker/actors/detail/routes.hpp"
#include "slacker/actors/interfaces.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/policy/detail/grouping_selector.hpp"
#include "slacker/policy/detail/retry_budget.hpp"
#include "slacker/runtime/wire_options.hpp"

namespace slacker {

/// Makes the connection broker of the server `addr` for a dispatcher (the
/// seam of the dispatcher's tests; by default `client_connection` on the
/// network thread).
using link_factory = std::function<caf::actor(caf::actor_system& sys,
                                              const std::string& addr, link_hooks hooks)>;

/// What the dispatcher of one cluster client remembers.
struct dispatcher_state {
  using clock = std::chrono::steady_clock;

  struct queued {
    cluster_call call;
    caf::typed_response_promise<cluster_reply> rp;
    clock::time_point deadline;
  };

  /// The connection broker of one server, and its calls in flight.
  struct link {
    connection_actor_type conn;
    std::shared_ptr<in_flight_count> in_flight;
    std::shared_ptr<route_server> route; // what callers read (routes.hpp)
  };

  std::string cluster;
  bool ready = false; // the registry has read the cluster at least once
  registry_status status = registry_status::connecting;
  clock::time_point current_at = clock::now(); // the view was last known current
  std::map<std::string, std::string> servers;  // addr -> server-data
  std::map<std::string, std::set<std::string>> namespaces; // ns -> addrs
  std::map<std::string, std::string> leaders;              // ns -> addr
  std::map<std::string, fencing_token> tokens;             // ns -> its leader's token
  /// ns -> the servers a call may go to: members providing it whose
  /// connection is not known to be broken, with their weights; kept up to
  /// date by membership and connection events, never rebuilt per call.
  std::unordered_map<std::string, grouping_view> candidates;
  std::map<std::string, link> links;
  std::optional<wire_options> wire; // read from the config once, on first use
  link_factory connect;
  std::set<std::string> broken; // connection lost: not chosen until it reconnects
  /// Failure accrual: servers that let calls time out in a row. Out of
  /// routing; one call now and then probes them (half-open) until one
  /// answers.
  struct suspect {
    clock::time_point next_probe;
    clock::duration backoff;
    bool slow = false; // out for slowness, not timeouts
  };
  std::map<std::string, suspect> suspects;
  /// Outlier detection (docs/reliability.md): timeouts in a row that make a
  /// server suspect (`slacker.failure-accrual`), the latency against its
  /// peers' that makes it an outlier (`slacker.outlier-latency`, 0: off; and
  /// `slacker.outlier-min-latency`), the share of servers out at once
  /// (`slacker.max-ejected`), and each server's windows in a row judged slow.
  uint32_t accrual = 3;
  double outlier_factor = 5;
  clock::duration outlier_floor = std::chrono::milliseconds{10};
  double max_ejected = 0.5;
  std::map<std::string, int> slow_windows;
  /// The aperture (docs/guide.md, "Aperture"): the fewest servers of a
  /// namespace the one-server groupings choose among (`slacker.aperture`,
  /// 0: all of them); where this client sits on the ring of a namespace's
  /// servers (drawn at random, so that the servers' connection counts
  /// balance across clients); per namespace, the width its own load grew
  /// it to.
  size_t aperture = 12;
  double coordinate = 0;
  bool placed = false; // the coordinate comes from the first ZooKeeper session
  std::map<std::string, size_t> widths;
  /// Servers going away (their going-away, a `draining` answer, or the
  /// registry's member_leaving): member_leaving told once, no reachability
  /// events for them.
  std::set<std::string> leaving;
  /// Told member_leaving, member_unreachable and member_reachable (weak:
  /// the subscription does not keep them alive).
  std::vector<caf::weak_actor_ptr> subscribers;
  retry_budget budget;
  /// ns -> its functions declared idempotent on its servers (learned from the
  /// first server on first use).
  std::unordered_map<std::string, std::set<std::string>> idempotent_fns;
  std::set<std::string> declared; // namespaces whose declarations arrived
  /// Where callers read the routes (null: every call passes here), and the
  /// options of the blocking lanes it makes per server (null: none).
  std::shared_ptr<route_board> board;
  std::shared_ptr<const wire_options> lane_opts;
  std::set<std::string> used;  // namespaces this client called
  std::vector<queued> waiting; // calls waiting for a view or a provider (must_wait)
  std::vector<server_data_handler> data_handlers;
  bool gathers_on_network_thread = false; // slacker.gather-hot-path=network
  /// The grouping policies this client used, told every change of
  /// `candidates` (declared after it: it reads it).
  grouping_selector groupings{candidates};
  /// Shared with every connection broker: true once a grouping wants each
  /// call's outcome (they send `call_feedback` then).
  std::shared_ptr<std::atomic<bool>> feedback =
      std::make_shared<std::atomic<bool>>(false);
  /// Shared with every connection broker: true while this client has
  /// subscribers (idle connections ping then, to tell them reachability).
  std::shared_ptr<std::atomic<bool>> detect = std::make_shared<std::atomic<bool>>(false);

  static inline const char* name = "slacker.dispatcher";
};

/// The dispatcher of a cluster client (docs/architecture.md, "The flow of a
/// cluster call"): publishes the routes callers choose on (routes.hpp, when
/// given a board) and routes the calls they do not. It follows membership through the
/// registry actor (subscribe it there: `(subscribe_atom, dispatcher)`; it
/// answers calls once it has seen the cluster; while ZooKeeper is not
/// connected, a call whose namespace has no routable server waits for one up
/// to its deadline), keeps one connection broker
/// per server (client_connection.hpp) and the candidates of each namespace,
/// and runs each `cluster_call` by choosing servers (grouping): a call that
/// goes to one server is delegated to that server's connection broker, which
/// answers it under the call's policies; a call that goes to several gets one
/// gather (gather.hpp), to which the connection brokers send their answers.
/// Messages:
/// - `cluster_call -> cluster_reply` (or an error);
/// - `(server_data_atom, addr) -> string`: a server's data, or `not_found`;
/// - `server_data_handler`: adds a handler of server-data changes;
/// - `(view_atom) -> membership_view`: what it knows of the cluster;
/// - `ask_request -> ask_reply`: a plain message to the actors serving a
///   namespace (ask.hpp), through one ask gather per request;
/// - membership events from the registry (membership.hpp), and `(conn_up_atom,
///   addr)` / `(conn_down_atom, addr)` / `(suspect_atom, addr)` from its
///   connection brokers;
/// - `(resend_atom, cluster_call, error, charged, idempotent)`: a broker hands
///   back a call that failed there without running (`draining`, never sent)
///   or that may run twice; it goes to a server not tried yet, within its
///   deadline (retries of calls that may have run within the retry budget);
/// - `(hedge_atom, cluster_call) -> cluster_reply`: the backup of a hedged
///   call (hedge.hpp), to a server not tried yet, within the retry budget.
/// `connect`, if given, makes the connection brokers (tests).
/// The dispatcher's whole interface: what users may send
/// (`dispatcher_actor_type`) and its own messages.
///
/// ```
/// interface dispatcher (internal) {
///   // from the registry actor it subscribed to
///   membership_view, member_up, member_down, server_data_changed,
///   namespace_up, namespace_down, leader_changed, registry_state,
///   member_leaving -> void
///   // from its connection brokers (failure accrual, connections)
///   (suspect_atom, string addr) -> void
///   (conn_up_atom, string addr), (conn_down_atom, string addr) -> void
///   (going_away_atom, string addr) -> void    // the server said it is leaving
///   call_feedback -> void          // a call's outcome, when a grouping wants it
///   // a call a broker hands back: to a server not tried yet
///   (resend_atom, cluster_call, error, bool charged, bool idempotent) -> cluster_reply
///   // the backup of a hedged call
///   (hedge_atom, cluster_call) -> cluster_reply
///   // its own housekeeping timer
///   (sweep_atom) -> void
/// }
/// ```
using dispatcher_internal_type = dispatcher_actor_type::extend<
    caf::reacts_to<membership_view>, caf::reacts_to<member_up>,
    caf::reacts_to<member_down>, caf::reacts_to<server_data_changed>,
    caf::reacts_to<namespace_up>, caf::reacts_to<namespace_down>,
    caf::reacts_to<leader_changed>, caf::reacts_to<registry_state>,
    caf::reacts_to<member_leaving>, caf::reacts_to<going_away_atom, std::string>,
    caf::reacts_to<suspect_atom, std::string>, caf::reacts_to<conn_up_atom, std::string>,
    caf::reacts_to<conn_down_atom, std::string>, caf::reacts_to<call_feedback>,
    caf::replies_to<resend_atom, cluster_call, caf::error, bool,
                    bool>::with<cluster_reply>,
    caf::replies_to<hedge_atom, cluster_call>::with<cluster_reply>,
    caf::reacts_to<sweep_atom>>;

dispatcher_internal_type::behavior_type
dispatcher_actor(dispatcher_internal_type::stateful_pointer<dispatcher_state> self,
                 std::string cluster, caf::actor registry, link_factory connect,
                 std::shared_ptr<route_board> board);

/// The same, spawned as a broker (`middleman().spawn_broker`): it runs on the
/// network thread, where its requests leave and the replies arrive.
caf::behavior
dispatcher_broker(caf::stateful_actor<dispatcher_state, caf::io::broker>* self,
                  std::string cluster, caf::actor registry,
                  std::shared_ptr<route_board> board);
// (An untyped broker running the typed behaviour: CAF 0.17's typed brokers
// cannot be stateful. The behaviour is checked against the interface all the
// same; the handle is cast to dispatcher_internal_type.)

} // namespace slacker
