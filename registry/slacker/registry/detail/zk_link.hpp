#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/timespan.hpp>

#include "slacker/messages/membership.hpp"
#include "slacker/registry/detail/zk_session.hpp"
#include "slacker/registry/options.hpp"

namespace slacker {

/// What the owner of a `zk_link` does on its events (`zk_link::handle` does
/// the rest: stale generations, backoff, outages, a peer that is no ZooKeeper).
struct zk_link_handlers {
  /// A watch fired on `path` (`type`: created, deleted, changed, child).
  std::function<void(const std::string& path, zk::event_type type)> node;
  /// Connected while the status said otherwise (first connect, reconnect, or
  /// a new session after `expired`); the handler sets the status.
  std::function<void()> connected;
  /// The connection was lost while connected (the outage is counted already);
  /// the handler sets the status.
  std::function<void()> suspended;
  /// ZooKeeper expired the session.
  std::function<void()> expired;
};

/// The ZooKeeper session of a registry actor, with what both sides need:
/// opening (and reopening after expiry), the status, and events posted to
/// the actor as `(zk_event_atom, generation, type, state, path)`. Events of
/// an older session carry an older generation and are ignored.
struct zk_link {
  using clock = std::chrono::steady_clock;

  zk_options opts;
  zk::connector connect = zk::session::open; // a fake in tests
  std::unique_ptr<zk::session> zk;
  uint64_t generation = 0;
  registry_status status = registry_status::connecting;
  // Times from the actor's clock (simulated in tests), except for the view's
  // age, which other threads read.
  clock::time_point last_current = clock::now(); // when the view was last known current
  std::chrono::milliseconds backoff{0};

  /// Opens a new session; on failure, schedules `retry_atom` with backoff.
  void open(caf::scheduled_actor* self);

  /// Handles `(retry_atom, gen)` scheduled by `open` and `went_down`: opens
  /// again after a failed open; while ZooKeeper does not answer, says so once
  /// every 10 s (`still unreachable after N s`), not once per attempt. True
  /// when the session is **lost**: disconnected for longer than its timeout
  /// (ZooKeeper has expired it, or came back without it, e.g. with empty
  /// data): the caller treats it as expired and opens a new one.
  bool on_retry(caf::scheduled_actor* self, uint64_t gen);

  /// The peer is no ZooKeeper server (`session_state::not_zookeeper`):
  /// closes the session and opens a new one after a backoff, instead of
  /// letting the C client reconnect in a tight loop.
  void reject(caf::scheduled_actor* self);

  /// The connection was lost: counts the outage from now (see `on_retry`).
  void went_down(caf::scheduled_actor* self);

  clock::time_point down_since = clock::now(); // start of the current outage
  clock::time_point last_said = clock::now();  // the last "still unreachable"

  /// Closes the session (its ephemeral nodes vanish at once).
  void close();

  /// Requests sent to ZooKeeper by every session of this link so far.
  zk::request_counts requests() const;

  zk::request_counts before; // by sessions closed already

  /// The session timeout ZooKeeper granted (the one asked for until it has).
  std::chrono::milliseconds session_timeout() const {
    return zk && zk->timeout().count() > 0 ? zk->timeout() : opts.session_timeout;
  }

  /// Age of the view in milliseconds (0 while connected).
  int64_t view_age_ms() const;

  registry_state state() const {
    return {status, view_age_ms(), zk ? zk->id() : 0};
  }

  /// Handles `(zk_event_atom, gen, type, state, path)`, the one switch over
  /// ZooKeeper's session states for the registry actor and the registrar.
  void handle(caf::scheduled_actor* self, uint64_t gen, uint8_t type, uint8_t state,
              const std::string& path, const zk_link_handlers& on);
};

/// A registry's status for other threads (metrics, health): written by its
/// actor, read without asking it, which may be blocked in a ZooKeeper call.
struct live_registry_state {
  std::atomic<uint8_t> status{static_cast<uint8_t>(registry_status::connecting)};
  std::atomic<int64_t> last_current_ns{zk_link::clock::now().time_since_epoch().count()};

  void store(const zk_link& link) {
    status.store(static_cast<uint8_t>(link.status), std::memory_order_relaxed);
    last_current_ns.store(link.last_current.time_since_epoch().count(),
                          std::memory_order_relaxed);
  }

  registry_state load() const {
    auto st = static_cast<registry_status>(status.load(std::memory_order_relaxed));
    if (st == registry_status::connected)
      return {st, 0};
    auto since = zk_link::clock::time_point{
        zk_link::clock::duration{last_current_ns.load(std::memory_order_relaxed)}};
    return {st, std::chrono::duration_cast<std::chrono::milliseconds>(
                    zk_link::clock::now() - since)
                    .count()};
  }
};

/// Sends `msg` to `self` after `delay`, without the timer holding `self`: a
/// detached actor with a `delayed_send` to itself pending cannot be
/// destroyed, nor its thread end, before the timer fires, and the actor
/// system waits for that thread when it shuts down. A helper actor holds
/// the timer and only a weak reference to `self`; it ends at its tick or
/// with `self` (it monitors it), and it is not hidden: the actor system waits
/// for it, so that `self`'s down message reaches it while the scheduler runs.
void delayed_weak_send(caf::scheduled_actor* self, caf::timespan delay, caf::message msg);

/// What a registry or registrar actor's session sent (`zk_requests_atom`),
/// asked and waited for.
caf::expected<zk::request_counts> zk_requests_of(caf::actor_system& sys,
                                                 const caf::actor& who);

} // namespace slacker
