#include "slacker/actors/detail/caller_path.hpp"

#include <chrono>

#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/detail/accrual.hpp"
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
/// it), a connection that failed (`conn_down`) and, when a grouping wants
/// it, the call's outcome. `how`: how the call went on the lane.
void tell(route_board& board, route_server& s, const cluster_call& call,
          const caf::error& err, const blocking_lane::attempt& how, bool probe,
          std::chrono::microseconds took, const caf::actor& dispatcher) {
  if (how.answered) {
    if (accrual::answered(*s.health, board.accrual, probe, took, code_of(err),
                          s.lane->options().overload_backoff))
      caf::anon_send(dispatcher, conn_up_atom::value, s.addr);
  } else if (how.connect_cut_short) {
    // Slow to accept, not gone (the lane marked it unheard): its connection
    // broker finds out, as after its own slow connect. It connects, or
    // pings an open connection, and reports the server down if that fails.
    caf::anon_send(s.conn, caf::connect_atom::value);
  } else if (code_of(err) == sc::connection_broken ||
             code_of(err) == sc::outcome_unknown) {
    // Unreachable, gone, or silent: out of routing until its broker connects
    // again, as when the broker's own connection drops.
    caf::anon_send(dispatcher, conn_down_atom::value, s.addr);
  } else if (code_of(err) == sc::timeout &&
             accrual::timed_out(*s.health, board.accrual)) {
    spdlog::warn("slacker: {} did not answer {} calls in a row; routing around it",
                 s.addr, board.accrual);
    caf::anon_send(dispatcher, suspect_atom::value, s.addr);
  }
  if (board.feedback->load(std::memory_order_relaxed))
    caf::anon_send(dispatcher, call_feedback{call.req.ns, s.addr, took, !err});
}

/// The start of one call to server `s`: counted in flight. True when it is
/// a probe (the server is suspect).
bool count_in(route_board& board, route_server& s) {
  board.calls.fetch_add(1, std::memory_order_relaxed);
  s.in_flight->fetch_add(1, std::memory_order_relaxed);
  if (s.counts)
    s.counts->in_flight.fetch_add(1, std::memory_order_relaxed);
  return accrual::suspect(*s.health, board.accrual);
}

/// The end of one call to server `s` after `took`, with `err` (none:
/// success); `ended`: false when it was let go unfinished.
void count_out(route_server& s, std::chrono::microseconds took, const caf::error& err,
               bool ended = true) {
  s.in_flight->fetch_sub(1, std::memory_order_relaxed);
  if (!s.counts)
    return;
  s.counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (ended)
    s.counts->record(static_cast<uint64_t>(took.count()), err);
}

/// A call to every server of `e` (`all`), sent to all of them from the
/// calling thread and aggregated as their answers arrive, as a gather does.
caller_outcome fan_out(route_board& board, cluster_call& call, const route_entry& e,
                       const caf::actor& dispatcher) {
  caller_outcome out;
  std::vector<route_server*> servers;
  std::vector<blocking_lane::fan_call> calls;
  for (auto& link : e.servers) {
    if (!link->lane)
      return out;
    servers.push_back(link.get());
    calls.push_back({link->lane.get(), caf::error{}, {}});
    calls.back().how.timeout = call.policies->timeout;
  }
  aggregator agg{call.req.ns + "/" + call.req.fn, call.policies, grouping::all(e.view)};
  std::vector<bool> ended(servers.size(), false);
  std::vector<bool> probes;
  for (auto s : servers)
    probes.push_back(count_in(board, *s));
  auto started = clock::now();
  blocking_lane::call_all(call.req, calls, [&](size_t i) {
    auto& s = *servers[i];
    auto took =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
    auto& res = calls[i].result;
    caf::error err = res ? res->err : res.error();
    ended[i] = true;
    count_out(s, took, err);
    tell(board, s, call, err, calls[i].how, probes[i], took, dispatcher);
    return res ? agg.add(s.addr, std::move(*res)) : agg.fail(s.addr, std::move(err));
  });
  for (size_t i = 0; i < servers.size(); ++i)
    if (!ended[i])
      count_out(*servers[i], {}, {}, false);
  if (!agg.decided())
    agg.expire();
  out.what = caller_outcome::kind::done;
  out.result = agg.result();
  return out;
}

/// The routes of `call`'s namespace when the caller may choose its servers
/// (`kind`: the grouping), with `call.idempotent` set; null when the
/// dispatcher must route it.
const route_entry* choosable(const route_table& table, cluster_call& call,
                             grouping_kind& kind) {
  auto& policies = *call.policies;
  if (!call.tried.empty() || !builtin(policies.grouping, kind) || !table.open)
    return nullptr;
  auto i = table.namespaces.find(call.req.ns);
  if (i == table.namespaces.end() || !i->second.direct)
    return nullptr;
  auto& e = i->second;
  call.idempotent = policies.idempotent || e.idempotent.count(call.req.fn) > 0;
  if (call.idempotent && policies.hedge_after.count() > 0)
    return nullptr; // the dispatcher hedges
  return &e;
}

} // namespace

