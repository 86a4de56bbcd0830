#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "slacker/messages/call.hpp"

namespace slacker {

/// What the front of a server remembers: its namespaces and who serves them.
struct server_front_state {
  struct entry {
    caf::actor handler;                   // a namespace actor or a user actor
    std::vector<function_info> functions; // empty for a user actor without metadata
  };
  std::map<std::string, entry> namespaces;
  static inline const char* name = "slacker.server";
};

/// The actor a server publishes on its port. Clients ask it:
/// - `(lookup_atom, ns) -> actor`: the actor serving `ns`, or `not_found`;
/// - `(inspect_atom) -> vector<string>`: the namespaces;
/// - `(inspect_atom, ns) -> vector<function_info>`: a namespace's functions.
/// Only actors of the same node may change it:
/// - `(publish_atom, ns, actor, vector<function_info>) -> bool`;
/// - `(unpublish_atom, ns) -> bool`.
caf::behavior server_front(caf::stateful_actor<server_front_state>* self);

} // namespace slacker
