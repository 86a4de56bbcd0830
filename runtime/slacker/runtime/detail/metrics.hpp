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
#include <vector>

#include <caf/error.hpp>

namespace caf {
class actor_system_config;
} // namespace caf

struct mg_connection;

namespace slacker::metrics {

/// True once an endpoint serves the metrics.
bool enabled() noexcept;

/// Upper bounds (µs) of the latency histogram's buckets; `+Inf` follows.
inline constexpr std::array<uint64_t, 12> bucket_us{
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000, 10000000};

/// The latency (µs) below which a share `q` of the calls counted in
/// `buckets` (per bucket of `bucket_us`, then +Inf) ended, interpolated
/// inside its bucket; past the last bound, that bound; 0 without calls.
double percentile_us(const std::array<uint64_t, bucket_us.size() + 1>& buckets,
                     double q) noexcept;

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

/// What this process counts of one function it serves.
struct served_counts : call_counts {
  /// Times the function, run inline, held the network thread too long and
  /// was sent to the workers for a penalty (`inline_cost`).
  std::atomic<uint64_t> sent_to_workers{0};
};

/// The counts of function `ns/fn` served by this process.
served_counts& served(const std::string& ns, const std::string& fn);

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

/// One connection, for the portal's /connections page: counted by its broker
/// (relaxed atomics) while the returned handle lives.
struct link_counts {
  std::string side;    // "in": a client's connection to this server; "out": to a server
  std::string peer;    // host:port
  std::string cluster; // out: the cluster client's cluster, or empty (a direct client)
  bool tls = false;
  int64_t opened_ms = 0; // system clock, ms since the epoch
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> last_ms{0}; // last bytes in or out, as `opened_ms`

  /// Bytes came in (`in`) or went out.
  void moved(uint64_t in, uint64_t out) noexcept;
};

/// A new connection's counts, listed until the handle goes (null while no
/// endpoint serves: nothing to count then).
std::shared_ptr<link_counts> track_link(std::string side, std::string peer,
                                        std::string cluster, bool tls);

/// A part of what the portal shows, as long as the returned handle lives:
/// in `section` (`overview` or `cluster`), under `title`, the JSON object
/// that `read` returns (called on an HTTP thread, never while a lock that a
/// call path takes is held; it may ask an actor, with a timeout).
std::shared_ptr<void> add_status(std::string section, std::string title,
                                 std::function<std::string()> read);

/// Milliseconds since the epoch (system clock).
int64_t now_ms() noexcept;

/// The connections open now (for the portal).
std::vector<std::shared_ptr<link_counts>> links();

/// The parts of `section` (title, JSON object), each read now.
std::vector<std::pair<std::string, std::string>> read_status(const std::string& section);

/// The counts of one function served (`served`: `a` its namespace, `b` the
/// function) or of one server called (`a` the cluster, `b` the server;
/// `peer` its routing state).
struct count_row {
  bool served;
  const std::string& a;
  const std::string& b;
  const call_counts& counts;
  const peer_counts* peer;
};

/// Calls `f` with every row of counts, under the registry's lock (`f` only
/// reads the counters).
void each_counts(const std::function<void(const count_row&)>& f);

/// A gauge, health check or status part may ask an actor from an HTTP
/// thread; CAF then keeps a reference to its logger in the thread, and an
/// actor system waits for its logger to go when it ends: let go of it after
/// each read.
struct forget_caf_logger {
  ~forget_caf_logger();
};

/// Answers an HTTP request of the endpoint (its one response writer):
/// `status`, `body` as `type`, not cached, then the connection closes;
/// `headers`: more header lines, each ending in CRLF.
int http_reply(mg_connection* conn, int status, const char* type, const std::string& body,
               const char* headers = "");

/// Everything, in Prometheus' text format (version 0.0.4).
std::string render();

/// The health report: 200 and `{"healthy":true,...}`, or 503 and the reasons.
std::pair<int, std::string> health();

/// Starts the HTTP endpoint on `host_port` (once per process; later calls
/// with the same address do nothing), with the status portal: its pages
/// ask for `token` when it is not empty; `config` is what its /config
/// shows (portal::config_report).
caf::error serve(const std::string& host_port, std::string token = {},
                 std::string config = "[]");

/// Starts it when the configuration sets `slacker.metrics`; a failure is
/// returned, for the caller to say (publish and registration fail with it;
/// a cluster client logs it and runs on without metrics).
caf::error serve_from(const caf::actor_system_config& cfg);

} // namespace slacker::metrics
