#pragma once

// A server's place in a cluster: its registration in ZooKeeper (nodes,
// server-data, elections) as long as it lives.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "slacker/actors/server.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/registry/interfaces.hpp"
#include "slacker/registry/options.hpp"

namespace slacker {
/// What a server registers besides its ZooKeeper options.
struct registration_options {
  zk_options zk;
  std::string node;               // this server's IP; empty: detected
  std::string server_data = "{}"; // JSON text
};

/// The server side: registers a published `server` and its namespaces in a
/// cluster, keeps them registered across session loss, and unregisters when
/// destroyed.
///
/// ```
/// slacker::registration reg{sys, srv, {.zk = {.zk = "127.0.0.1:2181", .cluster = "c"}}};
/// reg.set_server_data(R"({"weight": 2})");
/// ```
class registration {
public:
  /// `srv` must be published already (its port is registered).
  registration(caf::actor_system& sys, const server& srv, registration_options opts);
  ~registration();
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;

  /// Replaces the server-data (JSON text); clients see `server_data_changed`.
  void set_server_data(const std::string& json);

  /// Merges `patch` (a JSON object, RFC 7386: a key set to null is removed)
  /// into the server-data, atomically with other updates; returns the new
  /// server-data, or an `invalid_request` error when either is not a JSON
  /// object.
  caf::expected<std::string> merge_server_data(const std::string& patch);

  /// Waits (up to `timeout`) until the server is registered; the error that
  /// keeps it from registering (a plaintext server on a non-loopback
  /// address, a squatted cluster), or `timeout`.
  caf::error wait_registered(std::chrono::milliseconds timeout);

  /// Registers namespace `ns` of the server (after `server::add`).
  bool publish(const std::string& ns);

  /// Takes namespace `ns` out of the cluster; the server still serves it.
  bool unpublish(const std::string& ns);

  /// The server-data last set (JSON text).
  std::string server_data() const;

  /// The `host:port` this server is registered under (`opts.node`, or the
  /// address of the interface that reaches ZooKeeper), once known; empty
  /// before (blocking, up to 5 s).
  std::string address();

  /// Takes every namespace of the server out of routing (the server stays a
  /// member and keeps serving direct calls); `online` puts them back.
  void offline();
  void online();

  /// The namespaces of the server in routing now (published and not taken
  /// offline).
  std::set<std::string> routed() const;

  /// Every namespace the server serves, in routing or not.
  std::vector<std::string> served() const;

  /// Begins to leave (graceful_stop's first step with ZooKeeper): every
  /// namespace out of routing, the server marked leaving (subscribers hear
  /// `member_leaving`); it stays a member until `leave`. The writes go to
  /// ZooKeeper without waiting for its answer (a silent ensemble does not
  /// hold up a stop); false when the registry did not take them within
  /// `timeout` (it is busy with ZooKeeper: they follow when it is done).
  bool begin_leaving(std::chrono::milliseconds timeout = std::chrono::seconds{1});

  /// Leaves the cluster now: every node of this server vanishes (its session
  /// ends). Later calls of this object do nothing.
  void leave();

  /// The namespaces this server currently leads. A leader whose ZooKeeper
  /// link has been down for `slacker.leader-step-down` (2/3) of the session
  /// timeout stops leading at once, before ZooKeeper can elect another.
  std::vector<std::string> leading();

  /// The same, with the fencing token of each leadership.
  std::vector<leadership> leaderships();

  /// The fencing token while this server leads `ns`: pass it with the
  /// leader's writes and have the receiver reject a token older than the
  /// newest it has seen (a stale leader's).
  std::optional<fencing_token> fencing(const std::string& ns);

  /// `who` receives a `leadership` message each time this server starts or
  /// stops leading a namespace (first one per namespace it leads now).
  void subscribe(const caf::actor& who);

  /// The ZooKeeper requests this registration sent so far (blocking).
  caf::expected<zk::request_counts> zk_requests();

  const registrar_actor_type& actor() const noexcept {
    return actor_;
  }

private:
  void store_server_data(const std::string& json);

  caf::actor_system& sys_;
  const server& srv_;
  registrar_actor_type actor_;
  caf::error refused_; // why it never started
  std::string cluster_;
  mutable std::mutex mtx_;
  std::string server_data_;
  std::set<std::string> routed_; // guarded by mtx_
  std::shared_ptr<void> health_; // its part of /health
  std::shared_ptr<void> status_; // its part of the portal's overview
  std::mutex update_mtx_;        // one server-data update at a time
};

} // namespace slacker
