#include "slacker/actors/ask.hpp"

#include <map>
#include <optional>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/aggregator.hpp"

namespace slacker {

namespace {

struct ask_state {
  std::optional<aggregator> agg;
  std::map<std::string, caf::message> answers;
  caf::response_promise rp;
  bool started = false;
  bool done = false;
};

void settle(caf::event_based_actor* self, ask_state& st) {
  if (!st.started || st.done || !st.agg->decided())
    return;
  st.done = true;
  auto res = st.agg->result();
  if (!res) {
    st.rp.deliver(std::move(res.error()));
  } else {
    ask_reply out;
    out.shape = res->shape;
    out.addrs = std::move(res->addrs);
    for (auto& addr : out.addrs)
      out.answers.push_back(std::move(st.answers[addr]));
    st.rp.deliver(std::move(out));
  }
  self->quit();
}

} // namespace

caf::behavior ask_gather(caf::event_based_actor* self, ask_request req,
                         std::vector<std::pair<std::string, caf::actor>> links) {
  auto st = std::make_shared<ask_state>();
  std::vector<std::string> addrs;
  for (auto& kvp : links)
    addrs.push_back(kvp.first);
  st->agg.emplace(req.ns, req.policies, addrs);
  auto ns = req.ns;
  auto send = req.send;
  for (auto& [addr, conn] : links) {
    auto a = addr;
    auto fail = [self, st, a](caf::error& err) {
      st->agg->fail(a, with_origin(err, a));
      settle(self, *st);
    };
    self->request(conn, caf::infinite, lookup_atom::value, ns)
        .then(
            [self, st, a, send](caf::actor& handler) {
              send(self, handler, [self, st, a](caf::expected<caf::message> answer) {
                if (answer) {
                  st->answers[a] = std::move(*answer);
                  st->agg->add(a, call_reply{});
                } else {
                  st->agg->fail(a, with_origin(answer.error(), a));
                }
                settle(self, *st);
              });
            },
            fail);
  }
  self->delayed_send(self, req.policies->timeout, deadline_atom::value);
  return {
      [=](gather_atom) -> caf::result<ask_reply> {
        st->rp = self->make_response_promise();
        st->started = true;
        auto rp = st->rp;
        settle(self, *st);
        return caf::delegated<ask_reply>{};
      },
      [=](deadline_atom) {
        st->agg->expire();
        settle(self, *st);
      },
  };
}

} // namespace slacker
