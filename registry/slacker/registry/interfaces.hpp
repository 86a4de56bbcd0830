#pragma once

// The message interfaces of the registry's two actors, as types: the compiler
// checks every send against them. These are what users may send; each actor's
// whole interface (its ZooKeeper events and timers) extends it in detail/.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/membership.hpp"

namespace slacker {

/// The registry actor (client side): a mirror of a cluster's membership.
///
/// ```
/// interface registry_actor {
///   // The actor gets a membership_view, then every event (member_up,
///   // member_leaving, member_down, server_data_changed, namespace_up,
///   // namespace_down, leader_changed, registry_state) in order.
///   (subscribe_atom, actor subscriber) -> void
///   (unsubscribe_atom, actor subscriber) -> void
///   (view_atom) -> membership_view
///   (zk_requests_atom) -> vector<uint64_t>            // reads, writes
/// }
/// ```
using registry_actor_type =
    caf::typed_actor<caf::reacts_to<subscribe_atom, caf::actor>,
                     caf::reacts_to<unsubscribe_atom, caf::actor>,
                     caf::replies_to<view_atom>::with<membership_view>,
                     caf::replies_to<zk_requests_atom>::with<std::vector<uint64_t>>>;

/// The registrar (server side): keeps one server registered in a cluster.
///
/// ```
/// interface registrar {
///   (publish_atom, string ns, vector<function_info>) -> bool
///   (unpublish_atom, string ns) -> bool              // false: not published
///   (set_data_atom, string json) -> bool
///   (leave_atom) -> bool                             // out of routing, marked leaving
///   (wait_atom) -> bool                              // once registered, or why never
///   (leaders_atom) -> vector<leadership>             // what it leads, fenced
///   (subscribe_atom, actor) -> void                  // leadership messages
///   (zk_requests_atom) -> vector<uint64_t>           // reads, writes
/// }
/// ```
using registrar_actor_type = caf::typed_actor<
    caf::replies_to<publish_atom, std::string, std::vector<function_info>>::with<bool>,
    caf::replies_to<unpublish_atom, std::string>::with<bool>,
    caf::replies_to<set_data_atom, std::string>::with<bool>,
    caf::replies_to<leave_atom>::with<bool>, caf::replies_to<wait_atom>::with<bool>,
    caf::replies_to<address_atom>::with<std::string>,
    caf::replies_to<leaders_atom>::with<std::vector<leadership>>,
    caf::reacts_to<subscribe_atom, caf::actor>,
    caf::replies_to<zk_requests_atom>::with<std::vector<uint64_t>>>;

} // namespace slacker
