#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

namespace slacker {

class tls_context;

/// The limits and timers of slacker's wire protocol (docs/protocol.md), from
/// `slacker.max-message-size`, `slacker.handshake-timeout`,
/// `slacker.idle-timeout`, `slacker.ping-interval`, `slacker.peer-timeout`
/// and `slacker.connect-timeout`.
struct wire_options {
  uint32_t max_message_size = 16u * 1024u * 1024u;
  caf::timespan handshake_timeout = std::chrono::seconds{5};
  caf::timespan idle_timeout = std::chrono::seconds{30};
  caf::timespan ping_interval = std::chrono::milliseconds{500};
  caf::timespan peer_timeout = std::chrono::seconds{2};
  /// `slacker.call-silence`: while calls wait on a connection, a server
  /// silent for this long is dropped (its calls fail at once); the client
  /// pings it every quarter of it meanwhile. An idle connection pings only
  /// while someone watches reachability, with `ping_interval` and
  /// `peer_timeout`.
  caf::timespan call_silence = std::chrono::seconds{1};
  caf::timespan connect_timeout = std::chrono::seconds{5};
  /// `slacker.min-ping-interval`: a server takes pings on a connection with
  /// no call in flight at most one per this on average (a burst of 5).
  caf::timespan min_ping_interval = std::chrono::milliseconds{400};

  /// How long a connection may be silent: `busy`, calls wait on it.
  caf::timespan silence_limit(bool busy) const {
    return busy ? std::min(peer_timeout, call_silence) : peer_timeout;
  }

  /// How often to ping: `busy`, calls wait on it.
  caf::timespan ping_every(bool busy) const {
    return busy ? std::min(ping_interval, call_silence / 4) : ping_interval;
  }
  /// `slacker.failure-accrual`: calls in a row that time out on a server
  /// before a cluster client routes around it (probing it now and then).
  uint32_t failure_accrual = 3;
  /// `slacker.overload-backoff`: a cluster client passes over a server that
  /// answered a call `overloaded` for this long, while another is not so
  /// (0: never).
  caf::timespan overload_backoff = std::chrono::milliseconds{100};
  /// Server-wide budgets (docs/security.md, "Budgets"):
  /// `slacker.max-buffered-bytes`: memory all connections of a server may
  /// hold for frames not yet complete; a connection that grows past it is
  /// closed (`overloaded`).
  size_t max_buffered_bytes = size_t{256} << 20;
  /// `slacker.frame-timeout`: a frame that has begun must be complete
  /// within this, or the connection is closed (`frame_timeout`).
  caf::timespan frame_timeout = std::chrono::seconds{30};
  /// `slacker.max-connections`: connections a server keeps at once; beyond,
  /// new ones are refused with an `overloaded` error frame. 0: from the
  /// process's descriptor limit (what it allows, less 64), at most 10,000.
  size_t max_connections = 0;
  /// `slacker.max-tls-handshakes`: TLS handshakes under way at once; beyond,
  /// new connections are closed at once.
  size_t max_tls_handshakes = 64;
  /// Mutual TLS (`slacker.tls.*`), null for plaintext.
  std::shared_ptr<const tls_context> tls;
  /// `slacker.insecure`: a plaintext server also takes peers that are not on
  /// loopback.
  bool insecure = false;
  /// `slacker.manager.token`: what manager writes must carry (empty: only
  /// callers on loopback may write).
  std::string manager_token;
  /// Why these options cannot be used (a TLS file that does not load);
  /// servers and clients refuse to start with it.
  caf::error problem;

  static wire_options from(const caf::actor_system_config& cfg);
};

/// True for an address on 127.0.0.0/8 or ::1 (also IPv4-mapped).
bool is_loopback(const std::string& host);

/// How long after its deadline a call without an answer fails with `timeout`
/// (the grace lets a server's `canceled` arrive first).
constexpr std::chrono::milliseconds timeout_grace{100};

/// Time left until `deadline_ns` (system-clock nanoseconds since the epoch,
/// as calls carry it); negative once it passed.
std::chrono::nanoseconds time_left(int64_t deadline_ns);

} // namespace slacker