fan_out_call::fan_out_call(cluster_call call,
                           std::vector<std::shared_ptr<route_server>> servers)
  : call_(std::move(call)), servers_(std::move(servers)) {
  std::vector<std::string> addrs;
  for (auto& s : servers_)
    addrs.push_back(s->addr);
  agg_ = std::make_unique<aggregator>(call_.req.ns + "/" + call_.req.fn, call_.policies,
                                      std::move(addrs));
}

fan_out_call::~fan_out_call() = default;

caf::actor fan_out_call::conn(size_t i) const {
  return caf::actor_cast<caf::actor>(servers_[i]->conn);
}

call_request fan_out_call::request(size_t i) const {
  auto req = call_.req;
  req.id = i;
  return req;
}

std::optional<caf::expected<cluster_reply>>
fan_out_call::answer(size_t i, caf::expected<call_reply> rep) {
  if (done_)
    return std::nullopt;
  auto& addr = servers_[i]->addr;
  auto decided = rep ? agg_->add(addr, std::move(*rep)) : agg_->fail(addr, rep.error());
  if (!decided)
    return std::nullopt;
  done_ = true;
  return agg_->result();
}

bool fan_out_call::runs_user_code() const noexcept {
  auto& p = *call_.policies;
  return std::holds_alternative<results_fn>(p.results) ||
         std::holds_alternative<exceptions_fn>(p.exceptions) ||
         std::holds_alternative<decide_fn>(p.exceptions);
}

void fan_out_call::take(caf::response_promise rp) {
  rp_ = std::move(rp);
  taken_.store(true, std::memory_order_release);
}

void fan_out_call::answer_taken(size_t i, caf::expected<call_reply> rep) {
  auto res = answer(i, std::move(rep));
  if (!res)
    return;
  if (*res)
    rp_.deliver(std::move(**res));
  else
    rp_.deliver(std::move(res->error()));
}

actor_route route_for_actor(route_board& board, cluster_call& call,
                            const caf::actor& dispatcher, bool fan_out) {
  // The dispatcher's handle is copied only when the call goes there (a
  // count of references moved on every call otherwise).
  actor_route out;
  grouping_kind kind;
  // This thread's copy of the table: no reference counted on the way.
  const auto& table = board.read();
  auto e = choosable(*table, call, kind);
  if (!e || (!fan_out && kind == grouping_kind::all)) {
    out.to = dispatcher;
    return out;
  }
  auto chosen = pick_index(*e, kind, board);
  auto sent = [&](route_server& s) { // its broker counts the call out
    board.calls.fetch_add(1, std::memory_order_relaxed);
    s.in_flight->fetch_add(1, std::memory_order_relaxed);
  };
  if (chosen.one) { // one server: straight to its broker
    auto& s = *e->servers[*chosen.one];
    sent(s);
    out.conn = &s.conn; // valid until this thread's next read of the board
    if (auto shape = aggregator::success_shape(*call.policies);
        shape && *shape != reply_shape::map)
      out.raw = shape;
    return out;
  }
  if (!chosen.every) {
    out.to = dispatcher; // it answers: the unavailable value, or an error
    return out;
  }
  for (auto& s : e->servers)
    sent(*s);
  out.fan = std::make_shared<fan_out_call>(std::move(call), e->servers);
  return out;
}

caller_outcome call_on_routes(route_board& board, cluster_call& call,
                              const caf::actor& dispatcher) {
  caller_outcome out;
  grouping_kind kind;
  auto table = board.read();
  auto found = choosable(*table, call, kind);
  if (!found)
    return out;
  auto& e = *found;
  auto chosen = pick_index(e, kind, board);
  if (chosen.every)
    return fan_out(board, call, e, dispatcher);
  if (!chosen.one)
    return out; // the dispatcher answers: the unavailable value, or an error
  auto& s = *e.servers[*chosen.one];
  if (!s.lane)
    return out;
  auto probe = count_in(board, s);
  auto started = clock::now();
  blocking_lane::attempt how;
  how.timeout = call.policies->timeout;
  auto rep = s.lane->call(call.req, &how);
  auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
  caf::error err = rep ? rep->err : rep.error();
  count_out(s, took, err);
  tell(board, s, call, err, how, probe, took, dispatcher);
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
  out.result =
      aggregator::one(call_name{call.req}, call.policies, s.addr, std::move(reply));
  return out;
}

} // namespace slacker
