#include "slacker/actors/client_actor.hpp"

#include <caf/io/broker.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

using clock = client_state::clock;
using state_ptr = std::shared_ptr<client_state>;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void forget(client_state& st, uint64_t id) {
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  st.deadlines.erase({i->second.deadline, id});
  st.calls.erase(i);
}

void fail(client_state& st, uint64_t id, caf::error err) {
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto rp = i->second.rp;
  forget(st, id);
  rp.deliver(std::move(err));
}

template <class Self>
void arm_timer(Self* self, client_state& st, clock::time_point at) {
  if (st.timer_at && *st.timer_at <= at)
    return;
  st.timer_at = at;
  auto delay = std::max(at - clock::now(), clock::duration::zero());
  self->delayed_send(self, delay, deadline_atom::value);
}

/// Fails the calls sent to `target` (or to any actor, when null).
void fail_in_flight(client_state& st, const caf::actor& target) {
  std::vector<uint64_t> ids;
  for (auto& kvp : st.calls)
    if (kvp.second.target && (!target || kvp.second.target == target))
      ids.push_back(kvp.first);
  for (auto id : ids)
    fail(st, id, make_error(sc::connection_broken, st.calls[id].what + ": connection to "
                                                     + st.link->address() + " lost"));
}

} // namespace

namespace {

template <class Self>
caf::behavior client_behavior(Self* self, std::string host, uint16_t port) {
  auto state = std::make_shared<client_state>();
  state->link = std::make_shared<server_link>(std::move(host), port);
  self->set_down_handler([=](caf::down_msg& msg) {
    caf::actor gone;
    switch (state->link->on_down(msg.source, &gone)) {
      case server_link::loss::connection:
        fail_in_flight(*state, nullptr);
        break;
      case server_link::loss::handler:
        fail_in_flight(*state, gone);
        break;
      case server_link::loss::none:
        break;
    }
  });
  return {
    [=](call_request& req) -> caf::result<call_reply> {
      auto& st = *state;
      auto rp = self->template make_response_promise<call_reply>();
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
      arm_timer(self, st, deadline);
      auto name = req.ns;
      st.link->with_handler(
        self, name, [self, state, id, req = std::move(req)](caf::expected<caf::actor> h) mutable {
          auto i = state->calls.find(id);
          if (i == state->calls.end())
            return; // timed out meanwhile
          if (!h) {
            fail(*state, id, std::move(h.error()));
            return;
          }
          i->second.target = *h;
          self->send(*h, std::move(req));
        });
      return rp;
    },
    [=](call_reply& rep) {
      auto i = state->calls.find(rep.id);
      if (i == state->calls.end())
        return; // already failed or timed out
      if (rep.err) {
        fail(*state, rep.id, with_origin(rep.err, state->link->address()));
        return;
      }
      auto rp = i->second.rp;
      forget(*state, rep.id);
      rp.deliver(std::move(rep));
    },
    [=](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
      auto rp = self->template make_response_promise<caf::actor>();
      state->link->with_handler(self, name, [rp](caf::expected<caf::actor> h) mutable {
        if (h)
          rp.deliver(std::move(*h));
        else
          rp.deliver(std::move(h.error()));
      });
      return rp;
    },
    [=](deadline_atom) {
      auto& st = *state;
      auto now = clock::now();
      st.timer_at.reset(); // a wake-up that came early re-arms below
      while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
        auto id = st.deadlines.begin()->second;
        auto& call = st.calls[id];
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(call.timeout);
        fail(st, id,
             make_error(sc::timeout, call.what + " on " + st.link->address()
                                       + ": no reply within " + std::to_string(ms.count())
                                       + " ms"));
      }
      if (!st.deadlines.empty())
        arm_timer(self, st, st.deadlines.begin()->first);
    },
  };
}

} // namespace

caf::behavior client_actor(caf::event_based_actor* self, std::string host, uint16_t port) {
  return client_behavior(self, std::move(host), port);
}

caf::behavior client_broker(caf::io::broker* self, std::string host, uint16_t port) {
  return client_behavior(self, std::move(host), port);
}

} // namespace slacker
