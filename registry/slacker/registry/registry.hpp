#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "slacker/messages/membership.hpp"
#include "slacker/registry/interfaces.hpp"
#include "slacker/registry/options.hpp"
#include "slacker/registry/zookeeper.hpp"

namespace slacker {

struct live_registry_state;

/// The client side: a mirror of a cluster's membership that any actor can
/// subscribe to (`registry_actor_type` in <slacker/registry/interfaces.hpp>
/// lists the messages).
///
/// ```
/// slacker::registry reg{sys, {.zk = "127.0.0.1:2181", .cluster = "example-cluster"}};
/// self->send(reg.actor(), slacker::subscribe_atom::value, self);
/// ```
class registry {
public:
  registry(caf::actor_system& sys, zk_options opts);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  const registry_actor_type& actor() const noexcept {
    return actor_;
  }

  /// The current view (blocking): the registry actor answers at once
  /// unless a ZooKeeper call is under way; `caf::sec::request_timeout` when
  /// it did not answer within `timeout`.
  caf::expected<membership_view>
  view(std::chrono::milliseconds timeout = std::chrono::seconds{30});

  /// Waits until the view satisfies `pred` (e.g. three servers registered);
  /// the view then, or a `timeout` error after `timeout`, also while the
  /// registry actor is inside a ZooKeeper call that ZooKeeper leaves
  /// unanswered.
  caf::expected<membership_view>
  wait_until(const std::function<bool(const membership_view&)>& pred,
             std::chrono::milliseconds timeout);

  /// Its status and view age now, without asking its actor (which may be
  /// busy in a ZooKeeper call): for metrics and health checks.
  registry_state state() const;

  /// The ZooKeeper requests this registry sent so far (blocking).
  caf::expected<zk::request_counts> zk_requests();

private:
  caf::actor_system& sys_;
  registry_actor_type actor_;
  std::shared_ptr<live_registry_state> live_;
};

/// Reads a view with `read` (given the time left) until `pred` holds, every
/// 10 ms, for at most `timeout`: the one wait for membership
/// (`registry::wait_until`, `cluster_client::wait_until`). A failed read ends
/// it with its error; one not answered in time (`caf::sec::request_timeout`)
/// counts as not yet.
caf::expected<membership_view> wait_for_view(
    const std::function<caf::expected<membership_view>(std::chrono::milliseconds)>& read,
    const std::function<bool(const membership_view&)>& pred,
    std::chrono::milliseconds timeout);

} // namespace slacker
