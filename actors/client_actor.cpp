#include "slacker/actors/client_actor.hpp"

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

using self_ptr = caf::stateful_actor<client_state>*;
using clock = client_state::clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void forget(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  st.deadlines.erase({i->second.deadline, id});
  st.calls.erase(i);
}

void fail(self_ptr self, uint64_t id, caf::error err) {
  auto i = self->state.calls.find(id);
  if (i == self->state.calls.end())
    return;
  auto rp = i->second.rp;
  forget(self, id);
  rp.deliver(std::move(err));
}

void arm_timer(self_ptr self, clock::time_point at) {
  auto& st = self->state;
  if (st.timer_at && *st.timer_at <= at)
    return;
  st.timer_at = at;
  auto delay = std::max(at - clock::now(), clock::duration::zero());
  self->delayed_send(self, delay, deadline_atom::value);
}

/// Fails the calls sent to `target` (or to any actor, when null).
void fail_in_flight(self_ptr self, const caf::actor& target) {
  auto& st = self->state;
  std::vector<uint64_t> ids;
  for (auto& kvp : st.calls)
    if (kvp.second.target && (!target || kvp.second.target == target))
      ids.push_back(kvp.first);
  for (auto id : ids)
    fail(self, id, make_error(sc::connection_broken, st.calls[id].what + ": connection to "
                                                       + st.link->address() + " lost"));
}

} // namespace

caf::behavior client_actor(caf::stateful_actor<client_state>* self, std::string host,
                           uint16_t port) {
  self->state.link = std::make_shared<server_link>(std::move(host), port);
  self->set_down_handler([=](caf::down_msg& msg) {
    caf::actor gone;
    switch (self->state.link->on_down(msg.source, &gone)) {
      case server_link::loss::connection:
        fail_in_flight(self, nullptr);
        break;
      case server_link::loss::handler:
        fail_in_flight(self, gone);
        break;
      case server_link::loss::none:
        break;
    }
  });
  return {
    [=](call_request& req) -> caf::result<call_reply> {
      auto& st = self->state;
      auto rp = self->make_response_promise<call_reply>();
      auto id = st.next_id++;
      auto now = clock::now();
      auto left = std::chrono::nanoseconds{req.deadline_ns - now_ns()};
      if (req.deadline_ns == 0) {
        left = std::chrono::seconds{10};
        req.deadline_ns = now_ns() + left.count();
      }
      // The server answers `canceled` for a call whose deadline passed before
      // it ran; the grace lets that answer arrive before the local timeout.
      auto deadline = now + std::max(left, decltype(left){0}) + timeout_grace;
      req.id = id;
      auto what = req.ns + "/" + req.fn;
      st.calls.emplace(id, client_state::pending{what, rp, deadline, left, {}});
      st.deadlines.emplace(deadline, id);
      arm_timer(self, deadline);
      auto name = req.ns;
      st.link->with_handler(
        self, name, [self, id, req = std::move(req)](caf::expected<caf::actor> h) mutable {
          auto i = self->state.calls.find(id);
          if (i == self->state.calls.end())
            return; // timed out meanwhile
          if (!h) {
            fail(self, id, std::move(h.error()));
            return;
          }
          i->second.target = *h;
          self->send(*h, std::move(req));
        });
      return rp;
    },
    [=](call_reply& rep) {
      auto i = self->state.calls.find(rep.id);
      if (i == self->state.calls.end())
        return; // already failed or timed out
      if (rep.err) {
        fail(self, rep.id, with_origin(rep.err, self->state.link->address()));
        return;
      }
      auto rp = i->second.rp;
      forget(self, rep.id);
      rp.deliver(std::move(rep));
    },
    [=](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
      auto rp = self->make_response_promise<caf::actor>();
      self->state.link->with_handler(self, name, [rp](caf::expected<caf::actor> h) mutable {
        if (h)
          rp.deliver(std::move(*h));
        else
          rp.deliver(std::move(h.error()));
      });
      return rp;
    },
    [=](deadline_atom) {
      auto& st = self->state;
      auto now = clock::now();
      st.timer_at.reset(); // a wake-up that came early re-arms below
      while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
        auto id = st.deadlines.begin()->second;
        auto& call = st.calls[id];
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(call.timeout);
        fail(self, id,
             make_error(sc::timeout, call.what + " on " + st.link->address()
                                       + ": no reply within " + std::to_string(ms.count())
                                       + " ms"));
      }
      if (!st.deadlines.empty())
        arm_timer(self, st.deadlines.begin()->first);
    },
  };
}

} // namespace slacker
