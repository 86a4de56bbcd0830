#include "slacker/actors/gather.hpp"

#include <caf/io/broker.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace {


template <class Self>
cluster_reply shape(Self* self) {
  auto& st = self->state;
  cluster_reply out;
  auto& policy = st.policies->results;
  if (auto fn = std::get_if<results_fn>(&policy); fn && *fn) {
    auto value = (*fn)(st.policies->codec, st.successes);
    call_reply rep;
    rep.codec = st.policies->codec;
    if (value)
      rep.result = std::move(*value);
    else
      rep.err = std::move(value.error());
    out.replies.push_back(std::move(rep));
    out.whole = true;
    return out;
  }
  auto kind = std::get<results_kind>(policy);
  if (kind == results_kind::nil)
    return out;
  for (auto& s : st.successes) {
    out.addrs.push_back(s.addr);
    out.replies.push_back(std::move(s.reply));
    if (kind == results_kind::single)
      break;
  }
  return out;
}

template <class Self>
void finish(Self* self) {
  auto& st = self->state;
  if (auto err = judge(st.policies->exceptions, st.what, st.successes, st.failures))
    st.rp.deliver(std::move(*err));
  else
    st.rp.deliver(shape(self));
  self->quit();
}

template <class Self>
bool decided(Self* self) {
  auto& st = self->state;
  if (st.waiting.empty())
    return true;
  auto kind = std::get_if<exceptions_kind>(&st.policies->exceptions);
  if (kind && *kind == exceptions_kind::any && !st.failures.empty())
    return true;
  auto results = std::get_if<results_kind>(&st.policies->results);
  return kind && *kind == exceptions_kind::all && results
         && *results == results_kind::single && !st.successes.empty();
}

template <class Self>
void settle(Self* self) {
  if (self->state.started && decided(self))
    finish(self);
}

} // namespace

namespace {

template <class Self>
caf::behavior gather_behavior(Self* self, std::string what,
                              std::shared_ptr<const call_policies> policies,
                              std::vector<std::string> addrs,
                              std::chrono::steady_clock::duration until_deadline) {
  auto& st = self->state;
  st.what = std::move(what);
  st.policies = std::move(policies);
  st.servers = addrs.size();
  st.waiting.insert(addrs.begin(), addrs.end());
  self->delayed_send(self, until_deadline, deadline_atom::value);
  return {
    [=](gather_atom) -> caf::result<cluster_reply> {
      auto& st = self->state;
      st.rp = self->template make_response_promise<cluster_reply>();
      st.started = true;
      auto rp = st.rp;
      settle(self);
      return rp;
    },
    [=](std::string& addr, call_reply& rep) {
      auto& st = self->state;
      if (st.waiting.erase(addr) == 0)
        return;
      if (rep.err)
        st.failures.push_back({addr, std::move(rep.err)});
      else
        st.successes.push_back({addr, std::move(rep)});
      settle(self);
    },
    [=](std::string& addr, caf::error& err) {
      auto& st = self->state;
      if (st.waiting.erase(addr) == 0)
        return;
      st.failures.push_back({addr, std::move(err)});
      settle(self);
    },
    [=](deadline_atom) {
      auto& st = self->state;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(st.policies->timeout);
      for (auto& addr : st.waiting)
        st.failures.push_back(
          {addr, make_error(sc::timeout, st.what + " on " + addr + ": no reply within "
                                           + std::to_string(ms.count()) + " ms")});
      st.waiting.clear();
      settle(self);
    },
  };
}

} // namespace

caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, std::string what,
                           std::shared_ptr<const call_policies> policies,
                           std::vector<std::string> addrs,
                           std::chrono::steady_clock::duration until_deadline) {
  return gather_behavior(self, std::move(what), std::move(policies), std::move(addrs),
                         until_deadline);
}

caf::behavior gather_broker(caf::stateful_actor<gather_state, caf::io::broker>* self,
                            std::string what, std::shared_ptr<const call_policies> policies,
                            std::vector<std::string> addrs,
                            std::chrono::steady_clock::duration until_deadline) {
  return gather_behavior(self, std::move(what), std::move(policies), std::move(addrs),
                         until_deadline);
}

} // namespace slacker
