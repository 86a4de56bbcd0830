#include "slacker/actors/detail/caller_path.hpp"

#include <chrono>

#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/detail/blocking_lane.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/aggregator.hpp"
#include "slacker/policy/retry.hpp"
#include "slacker/runtime/detail/metrics.hpp"

namespace slacker {

namespace {

using clock = std::chrono::steady_clock;

/// The built-in grouping of `policy`; false for a user or named one.
bool builtin(const grouping_policy& policy, grouping_kind& kind) {
  if (auto k = std::get_if<grouping_kind>(&policy)) {
    kind = *k;
    return true;
  }
  if (auto fn = std::get_if<grouping_fn>(&policy); fn && !*fn) {
    kind = grouping_kind::random; // no function: the default
    return true;
  }
  return false;
}

/// What the connection broker tells its dispatcher after a call: failure
/// accrual (timeouts in a row make the server suspect, an answer clears
/// it) and, when a grouping wants it, the call's outcome.
void tell(route_board& board, route_server& s, const cluster_call& call,
          const caf::error& err, bool answered, std::chrono::microseconds took,
          const caf::actor& dispatcher) {
  if (answered) {
    if (s.timeouts_in_row->exchange(0, std::memory_order_relaxed) >= board.accrual)
      caf::anon_send(dispatcher, conn_up_atom::value, s.addr);
  } else if (code_of(err) == sc::timeout &&
             s.timeouts_in_row->fetch_add(1, std::memory_order_relaxed) + 1 ==
                 board.accrual) {
    spdlog::warn("slacker: {} did not answer {} calls in a row; routing around it",
                 s.addr, board.accrual);
    caf::anon_send(dispatcher, suspect_atom::value, s.addr);
  }
  if (board.feedback->load(std::memory_order_relaxed))
    caf::anon_send(dispatcher, call_feedback{call.req.ns, s.addr, took, !err});
}

} // namespace

caller_outcome call_on_routes(route_board& board, cluster_call& call,
                              const caf::actor& dispatcher) {
  caller_outcome out;
  auto& policies = *call.policies;
  grouping_kind kind;
  if (!call.tried.empty() || !builtin(policies.grouping, kind))
    return out;
  auto table = board.read();
  if (!table->open)
    return out;
  auto i = table->namespaces.find(call.req.ns);
  if (i == table->namespaces.end() || !i->second.direct)
    return out;
  auto& e = i->second;
  call.idempotent = policies.idempotent || e.idempotent.count(call.req.fn) > 0;
  if (call.idempotent && policies.hedge_after.count() > 0)
    return out; // the dispatcher hedges
  auto chosen = pick_route(e, kind, board);
  if (chosen.size() != 1)
    return out;
  auto link = route_of(e, chosen.front());
  if (!link || !(*link)->lane)
    return out;
  auto& s = **link;
  board.calls.fetch_add(1, std::memory_order_relaxed);
  s.in_flight->fetch_add(1, std::memory_order_relaxed);
  if (s.counts)
    s.counts->in_flight.fetch_add(1, std::memory_order_relaxed);
  auto started = clock::now();
  blocking_lane::attempt how;
  auto rep = s.lane->call(call.req, &how);
  auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
  s.in_flight->fetch_sub(1, std::memory_order_relaxed);
  caf::error err = rep ? rep->err : rep.error();
  if (s.counts) {
    s.counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
    s.counts->record(static_cast<uint64_t>(took.count()), err);
  }
  tell(board, s, call, err, how.answered, took, dispatcher);
  if (err) {
    auto v = retry::after({code_of(err), how.sent, how.answered, call.idempotent});
    if (v != retry::verdict::stop) {
      call.tried.push_back(s.addr);
      out.what = caller_outcome::kind::resend;
      out.cause = std::move(err);
      out.charged = v == retry::verdict::charged;
      return out;
    }
  }
  call_reply reply;
  if (rep) {
    reply = std::move(*rep);
  } else {
    reply.codec = call.req.codec;
    reply.err = std::move(err);
  }
  out.what = caller_outcome::kind::done;
  out.result = aggregator::one(call.req.ns + "/" + call.req.fn, call.policies, s.addr,
                               std::move(reply));
  return out;
}

} // namespace slacker
