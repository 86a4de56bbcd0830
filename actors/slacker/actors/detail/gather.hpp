#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/policy/detail/aggregator.hpp"

namespace slacker {

/// What the gather of one call remembers.
struct gather_state {
  std::vector<std::string> addrs; // the call's servers; a reply's id is an index here
  std::optional<aggregator> agg;
  caf::typed_response_promise<cluster_reply> rp;
  bool started = false;
  static inline const char* name = "slacker.gather";
};

/// Collects the answers of one call that went to several servers `addrs`
/// (the design card's per-call gather) and replies as soon as the aggregator
/// has decided, then ends. It has no timer: the connection brokers answer
/// every call by its deadline (`timeout`) or when their connection ends
/// (`connection_broken`).
/// Messages:
/// - `(gather_atom) -> cluster_reply`: the caller's request (delegated);
/// - `call_reply`: the answer of the server `addrs[id]` (an error inside
///   counts as its failure, e.g. `timeout` at the call's deadline), sent by
///   its connection broker.
caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, std::string what,
                           std::shared_ptr<const call_policies> policies,
                           std::vector<std::string> addrs);

/// The same, spawned as a broker: it runs on the network thread.
caf::behavior gather_broker(caf::stateful_actor<gather_state, caf::io::broker>* self,
                            std::string what,
                            std::shared_ptr<const call_policies> policies,
                            std::vector<std::string> addrs);

} // namespace slacker
