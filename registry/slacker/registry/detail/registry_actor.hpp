#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "slacker/messages/membership.hpp"
#include "slacker/registry/detail/zk_link.hpp"
#include "slacker/registry/interfaces.hpp"

namespace slacker {

/// What the client-side registry remembers: a mirror of the cluster.
struct mirror_state {
  zk_link link;
  membership_view view;
  /// In the order they subscribed: each event reaches them in that order.
  std::vector<caf::actor> subscribers;
  /// After a new session the tree is read anew while servers may still be
  /// registering again: until then nothing is reported gone (a live server
  /// stays routable through a resync).
  zk_link::clock::time_point settle_until{};
  /// The version of the servers folder's data last read: a server bumps it
  /// (naming itself) after changing its node's data, so one data watch on
  /// the folder replaces a watch per server (-1: not read yet).
  int32_t changes_seen = -1;
  /// A read since the last connected event failed for a lost link: what was
  /// read then is not known current.
  bool read_lost = false;
  /// The status for other threads (`registry::state`).
  std::shared_ptr<live_registry_state> live;
  static inline const char* name = "slacker.registry";
};

/// Mirrors `<root>/<cluster>` from ZooKeeper and tells subscribers about it.
/// Spawn it detached: it calls ZooKeeper synchronously.
/// - `(subscribe_atom, actor)`: the actor gets a `membership_view`, then
///   `member_up`, `member_down`, `server_data_changed`, `namespace_up`,
///   `namespace_down`, `leader_changed` and `registry_state` events, each
///   sent to the subscribers in the order they subscribed. Dead subscribers
///   are dropped.
/// - `(unsubscribe_atom, actor)`.
/// - `(view_atom) -> membership_view`.
/// The leader of a namespace is the candidate with the lowest sequence number
/// of its election, so a dead leader is never reported once its node is gone.
/// After a new session (expired or lost) the tree is read anew, but servers,
/// namespace entries and leaders missing from it are reported gone only if
/// they are still missing one session timeout later (their servers may be
/// registering again): a resync never drops a live server.
/// `live` (optional) gets each status change; `connect` opens its sessions
/// (a fake ZooKeeper in tests).
/// The registry actor's whole interface: what users may send
/// (`registry_actor_type`) and its own messages: an event of its ZooKeeper
/// session (posted from the client's thread), the retry and settle timers of
/// a session generation.
using registry_mirror_type = registry_actor_type::extend<
    caf::reacts_to<zk_event_atom, uint64_t, uint8_t, uint8_t, std::string>,
    caf::reacts_to<retry_atom, uint64_t>, caf::reacts_to<settle_atom, uint64_t>>;

registry_mirror_type::behavior_type
registry_actor(registry_mirror_type::stateful_pointer<mirror_state> self, zk_options opts,
               std::shared_ptr<live_registry_state> live = nullptr,
               zk::connector connect = zk::session::open);

} // namespace slacker
