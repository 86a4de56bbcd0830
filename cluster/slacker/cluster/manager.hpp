#pragma once

#include <chrono>
#include <functional>

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
/// answered `draining` and sent elsewhere by their clients), leaves the
/// cluster, waits until the calls under way are answered and no call arrived
/// for `quiet` (at most `drain_timeout`), then stops the server.
void graceful_stop(server& srv, registration& reg, std::chrono::milliseconds quiet,
                   std::chrono::milliseconds drain_timeout);

} // namespace slacker
