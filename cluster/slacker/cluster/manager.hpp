#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "slacker/actors/namespace.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/cluster/registration.hpp"

namespace slacker {

/// The name of the manager namespace.
inline constexpr const char* manager_ns = "slacker.cluster.manager";

/// The opt-in manager namespace of a registered server:
/// - `offline()`, `online()`: out of / back into routing (the server stays up);
/// - `offline-ns(ns)`, `online-ns(ns)`: the same for one namespace;
/// - `set-server-data(json)`, `server-data()`;
/// - `shutdown()`: answers `true`, then calls `on_shutdown` (which should run
///   `graceful_stop`).
/// Each runs on the worker pool (it waits for ZooKeeper). All but
/// `server-data()` are guarded (`ns::guard`): they need the server's
/// `slacker.manager.token`, or a caller on the server's host when none is set.
ns manager_namespace(registration& reg, std::function<void()> on_shutdown);

/// Stops without losing a call, with or without ZooKeeper: drains
/// (`server::going_away`: connected clients hear it at once, new calls are
/// answered `draining` and sent elsewhere by their clients), takes its
/// namespaces out of routing and marks itself leaving in ZooKeeper
/// (`registration::begin_leaving`: `member_leaving`), waits until the calls
/// under way are answered and no call arrived for `quiet` (counted from the
/// drain's start at the earliest: an idle server is marked leaving that
/// long; at most `drain_timeout`), leaves the cluster (`member_down`), then
/// stops the server.
void graceful_stop(server& srv, registration& reg, std::chrono::milliseconds quiet,
                   std::chrono::milliseconds drain_timeout);

/// How `serve_until_stopped` stops.
struct stop_options {
  std::chrono::milliseconds quiet{300};           // graceful_stop's `quiet`
  std::chrono::milliseconds drain_timeout{30000}; // and its `drain_timeout`
  /// Printed on stderr when a second signal comes during the drain (it is
  /// otherwise ignored; a third ends the process at once).
  std::string note = "stopping gracefully (draining); send another signal to force";
  /// Called with the first signal, before the drain begins.
  std::function<void(int)> on_signal;
};

/// Serves until SIGINT, SIGTERM or SIGHUP (`wait_stop_signal`), then stops
/// without losing a call (`graceful_stop`); the signal. With `SLACKER_MAIN()`
/// no signal can end the process before this takes it. The manager
/// namespace's `shutdown` leads here too when its `on_shutdown` raises
/// SIGTERM (`request_stop`).
int serve_until_stopped(server& srv, registration& reg, stop_options opts = {});

/// Asks this process to stop as a signal would (SIGTERM to itself).
void request_stop();

} // namespace slacker
