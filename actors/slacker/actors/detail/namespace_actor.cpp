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

caf::error refusal_error(const std::string& what, job_refusal why) {
  switch (why) {
    case job_refusal::queue_full:
      return make_error(sc::overloaded, what + ": worker queue is full");
    case job_refusal::bytes_full:
      return make_error(sc::overloaded,
                        what + ": the calls waiting for a worker hold the "
                               "whole byte budget (slacker.worker-queue-bytes)");
    case job_refusal::slow_queue:
      return make_error(
          sc::overloaded,
          what + ": calls wait too long for a worker (slacker.worker-queue-wait)");
    case job_refusal::stopped:
      return make_error(sc::draining, what + " was not run: the server is stopping");
    case job_refusal::gone:
      return make_error(sc::canceled, what + " was not run: its caller went away");
    case job_refusal::expired:
      return make_error(sc::canceled,
                        what + ": deadline passed while the call waited for a worker");
    case job_refusal::none:
      break;
  }
  return {};
}

namespace {

/// The flag that says the sender of the current message went away (its
/// connection closed): set by the down handler, read by the pool.
template <class Self>
std::shared_ptr<std::atomic<bool>> caller_gone(Self* self, namespace_state& st) {
  auto& sender = self->current_sender();
  if (!sender)
    return nullptr;
  auto addr = caf::actor_cast<caf::actor_addr>(sender);
  auto i = st.callers.find(addr);
  if (i == st.callers.end()) {
    self->monitor(caf::actor_cast<caf::actor>(sender));
    i = st.callers.emplace(addr, std::make_shared<std::atomic<bool>>(false)).first;
  }
  return i->second;
}

template <class Self>
namespace_internal_type::behavior_type
namespace_behavior(Self* self, std::shared_ptr<const ns> functions,
                   std::shared_ptr<worker_pool> pool,
                   std::shared_ptr<worker_pool> operator_pool) {
  // The state lives as long as the behavior's handlers, which share it.
  auto state = std::make_shared<namespace_state>();
  state->functions = std::move(functions);
  state->pool = std::move(pool);
  state->operator_pool = operator_pool ? std::move(operator_pool) : state->pool;
  self->set_down_handler([state](caf::down_msg& dm) {
    auto& st = *state;
    auto i = st.callers.find(dm.source);
    if (i == st.callers.end())
      return;
    i->second->store(true, std::memory_order_relaxed);
    st.callers.erase(i);
    // What its calls held in the queues goes now.
    st.pool->purge();
    if (st.operator_pool != st.pool)
      st.operator_pool->purge();
  });
  return {
      [self, state](call_request& req) -> caf::result<call_reply> {
        auto& st = *state;
        auto i = st.functions->functions().find(req.fn);
        if (i == st.functions->functions().end() || !i->second.info.blocking)
          return run_call(*st.functions, req);
        auto& pool = i->second.operator_lane ? *st.operator_pool : *st.pool;
        auto key = st.next_job++;
        auto me = caf::actor_cast<caf::actor>(self);
        auto what = st.functions->name() + "/" + req.fn;
        auto shell = error_reply(req, caf::error{}); // id, codec, extensions
        pool_job job;
        job.bytes = req.args.size();
        job.deadline_ns = req.deadline_ns;
        job.gone = caller_gone(self, st);
        job.drop = [me, key, what, shell](job_refusal why) mutable {
          shell.err = refusal_error(what, why);
          caf::anon_send(me, job_done_atom::value, key, std::move(shell));
        };
        job.run = [fns = st.functions, req = std::move(req), key, me]() mutable {
          auto rep = run_call(*fns, req);
          worker_pool::answering();
          caf::anon_send(me, job_done_atom::value, key, std::move(rep));
        };
        auto why = pool.submit(std::move(job));
        if (why != job_refusal::none) {
          shell.err = refusal_error(what, why);
          return shell;
        }
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
                std::shared_ptr<const ns> functions, std::shared_ptr<worker_pool> pool,
                std::shared_ptr<worker_pool> operator_pool) {
  return namespace_behavior(self, std::move(functions), std::move(pool),
                            std::move(operator_pool));
}

namespace_internal_type::behavior_type
namespace_broker(namespace_broker_type* self, std::shared_ptr<const ns> functions,
                 std::shared_ptr<worker_pool> pool,
                 std::shared_ptr<worker_pool> operator_pool) {
  return namespace_behavior(self, std::move(functions), std::move(pool),
                            std::move(operator_pool));
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
