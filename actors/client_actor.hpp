#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/server_link.hpp"
#include "slacker/messages/call.hpp"

namespace slacker {

/// What the client actor of one server remembers.
struct client_state {
  using clock = std::chrono::steady_clock;

  struct pending {
    std::string what; // ns/fn, for error messages
    caf::typed_response_promise<call_reply> rp;
    clock::time_point deadline;
    clock::duration timeout;
    caf::actor target; // the namespace actor, once the request went out
  };

  std::shared_ptr<server_link> link;
  std::unordered_map<uint64_t, pending> calls;
  std::set<std::pair<clock::time_point, uint64_t>> deadlines;
  std::optional<clock::time_point> timer_at; // the earliest armed wake-up
  uint64_t next_id = 1;
};

/// The client actor of one server at `host:port`. Callers send it:
/// - a `call_request` (its `id` is ignored; `deadline_ns` 0 means 10 s) and get
///   a `call_reply` or an error; a call in flight when the server goes away
///   fails at once with `connection_broken`; one without an answer 100 ms past
///   its deadline with `timeout` (the grace lets a server's `canceled` arrive);
/// - `(lookup_atom, ns)` and get the actor serving `ns` on that server, for
///   plain CAF messages to user actors.
/// It connects on the first call, and again on the next call after a loss.
caf::behavior client_actor(caf::event_based_actor* self, std::string host, uint16_t port);

/// The same, spawned as a broker (`middleman().spawn_broker`): it runs on the
/// network thread, where requests leave and replies arrive.
caf::behavior client_broker(caf::io::broker* self, std::string host, uint16_t port);

/// How long after its deadline a call without an answer fails with `timeout`.
constexpr std::chrono::milliseconds timeout_grace{100};

} // namespace slacker
