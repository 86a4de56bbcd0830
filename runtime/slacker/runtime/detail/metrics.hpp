#pragma once

// Metrics and health for operators: counters kept by servers and cluster
// clients, served as Prometheus text at `/metrics` and as a health check at
// `/health` by an embedded HTTP server (civetweb) when `slacker.metrics`
// (`--metrics=HOST:PORT`) is set. Nothing is counted before an endpoint
// runs: `enabled()` is false and the call paths skip every counter.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <caf/error.hpp>

namespace caf {
class actor_system_config;
} // namespace caf

namespace slacker::metrics {

/// True once an endpoint serves the metrics.
bool enabled() noexcept;

/// Upper bounds (µs) of the latency histogram's buckets; `+Inf` follows.
inline constexpr std::array<uint64_t, 12> bucket_us{
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000, 10000000};

/// Calls, errors by code, a latency histogram and calls in flight.
struct call_counts {
  std::atomic<uint64_t> calls{0};
  /// By error code: 0 is success, then slacker's codes (`sc`), the last
  /// slot any other error.
  std::array<std::atomic<uint64_t>, 16> outcomes{};
  std::array<std::atomic<uint64_t>, bucket_us.size() + 1> buckets{};
  std::atomic<uint64_t> sum_us{0};
  std::atomic<int64_t> in_flight{0};

  /// One call ended after `us` microseconds with `err` (none: success).
  void record(uint64_t us, const caf::error& err);
};

/// The counts of function `ns/fn` served by this process.
call_counts& served(const std::string& ns, const std::string& fn);

/// What the cluster clients of this process sent to one server.
struct peer_counts : call_counts {
  std::atomic<bool> routable{false};
  /// Times a cluster client took the server out of routing, by reason.
  std::atomic<uint64_t> ejected_timeouts{0};
  std::atomic<uint64_t> ejected_slow{0};
};

/// The counts of server `addr` as seen by the clients of `cluster`.
std::shared_ptr<peer_counts> peer(const std::string& cluster, const std::string& addr);

/// A value read at each scrape, as long as the returned handle lives:
/// `name` (e.g. `slacker_worker_queue`) with Prometheus `labels` (e.g.
/// `cluster="c"`; may be empty), `help` its one-line description.
std::shared_ptr<void> add_gauge(std::string name, std::string labels, std::string help,
                                std::function<double()> read);

/// A part of the process's health, as long as the returned handle lives:
/// `check` returns an empty string while fine, else why not.
std::shared_ptr<void> add_health(std::string what, std::function<std::string()> check);

/// Everything, in Prometheus' text format (version 0.0.4).
std::string render();

/// The health report: 200 and `{"healthy":true,...}`, or 503 and the reasons.
std::pair<int, std::string> health();

/// Starts the HTTP endpoint on `host_port` (once per process; later calls
/// with the same address do nothing).
caf::error serve(const std::string& host_port);

/// Starts it when the configuration sets `slacker.metrics`; a failure is
/// returned, for the caller to say (publish and registration fail with it;
/// a cluster client logs it and runs on without metrics).
caf::error serve_from(const caf::actor_system_config& cfg);

} // namespace slacker::metrics
