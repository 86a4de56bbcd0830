#pragma once

// The message interfaces of the server's and the cluster client's actors, as
// types: the compiler checks every send against them.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"

namespace slacker {

/// A namespace actor: serves the functions of one namespace of a server.
///
/// ```
/// interface namespace_actor {
///   // errors travel inside the reply, so that a plain send gets one too
///   (call_request) -> call_reply
///   (drain_atom) -> bool                 // once no blocking call runs
///   // its own: a blocking function finished on the worker pool
///   (job_done_atom, uint64_t job, call_reply) -> void
/// }
/// ```
using namespace_actor_type =
    caf::typed_actor<caf::replies_to<call_request>::with<call_reply>,
                     caf::replies_to<drain_atom>::with<bool>,
                     caf::reacts_to<job_done_atom, uint64_t, call_reply>>;

} // namespace slacker
