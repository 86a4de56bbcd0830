#include "slacker/actors/detail/namespace_actor.hpp"

#include <chrono>

#include <caf/actor_cast.hpp>
#include <caf/io/broker.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"

namespace slacker {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

call_reply reply_to(const call_request& req) {
  call_reply rep;
  rep.id = req.id;
  rep.codec = req.codec;
  rep.ext = req.ext;
  return rep;
}

} // namespace

call_reply run_call(const ns& functions, call_request& req) {
  auto i = functions.functions().find(req.fn);
  if (i == functions.functions().end())
    return error_reply(req, make_error(sc::not_found, "no function " + excerpt(req.fn) +
                                                          " in namespace " +
                                                          functions.name()));
  if (req.deadline_ns != 0 && now_ns() > req.deadline_ns)
    return error_reply(
        req, make_error(sc::canceled, functions.name() + "/" + req.fn +
                                          ": deadline passed before the call ran"));
  auto result = i->second.invoke(req.codec, req.args);
  if (!result)
    return error_reply(req, std::move(result.error()));
  auto rep = reply_to(req);
  rep.result = std::move(*result);
  return rep;
}

void log_call(const std::string& ns, const std::string& fn, const std::string& caller,
              std::chrono::steady_clock::time_point start, const call_reply& rep) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  // Names and error texts come from the wire: escaped, bounded.
  spdlog::info("call {}/{} from {} took {} us: {}", printable(ns), printable(fn), caller,
               us, rep.err ? printable(describe(rep.err), 400) : std::string{"ok"});
}

namespace {

template <class Self>
namespace_internal_type::behavior_type
namespace_behavior(Self* self, std::shared_ptr<const ns> functions,
                   std::shared_ptr<worker_pool> pool) {
  // The state lives as long as the behavior's handlers, which share it.
  auto state = std::make_shared<namespace_state>();
  state->functions = std::move(functions);
  state->pool = std::move(pool);
  return {
      [self, state](call_request& req) -> caf::result<call_reply> {
        auto& st = *state;
        auto i = st.functions->functions().find(req.fn);
        if (i == st.functions->functions().end() || !i->second.info.blocking)
          return run_call(*st.functions, req);
        auto key = st.next_job++;
        auto busy = error_reply(
            req, make_error(sc::overloaded, st.functions->name() + "/" + req.fn +
                                                ": worker queue is full"));
        auto job = [fns = st.functions, req = std::move(req), key,
                    me = caf::actor_cast<caf::actor>(self)]() mutable {
          auto rep = run_call(*fns, req);
          caf::anon_send(me, job_done_atom::value, key, std::move(rep));
        };
        if (!st.pool->try_submit(std::move(job)))
          return busy;
        auto rp = self->template make_response_promise<call_reply>();
        st.running.emplace(key, rp);
        return rp;
      },
      [self, state](job_done_atom, uint64_t key, call_reply& rep) {
        auto& st = *state;
        auto i = st.running.find(key);
        if (i == st.running.end())
          return;
        i->second.deliver(std::move(rep));
        st.running.erase(i);
        if (st.running.empty()) {
          for (auto& d : st.drains)
            d.deliver(true);
          st.drains.clear();
        }
      },
      [self, state](drain_atom) -> caf::result<bool> {
        if (state->running.empty())
          return true;
        auto rp = self->template make_response_promise<bool>();
        state->drains.push_back(rp);
        return rp;
      },
  };
}

} // namespace

namespace_internal_type::behavior_type
namespace_actor(namespace_internal_type::pointer self,
                std::shared_ptr<const ns> functions, std::shared_ptr<worker_pool> pool) {
  return namespace_behavior(self, std::move(functions), std::move(pool));
}

namespace_internal_type::behavior_type
namespace_broker(namespace_broker_type* self, std::shared_ptr<const ns> functions,
                 std::shared_ptr<worker_pool> pool) {
  return namespace_behavior(self, std::move(functions), std::move(pool));
}

} // namespace slacker

namespace slacker {

std::vector<function_info> ns::infos() const {
  std::vector<function_info> result;
  for (auto& kvp : functions_)
    result.push_back(kvp.second.info);
  return result;
}

} // namespace slacker
