#include "slacker/actors/detail/hedge.hpp"

#include <memory>
#include <optional>

#include <caf/response_promise.hpp>

#include "slacker/messages/atoms.hpp"

namespace slacker {

caf::behavior hedge_actor(caf::event_based_actor* self, caf::actor dispatcher,
                          caf::actor first, std::string addr, cluster_call call) {
  struct state {
    caf::response_promise rp;
    bool asked = false; // the caller's request arrived
    std::optional<caf::expected<cluster_reply>> outcome;
    size_t pending = 1;       // copies sent, not answered yet
    caf::error primary_error; // the first copy's failure
    caf::error backup_error;
    bool hedged = false;
  };
  auto st = std::make_shared<state>();
  auto settle = [self, st] {
    if (st->asked && st->outcome) {
      if (*st->outcome)
        st->rp.deliver(std::move(**st->outcome));
      else
        st->rp.deliver(std::move(st->outcome->error()));
      self->quit();
    }
  };
  auto on_success = [st, settle](cluster_reply& rep) {
    if (!st->outcome)
      st->outcome = std::move(rep);
    settle();
  };
  auto on_failure = [st, settle](bool primary) {
    return [st, settle, primary](caf::error& err) {
      (primary ? st->primary_error : st->backup_error) = std::move(err);
      if (--st->pending > 0 || st->outcome)
        return;
      st->outcome = caf::expected<cluster_reply>{st->primary_error ? st->primary_error
                                                                   : st->backup_error};
      settle();
    };
  };
  auto after = call.policies->hedge_after;
  auto backup = call;
  backup.tried.push_back(addr);
  self->request(first, caf::infinite, std::move(call)).then(on_success, on_failure(true));
  self->delayed_send(self, after, hedge_atom::value);
  return {
      [self, st, settle](gather_atom) -> caf::result<cluster_reply> {
        st->rp = self->make_response_promise();
        st->asked = true;
        settle();
        return caf::delegated<cluster_reply>{};
      },
      [self, st, dispatcher, backup, on_success, on_failure](hedge_atom) mutable {
        if (st->outcome || st->hedged)
          return;
        st->hedged = true;
        ++st->pending;
        self->request(dispatcher, caf::infinite, hedge_atom::value, std::move(backup))
            .then(on_success, on_failure(false));
      },
  };
}

} // namespace slacker
