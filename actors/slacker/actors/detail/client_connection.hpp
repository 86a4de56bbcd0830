#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/fwd.hpp>
#include <caf/io/system_messages.hpp>

#include "slacker/actors/detail/in_flight.hpp"
#include "slacker/actors/interfaces.hpp"
#include "slacker/actors/routed_calls.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/wire_options.hpp"

namespace slacker::metrics {
struct peer_counts;
} // namespace slacker::metrics

namespace slacker::accrual {
struct health;
} // namespace slacker::accrual

namespace slacker {

/// What a dispatcher hears from the connection broker of a server.
struct link_hooks {
  /// Gets `(conn_up_atom, addr)` when a connection is established and
  /// `(conn_down_atom, addr)` when it ends or the server says it is going away.
  caf::actor observer;
  /// The number of calls in flight on this server (read by groupings that
  /// look at load, such as `least_in_flight`):
  /// the dispatcher adds each call it routes here, the broker takes it away
  /// when the call leaves (answered, expired, failed or handed back).
  std::shared_ptr<in_flight_count> in_flight;
  /// The server's counts for /metrics (null: not counted).
  std::shared_ptr<metrics::peer_counts> counts;
  /// When set and true, each cluster call's outcome goes to the observer as
  /// a `call_feedback` (a grouping wants it).
  std::shared_ptr<std::atomic<bool>> feedback;
  /// The server's health (accrual.hpp: timeouts in a row, latency), shared
  /// with the blocking lanes of the same server and read by the dispatcher
  /// (null: the broker counts alone).
  std::shared_ptr<accrual::health> health;
  /// When set and true, idle connections ping too (someone watches
  /// reachability); otherwise a connection pings only while calls wait on it.
  std::shared_ptr<std::atomic<bool>> detect;
  /// The cluster of the client that owns the broker (empty: a direct
  /// client), for the portal's list of connections.
  std::string cluster;
};

/// The connection broker of one server at `host:port` (docs/protocol.md). It
/// runs on the network thread, connects on first use and again on the next
/// use after a loss, and holds the calls in flight on its connection: their
/// ids, their deadlines (one timer), and their callers. Messages:
/// - `call_request -> call_reply`: its `id` is the caller's and comes back in
///   the reply; `deadline_ns` 0 means 10 s. A `request` gets errors as errors
///   (naming the server); a plain `send` gets them inside the `call_reply`.
///   A call in flight when the connection drops fails at once with
///   `connection_broken`; one without an answer 100 ms past its deadline with
///   `timeout`. Every call gets exactly one answer (the broker's call ledger,
///   ledger.hpp, is the only place that times calls).
/// - `cluster_call -> cluster_reply`: a cluster call that goes to this server
///   only (delegated by a dispatcher), answered under its policies
///   (aggregator.hpp).
/// - `(retire_atom)`: the server left; answer what is in flight, then end.
///   An exit (e.g. from its linked dispatcher) fails what is in flight first.
/// - `(lookup_atom, ns) -> actor`: a local stand-in for the actor serving `ns`
///   on that server: messages sent to it travel to that actor, its answers
///   come back from the stand-in, which goes down when the connection does.
/// - `(inspect_atom) -> vector<string>`, `(inspect_atom, ns) ->
///   vector<function_info>`: the server's namespaces, a namespace's functions.
/// - `(connect_atom) -> bool`: answers once connected (the server said hello).
/// (An untyped broker running the typed behaviour of `connection_internal_type`:
/// the handlers are checked against it; handles are `connection_actor_type`.)
caf::behavior client_connection(caf::io::broker* self, std::string host, uint16_t port,
                                wire_options opts, link_hooks hooks);

/// The connection broker's whole interface: what its users may send
/// (`connection_actor_type`) and its own messages: a typed message from a
/// stand-in, the outcome of a connect, its socket, its timers.
using connection_internal_type = connection_actor_type::extend<
    caf::replies_to<fan_out_atom, std::shared_ptr<fan_out_call>>::with<cluster_reply>,
    caf::reacts_to<fan_out_atom, std::shared_ptr<fan_out_call>, uint64_t>,
    caf::reacts_to<forward_atom, std::string, uint64_t, caf::message>,
    caf::reacts_to<connected_atom, uint64_t, int64_t>,
    caf::reacts_to<connected_atom, uint64_t, caf::error>,
    caf::reacts_to<caf::io::new_data_msg>, caf::reacts_to<caf::io::data_transferred_msg>,
    caf::reacts_to<caf::io::connection_closed_msg>,
    caf::reacts_to<handshake_atom, uint64_t>,
    caf::reacts_to<connect_bound_atom, uint64_t>, caf::reacts_to<tick_atom, uint64_t>,
    caf::reacts_to<deadline_atom>, caf::reacts_to<flush_atom>>;

/// The stand-in for a remote namespace's actor (see `lookup_atom` above).
caf::behavior remote_namespace(caf::event_based_actor* self, caf::actor conn,
                               std::string ns, std::string addr);

} // namespace slacker
