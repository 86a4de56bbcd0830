#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/registry/detail/zk_link.hpp"
#include "slacker/registry/interfaces.hpp"

namespace slacker {

/// What the server-side registry remembers: what it must keep registered.
struct registrar_state {
  zk_link link;
  std::string addr; // host:port; the host is detected when not given
  uint16_t port = 0;
  std::string server_data; // JSON text
  std::map<std::string, std::vector<function_info>> namespaces;
  std::map<std::string, std::string> candidates; // ns -> our election node
  /// ns -> when its election's node was made (the fencing tokens'
  /// incarnation), read when we join it: tokens are made without a request.
  std::map<std::string, int64_t> incarnations;
  std::set<std::string> leading;    // namespaces we lead
  std::vector<caf::actor> watchers; // told each `leadership` change
  uint64_t outage = 0;              // counts link losses (step-down timers)
  bool remote_ok = true;   // a non-loopback address may be registered (TLS or insecure)
  bool registered = false; // everything registered at least once
  bool leaving = false;    // the server began to leave (leave_atom)
  caf::error fatal;        // why it will never register (no retry)
  std::vector<caf::response_promise> waiters; // (wait_atom) until registered or fatal
  static inline const char* name = "slacker.registrar";
};

/// Registers one server under `<root>/<cluster>`:
/// - `servers/<addr>` (ephemeral, server-data), `namespaces/<ns>/<addr>`
///   (ephemeral), `functions/<ns>/<fn>` (metadata as JSON);
/// - one election per namespace: ephemeral-sequential candidates under
///   `namespaces/<ns>/_election`, each watching its predecessor; the leader
///   writes its address to `namespaces/<ns>/_leader`.
/// Nodes left by an expired session of its own are replaced. After an
/// expiry it steps down and registers everything again in a new session.
/// `(leave_atom)`: the server began to leave: every namespace unpublished,
/// `leaving/<addr>` (ephemeral) marks it until it stops.
/// Messages: `(publish_atom, ns, vector<function_info>)`, `(unpublish_atom, ns)`,
/// `(set_data_atom, json)`; `(leaders_atom)` answers `vector<leadership>`
/// (the namespaces it leads, with fencing tokens); `(subscribe_atom, actor)`:
/// the actor gets a `leadership` message at each change (and one per
/// namespace led now). A leader steps down locally when its link has been
/// down for `zk_options::leader_step_down` of the session timeout, on expiry
/// and on unpublish. `(wait_atom)` answers `true` once registered, or the
/// error that keeps it from ever registering. Refuses (for good) a detected
/// address that is not on loopback unless `remote_ok`, and, with digest auth,
/// a cluster whose nodes anyone may write (squatted).
/// Spawn it detached: it calls ZooKeeper synchronously. `connect` opens its
/// sessions (a fake ZooKeeper in tests).
/// The registrar's whole interface: what users may send
/// (`registrar_actor_type`) and its own messages: session events and timers
/// (the session's retry, registering what failed, stepping down).
using registrar_internal_type = registrar_actor_type::extend<
    caf::reacts_to<zk_event_atom, uint64_t, uint8_t, uint8_t, std::string>,
    caf::reacts_to<retry_atom, uint64_t>, caf::reacts_to<register_atom>,
    caf::reacts_to<step_down_atom, uint64_t>>;

registrar_internal_type::behavior_type
registrar_actor(registrar_internal_type::stateful_pointer<registrar_state> self,
                zk_options opts, std::string host, uint16_t port, std::string server_data,
                std::map<std::string, std::vector<function_info>> namespaces,
                bool remote_ok, zk::connector connect = zk::session::open);

/// Function metadata as the JSON stored in `functions/<ns>/<fn>`.
std::string to_json(const function_info& info);

} // namespace slacker
