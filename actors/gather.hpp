#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/cluster_call.hpp"

namespace slacker {

/// What the gather of one call remembers.
struct gather_state {
  std::string what; // ns/fn
  std::shared_ptr<const call_policies> policies;
  size_t servers = 0;
  std::set<std::string> waiting; // servers that have not answered
  std::vector<server_result> successes;
  std::vector<server_failure> failures;
  caf::typed_response_promise<cluster_reply> rp;
  bool started = false;
  static inline const char* name = "slacker.gather";
};

/// Collects the answers of one call to `addrs` under one deadline, and
/// replies as soon as the outcome is known: `any` at the first failure,
/// `single` (with `all`) at the first success, otherwise when every server
/// answered or failed, or at the deadline (missing answers count as `timeout`).
/// Messages:
/// - `(gather_atom) -> cluster_reply`: the caller's request (delegated);
/// - `(addr, call_reply)`: a server answered (an error inside counts as its failure);
/// - `(addr, error)`: a server failed (e.g. died: `connection_broken`);
/// - `(deadline_atom)`: the deadline passed.
caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, std::string what,
                           std::shared_ptr<const call_policies> policies,
                           std::vector<std::string> addrs,
                           std::chrono::steady_clock::duration until_deadline);

/// The same, spawned as a broker: it runs on the network thread.
caf::behavior gather_broker(caf::stateful_actor<gather_state, caf::io::broker>* self,
                            std::string what, std::shared_ptr<const call_policies> policies,
                            std::vector<std::string> addrs,
                            std::chrono::steady_clock::duration until_deadline);

} // namespace slacker
