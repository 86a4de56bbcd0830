#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/typed_broker.hpp>
#include <caf/typed_response_promise.hpp>

#include "slacker/actors/interfaces.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/runtime/worker_pool.hpp"

namespace slacker {

/// What a namespace actor remembers.
struct namespace_state {
  std::shared_ptr<const ns> functions;
  std::shared_ptr<worker_pool> pool;
  /// The operator lane: guarded and `operator_lane` functions.
  std::shared_ptr<worker_pool> operator_pool;
  /// Who sent the blocking calls under way (monitored): set when it goes, so
  /// that its calls still waiting in a queue are dropped unrun.
  std::unordered_map<caf::actor_addr, std::shared_ptr<std::atomic<bool>>> callers;
  /// Blocking calls running on the pool, by job number.
  std::unordered_map<uint64_t, caf::typed_response_promise<call_reply>> running;
  uint64_t next_job = 0;
  /// Callers waiting for `running` to become empty (graceful stop).
  std::vector<caf::typed_response_promise<bool>> drains;
};

/// Serves one namespace: `call_request` in, `call_reply` out (errors inside the
/// reply, so that a plain `send` gets its answer as well as a `request`).
/// `(drain_atom) -> bool` answers once no blocking call is running.
/// A namespace actor's whole interface: what users may send
/// (`namespace_actor_type`) and its own message, a blocking function finished
/// on the worker pool.
using namespace_internal_type =
    namespace_actor_type::extend<caf::reacts_to<job_done_atom, uint64_t, call_reply>>;

namespace_internal_type::behavior_type
namespace_actor(namespace_internal_type::pointer self,
                std::shared_ptr<const ns> functions, std::shared_ptr<worker_pool> pool,
                std::shared_ptr<worker_pool> operator_pool);

/// The broker that runs a namespace actor's interface.
using namespace_broker_type =
    caf::io::typed_broker<caf::replies_to<call_request>::with<call_reply>,
                          caf::replies_to<drain_atom>::with<bool>,
                          caf::reacts_to<job_done_atom, uint64_t, call_reply>>;

/// The same, spawned as a broker (`middleman().spawn_broker`): it runs on the
/// network thread, which saves a scheduler hop per call. Functions marked
/// blocking still run on the worker pool.
namespace_internal_type::behavior_type
namespace_broker(namespace_broker_type* self, std::shared_ptr<const ns> functions,
                 std::shared_ptr<worker_pool> pool,
                 std::shared_ptr<worker_pool> operator_pool);

/// What a call of `what` (ns/fn) refused or dropped by a worker pool answers:
/// `overloaded`, `draining` (the server stops) or `canceled` (not run).
caf::error refusal_error(const std::string& what, job_refusal why);

/// Runs one call of a namespace in the calling thread: the deadline check,
/// the function, and the reply.
call_reply run_call(const ns& functions, call_request& req);

/// Logs one call (`slacker.log-calls`): ns/fn, the caller's address,
/// duration, outcome.
void log_call(const std::string& ns, const std::string& fn, const std::string& caller,
              std::chrono::steady_clock::time_point start, const call_reply& rep);

} // namespace slacker
