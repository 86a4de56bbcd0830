#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/runtime/wire_options.hpp"

namespace slacker::accrual {
struct health;
} // namespace slacker::accrual

namespace slacker {

/// Blocking calls from plain code, done in the calling thread on connections
/// of their own (one per concurrent caller, pooled): a call costs the caller's
/// two socket operations instead of two thread hand-offs through CAF's
/// network thread (measured in docs/benchmarks.md). Same protocol, limits and
/// errors as the connection broker: a connection that drops fails its call at
/// once with `connection_broken`, a server silent past `peer_timeout` too
/// (the caller pings while it waits), and a reply later than the deadline plus
/// `timeout_grace` fails with `timeout`. Thread-safe.
class blocking_lane {
public:
  /// `cluster`: the cluster client's, for the portal's list of connections
  /// (empty: a direct client).
  /// `health`: the server's, shared with its connection broker (null: a
  /// direct client); a lane waiting on a silent server says so there.
  blocking_lane(std::string host, uint16_t port, wire_options opts,
                std::string cluster = {},
                std::shared_ptr<accrual::health> health = nullptr);

  blocking_lane(const blocking_lane&) = delete;
  blocking_lane& operator=(const blocking_lane&) = delete;

  ~blocking_lane();

  /// The wire options it was made with (its client's).
  const wire_options& options() const noexcept {
    return opts_;
  }

  /// How a call went on the wire, for the retry rule (retry.hpp).
  struct attempt {
    bool sent = false;     // the request was written to a connection
    bool answered = false; // the server answered it (a reply or its error)
    /// A new connection took longer than the call's bound on a connect
    /// (half the time it had left, less than `slacker.connect-timeout`):
    /// unsent, and no proof that the server is gone (it is marked unheard
    /// for `slacker.connect-timeout`, the call goes elsewhere).
    bool connect_cut_short = false;
    /// In: the caller's timeout, which a `timeout` error names (0: the time
    /// left when the lane took the call, a little less).
    std::chrono::nanoseconds timeout{0};
  };

  /// Sends `req` (its `deadline_ns` must be set; its `id` is kept) and waits
  /// for the reply; server errors come back as errors naming the server.
  /// `how`, if given, says whether it was sent and answered.
  caf::expected<call_reply> call(call_request& req, attempt* how = nullptr);

  /// One call of a fan-out (`call_all`): the lane of its server, and how it
  /// went.
  struct fan_call {
    blocking_lane* lane = nullptr;
    caf::expected<call_reply> result{caf::error{}};
    attempt how;
  };

  /// Sends `req` to the server of each lane in `calls`, all requests before
  /// any wait, then waits for the replies together (one poll over their
  /// connections, the same timeouts as `call`). `done(i)` runs as call `i`
  /// ends (its `result` set) and returns true once the caller has its
  /// outcome: the calls still open are then let go (their connections
  /// closed, their replies never read).
  static void call_all(call_request& req, std::vector<fan_call>& calls,
                       const std::function<bool(size_t)>& done);

  /// Closes the idle connections; calls from now on fail unsent
  /// (`connection_broken`). Calls under way finish.
  void close();

  struct conn; // one pooled connection (blocking_lane.cpp)

private:
  using clock = std::chrono::steady_clock;

  /// A pooled connection, or a new one connected by `until`; `checked`, if
  /// given, is a pooled connection the caller has already found quiet.
  caf::expected<std::unique_ptr<conn>>
  borrow(const call_name& what, clock::time_point until, std::unique_ptr<conn> checked);

  /// The last pooled connection, unchecked (null if none, or closed).
  std::unique_ptr<conn> take_idle();

  /// Takes a pooled connection for each of `calls` and checks them all with
  /// one poll (a fan-out's: one system call, not one per server); those
  /// that are not quiet are closed (null in the result).
  static std::vector<std::unique_ptr<conn>> take_checked(std::vector<fan_call>& calls);

  /// Checks `req`'s size and borrows a connection (maybe new, not greeted
  /// yet). A new connection may take `slacker.connect-timeout`, but at most
  /// half of the time left before `deadline`: a server that does not accept
  /// (its host unplugged) leaves the call time to go elsewhere.
  caf::expected<std::unique_ptr<conn>> open(const call_request& req,
                                            const call_name& what,
                                            clock::time_point deadline, attempt& how,
                                            std::unique_ptr<conn> checked = nullptr);

  /// Writes `req` to a greeted connection under wire id `wire_id` (gives the
  /// connection back, leaving `c` empty, when the server's cap refuses it).
  caf::error send_call(std::unique_ptr<conn>& c, call_request& req, const call_name& what,
                       clock::time_point deadline, uint64_t& wire_id, attempt& how);

  /// The error of a new connection whose hello did not come (`res`: how the
  /// wait ended); nothing was sent.
  caf::error not_greeted(conn& cn, int res, const call_name& what, attempt& how);

  /// How long a new connection waits for the server's hello.
  std::chrono::nanoseconds greet_timeout() const;

  /// Borrows a connection, waits for its hello when it is new, and writes
  /// `req` to it (under wire id `wire_id`).
  caf::expected<std::unique_ptr<conn>> begin(call_request& req, const call_name& what,
                                             clock::time_point deadline,
                                             uint64_t& wire_id, attempt& how);

  /// The result of a wait that ended with `res` (an `outcome`).
  caf::expected<call_reply> settle(int res, conn& cn, call_reply& rep,
                                   const call_name& what, std::chrono::nanoseconds left,
                                   attempt& how);

  void give_back(std::unique_ptr<conn> c);

  /// Closes the idle connections: one connection to the server broke (it
  /// died, froze or went away), and a call written to another of them now
  /// could fail after it was sent; on a new one it fails unsent, or works.
  void drop_idle();

  std::string host_;
  uint16_t port_;
  std::string addr_;
  wire_options opts_;
  std::string cluster_;
  std::shared_ptr<accrual::health> health_;
  std::mutex mtx_;
  std::vector<std::unique_ptr<conn>> idle_;
  bool closed_ = false; // guarded by mtx_
};

} // namespace slacker
