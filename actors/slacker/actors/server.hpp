#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/typed_actor.hpp>

#include "slacker/actors/interfaces.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/runtime/worker_pool.hpp"

namespace slacker {

class catalog; // internal: what the server's connections look functions up in

/// A server: namespaces of functions (and plain actors) served on one port in
/// slacker's wire protocol (docs/protocol.md). Stopping (or destroying) it
/// closes the port and every connection and ends every actor it spawned.
///
/// ```
/// slacker::server srv{sys};
/// srv.add(slacker::ns("slacker.example.api")
///             .def("echo", [](std::string s) { return s; }));
/// auto port = srv.publish(2104);
/// ```
class server {
public:
  /// The worker pool's limits come from `slacker.worker-threads`,
  /// `slacker.worker-queue`, `slacker.worker-queue-bytes` and
  /// `slacker.worker-queue-wait`; `slacker.log-calls` logs one line per call
  /// (see `slacker::config`). Operator functions (guarded or `operator_lane`)
  /// run on a lane of their own: one thread, never behind user work.
  explicit server(caf::actor_system& sys);

  /// Uses `pool` for blocking functions (tests pass a pool they drive); the
  /// server does not stop a pool it was given.
  server(caf::actor_system& sys, std::shared_ptr<worker_pool> pool);

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  ~server();

  /// Serves a namespace of functions; replaces one of the same name.
  server& add(ns functions);

  /// Serves a plain actor as namespace `name`: messages sent to it through a
  /// client (`cluster_client::ask`, `client::ask`, `client::lookup`) arrive
  /// unchanged, and its answer goes back. Without `functions`, the namespace
  /// is described (`slacker inspect`, `client::functions`) by one entry
  /// `_actor`. The message types must be registered on both sides
  /// (`add_message_type`).
  server& expose(const std::string& name, caf::actor handler,
                 std::vector<function_info> functions = {});

  /// Serves a typed actor as namespace `name`; its `_actor` entry lists the
  /// messages it takes (a warning names a type not registered here).
  template <class... Sigs>
  server& expose(const std::string& name, const caf::typed_actor<Sigs...>& handler,
                 std::vector<function_info> functions = {}) {
    return expose_actor(name, caf::actor_cast<caf::actor>(handler),
                        sys_.message_types(handler), std::move(functions));
  }

  /// Stops serving namespace `name`; false if it was not served.
  bool remove(const std::string& name);

  /// Serves on `port` (0 picks a free one) at address `bind` (empty: every
  /// interface). Returns the port.
  caf::expected<uint16_t> publish(uint16_t port = 0, const std::string& bind = {});

  /// Starts the drain: stops accepting connections, answers every new call
  /// with `draining` (not run: its client sends it to another server) and
  /// tells every connected client that this server is going away (they route
  /// new calls elsewhere); calls already under way are still answered.
  void going_away();

  /// The published port, 0 before `publish`.
  /// True once published with TLS or `slacker.insecure`: peers (and a
  /// registered address) beyond loopback are allowed.
  bool takes_remote_peers() const noexcept {
    return remote_peers_;
  }

  uint16_t port() const noexcept {
    return port_;
  }

  /// Waits (up to `timeout`) until every call taken has been answered and no
  /// call has arrived for `quiet`, counted from this call at the earliest
  /// (callers that had not yet heard of the drain got their `draining`
  /// answers, and clients that learn of it from ZooKeeper had that long to
  /// see the server leaving); false on timeout.
  bool drain(std::chrono::milliseconds timeout,
             std::chrono::milliseconds quiet = std::chrono::milliseconds{0});

  /// The namespaces served (functions and actors), by name.
  std::vector<std::string> namespaces() const;

  /// The functions of namespace `name`; `not_found` when it is not served.
  caf::expected<std::vector<function_info>> functions(const std::string& name) const;

  /// Unpublishes and ends every actor this server spawned; calls still waiting
  /// for a worker are answered `draining`, calls still running after `grace`
  /// are abandoned (their threads finish on their own, or with the process).
  /// Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{1000});

private:
  server& expose_actor(const std::string& name, caf::actor handler,
                       const std::set<std::string>& signatures,
                       std::vector<function_info> functions);

  caf::actor_system& sys_;
  std::shared_ptr<worker_pool> pool_;
  bool owns_pool_ = false;
  std::shared_ptr<worker_pool> operator_pool_; // the operator lane
  std::shared_ptr<catalog> catalog_;
  front_actor_type acceptor_;
  std::vector<namespace_actor_type> spawned_;
  bool log_calls_ = false;
  bool on_network_thread_ = false; // slacker.hot-path=network
  uint16_t port_ = 0;
  bool remote_peers_ = false;
  std::vector<std::shared_ptr<void>> metrics_; // its gauges and health (/metrics)
};

} // namespace slacker
