#pragma once

// The message interfaces of the server's and the cluster client's actors, as
// types: the compiler checks every send against them. These are what users
// may send; an actor's own messages (timers, reports of its helpers) extend
// its interface in detail/.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/io/system_messages.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "slacker/actors/ask.hpp"
#include "slacker/actors/cluster_call.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/cluster_reply.hpp"
#include "slacker/messages/membership.hpp"

namespace slacker {

/// The front of a server: its acceptor on the network thread. It forks one
/// connection broker per accepted connection (docs/protocol.md) and stops
/// taking connections when the server goes away.
///
/// ```
/// interface front {
///   new_connection_msg -> void           // from its doorman: fork a connection
///   (going_away_atom) -> bool            // stop accepting; tell every connection
/// }
/// ```
using front_actor_type = caf::typed_actor<caf::reacts_to<caf::io::new_connection_msg>,
                                          caf::replies_to<going_away_atom>::with<bool>>;

/// A namespace actor: serves the functions of one namespace of a server.
///
/// ```
/// interface namespace_actor {
///   // errors travel inside the reply, so that a plain send gets one too
///   (call_request) -> call_reply
///   (drain_atom) -> bool                 // once no blocking call runs
/// }
/// ```
using namespace_actor_type =
    caf::typed_actor<caf::replies_to<call_request>::with<call_reply>,
                     caf::replies_to<drain_atom>::with<bool>>;

/// The connection broker of one server (a direct client's, or one per server
/// of a cluster client): what its users and the dispatcher may send it. Its
/// whole interface (its socket, connect results, timers, stand-ins) extends
/// this in detail/client_connection.hpp.
///
/// ```
/// interface connection {
///   call_request -> call_reply         // a plain send gets errors inside
///   cluster_call -> cluster_reply      // to this server only, under its policies
///   (lookup_atom, string ns) -> actor  // a stand-in for the actor serving ns
///   (inspect_atom) -> vector<string>   // the server's namespaces
///   (inspect_atom, string ns) -> vector<function_info>
///   (connect_atom) -> bool             // once connected (the server said hello)
///   (retire_atom) -> void              // the server left: finish, then end
/// }
/// ```
using connection_actor_type = caf::typed_actor<
    caf::replies_to<call_request>::with<call_reply>,
    caf::replies_to<cluster_call>::with<cluster_reply>,
    caf::replies_to<lookup_atom, std::string>::with<caf::actor>,
    caf::replies_to<inspect_atom>::with<std::vector<std::string>>,
    caf::replies_to<inspect_atom, std::string>::with<std::vector<function_info>>,
    caf::replies_to<caf::connect_atom>::with<bool>, caf::reacts_to<retire_atom>>;

/// The dispatcher of a cluster client: routes each call to servers. What
/// users may send it; its whole interface (membership events, its brokers'
/// reports, resends, hedges, its timer) extends this in detail/dispatcher.hpp.
///
/// ```
/// interface dispatcher {
///   cluster_call -> cluster_reply                  // or an error
///   ask_request -> ask_reply                       // typed messages to a namespace
///   (view_atom) -> membership_view                 // what it routes to
///   (server_data_atom, string addr) -> string      // a server's data, or not_found
///   server_data_handler -> void                    // called on server-data changes
///   // the actor is told member_leaving, member_unreachable, member_reachable
///   // as this client sees them (its failure detector, going-aways)
///   (subscribe_atom, actor) -> void
///   (connect_atom, string ns) -> void              // connect to its servers now
/// }
/// ```
using dispatcher_actor_type =
    caf::typed_actor<caf::replies_to<cluster_call>::with<cluster_reply>,
                     caf::replies_to<ask_request>::with<ask_reply>,
                     caf::replies_to<view_atom>::with<membership_view>,
                     caf::replies_to<server_data_atom, std::string>::with<std::string>,
                     caf::reacts_to<server_data_handler>,
                     caf::reacts_to<subscribe_atom, caf::actor>,
                     caf::reacts_to<caf::connect_atom, std::string>>;

} // namespace slacker
