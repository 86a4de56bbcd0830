#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/runtime/wire_options.hpp"

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
  blocking_lane(std::string host, uint16_t port, wire_options opts);

  blocking_lane(const blocking_lane&) = delete;
  blocking_lane& operator=(const blocking_lane&) = delete;

  ~blocking_lane();

  /// How a call went on the wire, for the retry rule (retry.hpp).
  struct attempt {
    bool sent = false;     // the request was written to a connection
    bool answered = false; // the server answered it (a reply or its error)
  };

  /// Sends `req` (its `deadline_ns` must be set; its `id` is kept) and waits
  /// for the reply; server errors come back as errors naming the server.
  /// `how`, if given, says whether it was sent and answered.
  caf::expected<call_reply> call(call_request& req, attempt* how = nullptr);

  /// Closes the idle connections; calls from now on fail unsent
  /// (`connection_broken`). Calls under way finish.
  void close();

  struct conn; // one pooled connection (blocking_lane.cpp)

private:
  caf::expected<std::unique_ptr<conn>> borrow(const std::string& what);
  void give_back(std::unique_ptr<conn> c);

  std::string host_;
  uint16_t port_;
  std::string addr_;
  wire_options opts_;
  std::mutex mtx_;
  std::vector<std::unique_ptr<conn>> idle_;
  bool closed_ = false; // guarded by mtx_
};

} // namespace slacker
