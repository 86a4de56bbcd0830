#include "slacker/actors/server_front.hpp"

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

caf::behavior server_front(caf::stateful_actor<server_front_state>* self) {
  auto local_sender = [self] {
    auto& sender = self->current_sender();
    return sender == nullptr || sender->node() == self->node();
  };
  auto refused = [] {
    return make_error(sc::invalid_request,
                      "only the server's own node may change its namespaces");
  };
  return {
      [=](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
        auto i = self->state.namespaces.find(name);
        if (i == self->state.namespaces.end())
          return make_error(sc::not_found, "no namespace " + name);
        return i->second.handler;
      },
      [=](inspect_atom) {
        std::vector<std::string> names;
        for (auto& kvp : self->state.namespaces)
          names.emplace_back(kvp.first);
        return names;
      },
      [=](inspect_atom,
          const std::string& name) -> caf::result<std::vector<function_info>> {
        auto i = self->state.namespaces.find(name);
        if (i == self->state.namespaces.end())
          return make_error(sc::not_found, "no namespace " + name);
        return i->second.functions;
      },
      [=](publish_atom, const std::string& name, caf::actor& handler,
          std::vector<function_info>& functions) -> caf::result<bool> {
        if (!local_sender())
          return refused();
        self->state.namespaces[name] = {std::move(handler), std::move(functions)};
        return true;
      },
      [=](unpublish_atom, const std::string& name) -> caf::result<bool> {
        if (!local_sender())
          return refused();
        return self->state.namespaces.erase(name) > 0;
      },
  };
}

} // namespace slacker
