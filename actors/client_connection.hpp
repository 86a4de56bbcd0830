#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/fwd.hpp>

#include "slacker/runtime/wire_options.hpp"

namespace slacker {

/// The connection broker of one server at `host:port` (docs/protocol.md). It
/// runs on the network thread, connects on first use and again on the next
/// use after a loss, and holds the calls in flight on its connection: their
/// ids, their deadlines (one timer), and their callers. Messages:
/// - `call_request -> call_reply`: its `id` is the caller's and comes back in
///   the reply; `deadline_ns` 0 means 10 s. A `request` gets errors as errors
///   (naming the server); a plain `send` gets them inside the `call_reply`.
///   A call in flight when the connection drops fails at once with
///   `connection_broken`; one without an answer 100 ms past its deadline with
///   `timeout`.
/// - `(lookup_atom, ns) -> actor`: a local stand-in for the actor serving `ns`
///   on that server: messages sent to it travel to that actor, its answers
///   come back from the stand-in, which goes down when the connection does.
/// - `(inspect_atom) -> vector<string>`, `(inspect_atom, ns) ->
///   vector<function_info>`: the server's namespaces, a namespace's functions.
/// - `(connect_atom) -> bool`: answers once connected (the server said hello).
/// An `observer`, if given, gets `(conn_up_atom, addr)` when a connection is
/// established and `(conn_down_atom, addr)` when it ends or the server says it
/// is going away.
caf::behavior client_connection(caf::io::broker* self, std::string host, uint16_t port,
                                wire_options opts, caf::actor observer);

/// The stand-in for a remote namespace's actor (see `lookup_atom` above).
caf::behavior remote_namespace(caf::event_based_actor* self, caf::actor conn,
                               std::string ns, std::string addr);

} // namespace slacker
