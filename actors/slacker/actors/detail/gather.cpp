#include "slacker/actors/detail/gather.hpp"

#include <caf/io/broker.hpp>

#include "slacker/messages/atoms.hpp"

namespace slacker {

namespace {

template <class Self> void settle(Self* self) {
  auto& st = self->state;
  if (!st.started || !st.agg->decided())
    return;
  auto res = st.agg->result();
  if (res)
    st.rp.deliver(std::move(*res));
  else
    st.rp.deliver(std::move(res.error()));
  self->quit();
}

template <class Self>
caf::behavior gather_behavior(Self* self, std::string what,
                              std::shared_ptr<const call_policies> policies,
                              std::vector<std::string> addrs) {
  auto& st = self->state;
  st.addrs = addrs;
  st.agg.emplace(std::move(what), std::move(policies), std::move(addrs));
  return {
      [=](gather_atom) -> caf::result<cluster_reply> {
        auto& st = self->state;
        st.rp = self->template make_response_promise<cluster_reply>();
        st.started = true;
        auto rp = st.rp;
        settle(self);
        return rp;
      },
      [=](call_reply& rep) {
        auto& st = self->state;
        if (rep.id >= st.addrs.size())
          return;
        st.agg->add(st.addrs[rep.id], std::move(rep));
        settle(self);
      },
  };
}

} // namespace

caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, std::string what,
                           std::shared_ptr<const call_policies> policies,
                           std::vector<std::string> addrs) {
  return gather_behavior(self, std::move(what), std::move(policies), std::move(addrs));
}

caf::behavior gather_broker(caf::stateful_actor<gather_state, caf::io::broker>* self,
                            std::string what,
                            std::shared_ptr<const call_policies> policies,
                            std::vector<std::string> addrs) {
  return gather_behavior(self, std::move(what), std::move(policies), std::move(addrs));
}

} // namespace slacker
