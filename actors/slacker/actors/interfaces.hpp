#pragma once

// The message interfaces of the server's and the cluster client's actors, as
// types: the compiler checks every send against them.

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
///   // its own: a blocking function finished on the worker pool
///   (job_done_atom, uint64_t job, call_reply) -> void
/// }
/// ```
using namespace_actor_type =
    caf::typed_actor<caf::replies_to<call_request>::with<call_reply>,
                     caf::replies_to<drain_atom>::with<bool>,
                     caf::reacts_to<job_done_atom, uint64_t, call_reply>>;

/// The dispatcher of a cluster client: routes each call to servers.
///
/// ```
/// interface dispatcher {
///   cluster_call -> cluster_reply                  // or an error
///   ask_request -> ask_reply                       // typed messages to a namespace
///   (view_atom) -> membership_view                 // what it routes to
///   (server_data_atom, string addr) -> string      // a server's data, or not_found
///   server_data_handler -> void                    // called on server-data changes
///   // from the registry actor it subscribed to
///   membership_view, member_up, member_down, server_data_changed,
///   namespace_up, namespace_down, leader_changed, registry_state -> void
///   // from its connection brokers (failure accrual, connections)
///   (suspect_atom, string addr) -> void
///   (conn_up_atom, string addr), (conn_down_atom, string addr) -> void
///   // a call a broker hands back: to a server not tried yet
///   (resend_atom, cluster_call, error, bool charged, bool idempotent) -> cluster_reply
///   // the backup of a hedged call
///   (hedge_atom, cluster_call) -> cluster_reply
///   // its own housekeeping timer
///   (sweep_atom) -> void
/// }
/// ```
using dispatcher_actor_type =
    caf::typed_actor<caf::replies_to<cluster_call>::with<cluster_reply>,
                     caf::replies_to<ask_request>::with<ask_reply>,
                     caf::replies_to<view_atom>::with<membership_view>,
                     caf::replies_to<server_data_atom, std::string>::with<std::string>,
                     caf::reacts_to<server_data_handler>, caf::reacts_to<membership_view>,
                     caf::reacts_to<member_up>, caf::reacts_to<member_down>,
                     caf::reacts_to<server_data_changed>, caf::reacts_to<namespace_up>,
                     caf::reacts_to<namespace_down>, caf::reacts_to<leader_changed>,
                     caf::reacts_to<registry_state>,
                     caf::reacts_to<suspect_atom, std::string>,
                     caf::reacts_to<conn_up_atom, std::string>,
                     caf::reacts_to<conn_down_atom, std::string>,
                     caf::replies_to<resend_atom, cluster_call, caf::error, bool,
                                     bool>::with<cluster_reply>,
                     caf::replies_to<hedge_atom, cluster_call>::with<cluster_reply>,
                     caf::reacts_to<sweep_atom>>;

} // namespace slacker
