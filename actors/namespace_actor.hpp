#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/namespace.hpp"
#include "slacker/actors/worker_pool.hpp"

namespace slacker {

/// What a namespace actor remembers.
struct namespace_state {
  std::shared_ptr<const ns> functions;
  std::shared_ptr<worker_pool> pool;
  /// Blocking calls running on the pool, by job number.
  std::unordered_map<uint64_t, caf::typed_response_promise<call_reply>> running;
  uint64_t next_job = 0;
  /// Callers waiting for `running` to become empty (graceful stop).
  std::vector<caf::typed_response_promise<bool>> drains;
  bool log_calls = false; // one line per call: ns/fn, caller, duration
  static inline const char* name = "slacker.namespace";
};

/// Serves one namespace: `call_request` in, `call_reply` out (errors inside the
/// reply, so that a plain `send` gets its answer as well as a `request`).
/// `(drain_atom) -> bool` answers once no blocking call is running.
caf::behavior namespace_actor(caf::stateful_actor<namespace_state>* self,
                              std::shared_ptr<const ns> functions,
                              std::shared_ptr<worker_pool> pool, bool log_calls = false);

/// Runs one call of a namespace in the calling thread: the deadline check,
/// the function, and the reply.
call_reply run_call(const ns& functions, call_request& req);

} // namespace slacker
