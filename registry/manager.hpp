#pragma once

#include <chrono>
#include <functional>

#include "slacker/actors/namespace.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/registry/registry.hpp"

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

/// Stops without losing a call: leaves the cluster, tells the connected
/// clients that it is going away (wire protocol), waits `grace` so that
/// clients hear of it and stop routing here, waits up to `drain_timeout` for
/// the calls still running, then stops the server.
void graceful_stop(server& srv, registration& reg, std::chrono::milliseconds grace,
                   std::chrono::milliseconds drain_timeout);

} // namespace slacker
