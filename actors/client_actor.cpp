#include "slacker/actors/client_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

using self_ptr = caf::stateful_actor<client_state>*;
using clock = client_state::clock;

constexpr auto timeout_grace = std::chrono::milliseconds{100};

/// Adds where an error happened to slacker errors from the server.
caf::error with_origin(const caf::error& err, const std::string& addr) {
  auto code = code_of(err);
  if (code == sc::none)
    return make_error(sc::connection_broken, addr + ": " + describe(err));
  std::string text;
  if (err.context().match_elements<std::string>())
    text = err.context().get_as<std::string>(0);
  return make_error(code, text + " (on " + addr + ")");
}

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

void connect(self_ptr self, client_state::connect_callback cb) {
  auto& st = self->state;
  if (st.front) {
    cb(caf::error{});
    return;
  }
  st.on_connect.push_back(std::move(cb));
  if (st.connecting)
    return;
  st.connecting = true;
  auto flush = [self](const caf::error& err) {
    auto callbacks = std::move(self->state.on_connect);
    self->state.on_connect.clear();
    self->state.connecting = false;
    for (auto& f : callbacks)
      f(err);
  };
  auto mm = self->home_system().middleman().actor_handle();
  self->request(mm, caf::infinite, caf::connect_atom::value, st.host, st.port)
      .then(
          [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
            if (!ptr) {
              flush(make_error(sc::connection_broken, "no slacker server published at " +
                                                          self->state.address()));
              return;
            }
            self->state.front = caf::actor_cast<caf::actor>(ptr);
            self->monitor(self->state.front);
            spdlog::debug("slacker client: connected to {}", self->state.address());
            flush(caf::error{});
          },
          [=](caf::error& err) {
            spdlog::warn("slacker client: cannot connect to {}: {}",
                         self->state.address(), describe(err));
            flush(make_error(sc::connection_broken, "cannot connect to " +
                                                        self->state.address() + ": " +
                                                        describe(err)));
          });
}

void with_handler(self_ptr self, const std::string& name,
                  client_state::handler_callback cb) {
  auto& st = self->state;
  if (auto i = st.handlers.find(name); i != st.handlers.end()) {
    cb(i->second);
    return;
  }
  auto& waiting = st.on_handler[name];
  waiting.push_back(std::move(cb));
  if (waiting.size() > 1)
    return; // a lookup is under way
  auto flush = [self, name](caf::expected<caf::actor> res) {
    auto i = self->state.on_handler.find(name);
    if (i == self->state.on_handler.end())
      return;
    auto callbacks = std::move(i->second);
    self->state.on_handler.erase(i);
    for (auto& f : callbacks)
      f(res);
  };
  connect(self, [=](const caf::error& err) {
    if (err) {
      flush(err);
      return;
    }
    auto gen = self->state.generation;
    self->request(self->state.front, caf::infinite, lookup_atom::value, name)
        .then(
            [=](caf::actor& handler) {
              if (gen != self->state.generation)
                return; // the connection ended meanwhile; its loss flushed the callbacks
              self->monitor(handler);
              self->state.handlers[name] = handler;
              flush(handler);
            },
            [=](caf::error& err) {
              if (gen != self->state.generation)
                return;
              flush(with_origin(err, self->state.address()));
            });
  });
}

/// The server (or one of its namespace actors) is gone.
void lost(self_ptr self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto why = [&](const std::string& what) {
    return make_error(sc::connection_broken,
                      what + ": connection to " + st.address() + " lost");
  };
  if (who == st.front.address()) {
    spdlog::warn("slacker client: connection to {} lost, {} call(s) in flight fail",
                 st.address(), st.calls.size());
    st.front = nullptr;
    st.handlers.clear();
    ++st.generation;
    std::vector<uint64_t> ids;
    for (auto& kvp : st.calls)
      if (kvp.second.target)
        ids.push_back(kvp.first);
    for (auto id : ids)
      fail(self, id, why(st.calls[id].what));
    auto waiting = std::move(st.on_handler);
    st.on_handler.clear();
    for (auto& kvp : waiting)
      for (auto& f : kvp.second)
        f(why(kvp.first));
    return;
  }
  for (auto i = st.handlers.begin(); i != st.handlers.end(); ++i) {
    if (i->second.address() != who)
      continue;
    auto gone = i->second;
    st.handlers.erase(i);
    std::vector<uint64_t> ids;
    for (auto& kvp : st.calls)
      if (kvp.second.target == gone)
        ids.push_back(kvp.first);
    for (auto id : ids)
      fail(self, id, why(st.calls[id].what));
    return;
  }
}

} // namespace

caf::behavior client_actor(caf::stateful_actor<client_state>* self, std::string host,
                           uint16_t port) {
  self->state.host = std::move(host);
  self->state.port = port;
  self->set_down_handler([=](caf::down_msg& msg) { lost(self, msg.source); });
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
        with_handler(
            self, name,
            [self, id, req = std::move(req)](caf::expected<caf::actor> h) mutable {
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
          fail(self, rep.id, with_origin(rep.err, self->state.address()));
          return;
        }
        auto rp = i->second.rp;
        forget(self, rep.id);
        rp.deliver(std::move(rep));
      },
      [=](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
        auto rp = self->make_response_promise<caf::actor>();
        with_handler(self, name, [rp](caf::expected<caf::actor> h) mutable {
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
               make_error(sc::timeout, call.what + " on " + st.address() +
                                           ": no reply within " +
                                           std::to_string(ms.count()) + " ms"));
        }
        if (!st.deadlines.empty())
          arm_timer(self, st.deadlines.begin()->first);
      },
  };
}

} // namespace slacker
