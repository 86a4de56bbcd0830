#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "slacker/actors/cluster_call.hpp"

namespace slacker {

/// A hedged call: sends `call` to the connection broker `first` (of server
/// `addr`) and, when no answer came within the call's `hedge_after`, asks
/// `dispatcher` for a backup on another server (`(hedge_atom, cluster_call)`,
/// which the retry budget may refuse). The first success wins; a failure
/// counts once every copy sent has answered (the primary's error first).
/// Then it ends. Spawned only for idempotent calls to one server.
/// Messages: `(gather_atom) -> cluster_reply`, the caller's request (delegated).
caf::behavior hedge_actor(caf::event_based_actor* self, caf::actor dispatcher,
                          caf::actor first, std::string addr, cluster_call call);

} // namespace slacker
