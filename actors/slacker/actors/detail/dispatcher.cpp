#include "slacker/actors/detail/dispatcher.hpp"
#include "slacker/runtime/config.hpp"

#include <algorithm>
#include <cstdio>

#include <caf/actor_system_config.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/ask.hpp"
#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/blocking_lane.hpp"
#include "slacker/actors/detail/gather.hpp"
#include "slacker/actors/detail/hedge.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/aggregator.hpp"
#include "slacker/runtime/detail/metrics.hpp"

namespace slacker {

namespace {

using clock = dispatcher_state::clock;

constexpr auto sweep_interval = std::chrono::milliseconds{500};

/// The connection broker of server `addr`, spawned on first use; null when
/// `addr` is not `host:port`.
template <class Self>
dispatcher_state::link* link_of(Self* self, const std::string& addr) {
  auto& st = self->state;
  if (auto i = st.links.find(addr); i != st.links.end())
    return &i->second;
  link_hooks hooks{caf::actor_cast<caf::actor>(self),
                   std::make_shared<in_flight_count>(),
                   metrics::enabled() ? metrics::peer(st.cluster, addr) : nullptr,
                   st.feedback,
                   std::make_shared<accrual::health>(),
                   st.detect,
                   st.cluster};
  auto conn = st.connect(self->home_system(), addr, hooks);
  if (!conn)
    return nullptr;    // not host:port
  self->link_to(conn); // connection brokers end with their dispatcher
  auto route = std::make_shared<route_server>();
  route->addr = addr;
  route->conn = caf::actor_cast<connection_actor_type>(conn);
  route->in_flight = hooks.in_flight;
  route->health = hooks.health;
  route->counts = hooks.counts;
  std::string host;
  uint16_t port = 0;
  if (st.lane_opts && split_address(addr, host, port))
    route->lane = std::make_shared<blocking_lane>(std::move(host), port, *st.lane_opts,
                                                  st.cluster, hooks.health);
  return &st.links
              .emplace(addr, dispatcher_state::link{route->conn, hooks.in_flight, route})
              .first->second;
}

/// Publishes the routes callers read (routes.hpp): the candidates of each
/// namespace this client called, once its declarations are known, with the
/// links to their servers. Called after every change of what it holds.
template <class Self> membership_view view_of(Self* self);

template <class Self> void publish(Self* self) {
  auto& st = self->state;
  if (!st.board)
    return;
  if (metrics::enabled()) // the status portal reads it (route_board::view)
    st.board->publish_view(std::make_shared<const route_board::seen>(
        route_board::seen{view_of(self), st.current_at}));
  auto t = std::make_shared<route_table>();
  t->open = st.ready && st.status == registry_status::connected;
  for (auto& ns : st.declared) {
    auto c = st.candidates.find(ns);
    if (c == st.candidates.end())
      continue;
    auto& e = t->namespaces[ns];
    e.view = c->second;
    e.idempotent = st.idempotent_fns[ns];
    e.direct = true;
    for (auto& s : e.view.servers) {
      auto l = link_of(self, s.addr);
      if (!l) {
        e.direct = false;
        break;
      }
      e.servers.push_back(l->route);
    }
    // A suspect server waits for its probe, which the dispatcher sends.
    if (auto p = st.namespaces.find(ns); p != st.namespaces.end())
      for (auto& kvp : st.suspects)
        if (p->second.count(kvp.first) > 0)
          e.direct = false;
  }
  st.board->publish(std::move(t));
}

/// Counts the calls that callers sent themselves into the retry budget.
template <class Self> void take_deposits(Self* self, clock::time_point now) {
  auto& st = self->state;
  if (st.board)
    if (auto n = st.board->calls.exchange(0, std::memory_order_relaxed); n > 0)
      st.budget.deposit(now, n);
}

/// Lets the connection broker of a server that left answer what is in
/// flight there, then end.
template <class Self> void drop_link(Self* self, const std::string& addr) {
  auto& links = self->state.links;
  if (auto i = links.find(addr); i != links.end()) {
    if (i->second.route->lane)
      i->second.route->lane->close();
    self->unlink_from(i->second.conn);
    caf::anon_send(i->second.conn, retire_atom::value);
    links.erase(i);
  }
}

/// The candidates of `ns` from scratch: members providing it that are
/// neither broken nor suspect, with their weights.
void refill(dispatcher_state& st, grouping_view& view, const std::string& ns,
            const std::set<std::string>& providers) {
  view.ns = ns;
  view.servers.clear();
  if (auto l = st.leaders.find(ns); l != st.leaders.end())
    view.leader = l->second;
  else
    view.leader.clear();
  for (auto& addr : providers) {
    auto s = st.servers.find(addr);
    if (s == st.servers.end() || st.broken.count(addr) > 0 || st.suspects.count(addr) > 0)
      continue;
    view.servers.push_back({addr, s->second, 0, grouping::weight_of(s->second)});
  }
  // The aperture: `width` servers from this client's place on the ring.
  auto n = view.servers.size();
  auto w = st.aperture;
  if (auto i = st.widths.find(ns); i != st.widths.end())
    w = std::max(w, i->second);
  view.width = st.aperture == 0 || w >= n ? 0 : w;
  view.start =
      view.width == 0
          ? 0
          : std::min(n - 1, static_cast<size_t>(st.coordinate * static_cast<double>(n)));
}

/// Rebuilds the candidates of `ns` (after an event that touched them).
template <class Self> void refresh(Self* self, const std::string& ns) {
  auto& st = self->state;
  auto i = st.namespaces.find(ns);
  if (i == st.namespaces.end()) {
    if (st.candidates.erase(ns) > 0)
      st.groupings.update(grouping_view{ns, {}, {}});
    return;
  }
  auto& view = st.candidates[ns];
  refill(st, view, ns, i->second);
  st.groupings.update(view);
}

/// Rebuilds the candidates of every namespace `addr` provides.
template <class Self> void refresh_server(Self* self, const std::string& addr) {
  auto& st = self->state;
  for (auto& [ns, addrs] : st.namespaces)
    if (addrs.count(addr) > 0)
      refresh(self, ns);
  publish(self);
  if (metrics::enabled()) // routable: a member, reachable, not suspect
    metrics::peer(st.cluster, addr)
        ->routable.store(st.servers.count(addr) > 0 && st.broken.count(addr) == 0 &&
                             st.suspects.count(addr) == 0,
                         std::memory_order_relaxed);
}

template <class Self> void refresh_all(Self* self) {
  auto& st = self->state;
  for (auto& kvp : st.candidates)
    if (st.namespaces.count(kvp.first) == 0)
      st.groupings.update(grouping_view{kvp.first, {}, {}});
  st.candidates.clear();
  for (auto& kvp : st.namespaces)
    refresh(self, kvp.first);
  publish(self);
  if (metrics::enabled())
    for (auto& kvp : st.servers)
      metrics::peer(st.cluster, kvp.first)
          ->routable.store(st.broken.count(kvp.first) == 0 &&
                               st.suspects.count(kvp.first) == 0,
                           std::memory_order_relaxed);
}

/// The candidates of `ns`, with their calls in flight when the grouping
/// looks at them.
template <class Self>
const grouping_view& candidates_of(Self* self, const std::string& ns,
                                   const grouping_policy& grouping) {
  static const grouping_view none;
  auto& st = self->state;
  auto i = st.candidates.find(ns);
  if (i == st.candidates.end())
    return none;
  if (st.groupings.reads_in_flight(grouping))
    for (auto& c : i->second.servers) {
      auto l = st.links.find(c.addr);
      c.in_flight = l == st.links.end() ? 0 : l->second.in_flight->load();
    }
  return i->second;
}

/// Where a call goes: its answer now, or the actor to delegate it to (the
/// server's connection broker, or a gather that waits for the brokers).
struct route {
  caf::actor to;
  bool gather = false;
  caf::expected<cluster_reply> now{caf::error{}};
};

/// What this client knows of the cluster.
template <class Self> membership_view view_of(Self* self) {
  auto& st = self->state;
  membership_view view;
  view.servers = st.servers;
  view.namespaces = st.namespaces;
  view.leaders = st.leaders;
  view.tokens = st.tokens;
  view.leaving = st.leaving;
  view.state.status = st.status;
  view.state.view_age_ms = st.status == registry_status::connected
                               ? 0
                               : std::chrono::duration_cast<std::chrono::milliseconds>(
                                     dispatcher_state::clock::now() - st.current_at)
                                     .count();
  return view;
}

/// Tells this client's subscribers `event`; forgets those that are gone.
template <class Self, class T> void tell_subscribers(Self* self, const T& event) {
  auto& subs = self->state.subscribers;
  subs.erase(std::remove_if(subs.begin(), subs.end(),
                            [&](const caf::weak_actor_ptr& w) {
                              auto sub = caf::actor_cast<caf::actor>(w);
                              if (!sub)
                                return true;
                              caf::anon_send(sub, event);
                              return false;
                            }),
             subs.end());
  if (subs.empty())
    self->state.detect->store(false); // nobody watches: idle connections rest
}

/// Whether this client routes to `addr` as far as its failure detector is
/// concerned (no broken connection, not suspect).
template <class Self> bool reachable(Self* self, const std::string& addr) {
  auto& st = self->state;
  return st.broken.count(addr) == 0 && st.suspects.count(addr) == 0;
}

/// After a change that may have made `addr` (un)reachable (`was`: before
/// it): tells the subscribers, for members that are not leaving.
template <class Self>
void reach_changed(Self* self, const std::string& addr, bool was, const char* why) {
  auto& st = self->state;
  auto now = reachable(self, addr);
  if (now == was || st.servers.count(addr) == 0 || st.leaving.count(addr) > 0)
    return;
  if (now)
    tell_subscribers(self, member_reachable{addr});
  else
    tell_subscribers(self, member_unreachable{addr, why});
}

/// `addr` is leaving (its going-away, a `draining` answer, or the
/// registry): out of routing, told once.
template <class Self> void mark_leaving(Self* self, const std::string& addr) {
  auto& st = self->state;
  if (st.servers.count(addr) == 0 || !st.leaving.insert(addr).second)
    return;
  st.broken.insert(addr);
  refresh_server(self, addr);
  tell_subscribers(self, member_leaving{addr});
}

/// How many servers may be out of routing for timeouts or slowness at once
/// (`slacker.max-ejected` of the members, at least one); servers whose
/// connection broke do not count.
size_t ejection_cap(const dispatcher_state& st) {
  return std::max<size_t>(
      1, static_cast<size_t>(st.max_ejected * static_cast<double>(st.servers.size())));
}

/// Takes `addr` out of routing (failure accrual or slowness, `why`) until a
/// probe's answer re-admits it; false when the cap keeps it in.
template <class Self>
bool eject(Self* self, const std::string& addr, bool slow, const std::string& why) {
  auto& st = self->state;
  if (st.servers.count(addr) == 0 || st.suspects.count(addr) > 0)
    return false;
  auto link = st.links.find(addr);
  if (st.suspects.size() >= ejection_cap(st)) {
    spdlog::warn("slacker: {} stays in routing although {}: {} of {} servers are out "
                 "already (slacker.max-ejected {})",
                 addr, why, st.suspects.size(), st.servers.size(), st.max_ejected);
    if (link != st.links.end())
      accrual::keep(*link->second.route->health); // counted again from zero
    return false;
  }
  spdlog::warn("slacker: {} is out of routing: {}; probing it after 1 s", addr, why);
  auto was = reachable(self, addr);
  auto backoff = std::chrono::duration_cast<clock::duration>(std::chrono::seconds{1});
  st.suspects[addr] = {self->clock().now() + backoff, backoff, slow};
  if (link != st.links.end())
    if (auto& c = link->second.route->counts)
      (slow ? c->ejected_slow : c->ejected_timeouts)
          .fetch_add(1, std::memory_order_relaxed);
  reach_changed(self, addr, was, why.c_str());
  refresh_server(self, addr);
  return true;
}

/// Outlier detection by latency, once per sweep: each server's mean latency
/// over the calls answered since the last sweep, against the (lower) median
/// of the other servers of a namespace they share (at least two others with
/// answers). Slower than `outlier_factor` times that and than
/// `outlier_floor` in two windows in a row: out of routing, re-admitted by
/// a probe answered within that bound.
template <class Self> void judge_latency(Self* self) {
  auto& st = self->state;
  constexpr uint64_t min_answers = 3; // fewer in a window: not judged
  std::map<std::string, double> mean; // microseconds
  for (auto& [addr, l] : st.links) {
    auto& h = *l.route->health;
    auto n = h.answers.exchange(0, std::memory_order_relaxed);
    auto us = h.answer_us.exchange(0, std::memory_order_relaxed);
    if (n >= min_answers && st.suspects.count(addr) == 0 && st.broken.count(addr) == 0)
      mean[addr] = static_cast<double>(us) / static_cast<double>(n);
  }
  if (st.outlier_factor <= 0 || mean.size() < 3)
    return;
  auto floor_us = static_cast<double>(
      std::chrono::duration_cast<std::chrono::microseconds>(st.outlier_floor).count());
  std::map<std::string, double> judged; // addr -> the bound it is judged by
  std::map<std::string, double> peers_of;
  for (auto& [ns, addrs] : st.namespaces) {
    std::vector<std::pair<std::string, double>> here;
    for (auto& addr : addrs)
      if (auto m = mean.find(addr); m != mean.end())
        here.emplace_back(addr, m->second);
    if (here.size() < 3)
      continue;
    for (auto& [addr, m] : here) {
      std::vector<double> others;
      for (auto& [other, om] : here)
        if (other != addr)
          others.push_back(om);
      auto mid = others.begin() + static_cast<std::ptrdiff_t>((others.size() - 1) / 2);
      std::nth_element(others.begin(), mid, others.end());
      auto bound = std::max(st.outlier_factor * *mid, floor_us);
      auto j = judged.find(addr);
      if (j == judged.end() || bound > j->second) { // the most lenient namespace
        judged[addr] = bound;
        peers_of[addr] = *mid;
      }
    }
  }
  for (auto& [addr, bound] : judged) {
    auto m = mean[addr];
    if (m <= bound) {
      st.slow_windows.erase(addr);
      continue;
    }
    if (++st.slow_windows[addr] < 2)
      continue;
    st.slow_windows.erase(addr);
    char why[160];
    std::snprintf(why, sizeof why,
                  "slow: its calls took %.1f ms on average, its peers' %.1f ms "
                  "(slacker.outlier-latency %.3g)",
                  m / 1000, peers_of[addr] / 1000, st.outlier_factor);
    auto link = st.links.find(addr);
    if (eject(self, addr, true, why) && link != st.links.end())
      accrual::eject_slow(*link->second.route->health, st.accrual,
                          std::chrono::microseconds{static_cast<int64_t>(bound)});
  }
}

/// A suspect server providing `ns` whose probe is due: this call probes it
/// (half-open), and the next probe waits twice as long (at most 10 s).
template <class Self>
std::optional<std::string> due_probe(Self* self, const std::string& ns,
                                     const std::vector<std::string>& tried) {
  auto& st = self->state;
  if (st.suspects.empty())
    return std::nullopt;
  auto now = self->clock().now();
  auto provides = st.namespaces.find(ns);
  if (provides == st.namespaces.end())
    return std::nullopt;
  for (auto& [addr, s] : st.suspects) {
    if (s.next_probe > now || provides->second.count(addr) == 0 ||
        st.broken.count(addr) > 0 ||
        std::find(tried.begin(), tried.end(), addr) != tried.end())
      continue;
    s.backoff = std::min<clock::duration>(s.backoff * 2, std::chrono::seconds{10});
    s.next_probe = now + s.backoff;
    return addr;
  }
  return std::nullopt;
}

/// Whether `call` may run twice: its policies say so, or its function is
/// declared idempotent on its servers. Learns the declarations of a
/// namespace from one of its servers on first use.
template <class Self>
bool idempotent(Self* self, const cluster_call& call, const connection_actor_type& conn) {
  auto& st = self->state;
  auto& req = call.req;
  auto i = st.idempotent_fns.find(req.ns);
  if (i == st.idempotent_fns.end()) {
    st.idempotent_fns.emplace(req.ns, std::set<std::string>{});
    self->request(conn, caf::infinite, inspect_atom::value, req.ns)
        .then(
            [self, ns = req.ns](std::vector<function_info>& fns) {
              auto& names = self->state.idempotent_fns[ns];
              for (auto& f : fns)
                if (f.idempotent)
                  names.insert(f.name);
              self->state.declared.insert(ns);
              publish(self); // callers may choose its servers themselves now
            },
            [self, ns = req.ns](caf::error&) {
              self->state.idempotent_fns.erase(ns); // asked again on the next call
              self->state.declared.erase(ns);
            });
    return call.policies->idempotent;
  }
  return call.policies->idempotent || i->second.count(req.fn) > 0;
}

template <class Self> route start(Self* self, cluster_call& call) {
  auto& st = self->state;
  auto& req = call.req;
  auto& policies = *call.policies;
  if (st.used.count(req.ns) == 0)
    st.used.insert(req.ns);
  auto& all = candidates_of(self, req.ns, policies.grouping);
  // A resent call goes to a server it has not been to, and not to one that a
  // call waits on without hearing from, or that sheds load, while another is
  // not so: after a silent server, the next may be cut off too (not known
  // broken yet).
  auto avoided = [&](const candidate& c) {
    auto l = st.links.find(c.addr);
    return l != st.links.end() && accrual::avoid(*l->second.route->health);
  };
  std::optional<grouping_view> others;
  if (!call.tried.empty()) {
    others = all;
    auto& xs = others->servers;
    xs.erase(std::remove_if(xs.begin(), xs.end(),
                            [&](const candidate& c) {
                              return std::find(call.tried.begin(), call.tried.end(),
                                               c.addr) != call.tried.end();
                            }),
             xs.end());
    if (!std::all_of(xs.begin(), xs.end(), avoided))
      xs.erase(std::remove_if(xs.begin(), xs.end(), avoided), xs.end());
  }
  auto& view = others ? *others : all;
  grouping_call gc{req.ns, req.fn, static_cast<uint8_t>(req.codec), req.args, view};
  auto selected = st.groupings.select(policies.grouping, gc);
  // A first attempt that picked such a server chooses again among the
  // others (as callers do on the routes, routes.cpp); the same server when
  // the grouping gives no other. Built-in groupings only: a user's function
  // runs once per call and sees every candidate.
  if (selected && selected->size() == 1 && call.tried.empty() &&
      std::holds_alternative<grouping_kind>(policies.grouping)) {
    auto l = st.links.find(selected->front());
    if (l != st.links.end() && accrual::avoid(*l->second.route->health)) {
      auto heard = view;
      auto& xs = heard.servers;
      xs.erase(std::remove_if(xs.begin(), xs.end(), avoided), xs.end());
      grouping_call again{req.ns, req.fn, static_cast<uint8_t>(req.codec), req.args,
                          heard};
      if (!xs.empty())
        if (auto other = st.groupings.select(policies.grouping, again);
            other && !other->empty())
          selected = std::move(other);
    }
  }
  if (st.groupings.wants_feedback())
    st.feedback->store(true, std::memory_order_relaxed);
  if (!selected)
    return {nullptr, false, std::move(selected.error())};
  auto& chosen = *selected;
  if (chosen.size() <= 1)
    if (auto probe = due_probe(self, req.ns, call.tried))
      chosen = {*probe};
  if (chosen.empty())
    return {nullptr, false,
            aggregator::none(req.ns + "/" + req.fn, "cluster " + st.cluster, policies,
                             req.ext)};
  if (chosen.size() == 1) {
    auto l = link_of(self, chosen.front());
    if (!l)
      return {nullptr, false,
              make_error(sc::invalid_request, "bad address " + chosen.front())};
    l->in_flight->fetch_add(1, std::memory_order_relaxed); // its broker counts it out
    call.idempotent = idempotent(self, call, l->conn);
    if (call.idempotent && policies.hedge_after.count() > 0 && call.tried.empty()) {
      auto h = self->spawn(hedge_actor, caf::actor_cast<caf::actor>(self),
                           caf::actor_cast<caf::actor>(l->conn), chosen.front(),
                           std::move(call));
      return {h, true, caf::error{}};
    }
    return {caf::actor_cast<caf::actor>(l->conn), false, caf::error{}};
  }
  // Learns the namespace's declarations (for the routes callers read).
  if (st.declared.count(req.ns) == 0)
    if (auto l = link_of(self, chosen.front()))
      idempotent(self, call, l->conn);
  auto what = req.ns + "/" + req.fn;
  auto gather = st.gathers_on_network_thread
                    ? self->home_system().middleman().spawn_broker(gather_broker, what,
                                                                   call.policies, chosen)
                    : self->spawn(gather_actor, what, call.policies, chosen);
  // Each broker answers the gather. The caller's request is delegated to the
  // gather after this, so answers may come first: the gather keeps them until
  // it has the request (`started`).
  for (size_t i = 0; i < chosen.size(); ++i) {
    auto copy = req;
    copy.id = i;
    if (auto l = link_of(self, chosen[i])) {
      l->in_flight->fetch_add(1, std::memory_order_relaxed);
      caf::send_as(gather, l->conn, std::move(copy));
    } else {
      call_reply rep;
      rep.id = i;
      rep.err = make_error(sc::invalid_request, "bad address " + chosen[i]);
      caf::anon_send(gather, std::move(rep));
    }
  }
  return {gather, true, caf::error{}};
}

/// A call waits (up to its deadline) rather than failing at once: before the
/// first view, and while the view is being rebuilt (ZooKeeper not connected)
/// when no server of its namespace is routable.
template <class Self> bool must_wait(Self* self, const cluster_call& call) {
  auto& st = self->state;
  if (!st.ready)
    return true;
  if (st.status == registry_status::connected)
    return false;
  auto i = st.candidates.find(call.req.ns);
  return i == st.candidates.end() || i->second.servers.empty();
}

/// Runs the waiting calls that need not wait any more.
template <class Self> void release_waiting(Self* self) {
  if (self->state.waiting.empty())
    return;
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& q : waiting) {
    if (must_wait(self, q.call)) {
      self->state.waiting.push_back(std::move(q));
      continue;
    }
    auto rp = q.rp;
    auto res = start(self, q.call);
    if (!res.to) {
      if (res.now)
        rp.deliver(std::move(*res.now));
      else
        rp.deliver(std::move(res.now.error()));
      continue;
    }
    auto ok = [rp](cluster_reply& r) mutable {
      rp.deliver(std::move(r));
    };
    auto fail = [rp](caf::error& e) mutable {
      rp.deliver(std::move(e));
    };
    if (res.gather)
      self->request(res.to, caf::infinite, gather_atom::value).then(ok, fail);
    else
      self->request(res.to, caf::infinite, std::move(q.call)).then(ok, fail);
  }
}

/// This client's place on the rings of servers, from its ZooKeeper session
/// id: a ZooKeeper server numbers its sessions one after the other, and
/// Fibonacci hashing turns consecutive numbers into places spread evenly
/// around the ring (each next one in the largest gap left), so clients that
/// start together, or in turn, share the servers out evenly, as Finagle's
/// deterministic aperture does with its clients' ordinals, with no write
/// and no list of clients.
double coordinate_of(int64_t session) {
  auto mixed = static_cast<uint64_t>(session) * 0x9E3779B97F4A7C15ULL;
  return static_cast<double>(mixed >> 11) / 9007199254740992.0; // / 2^53
}

/// Takes this client's place from its first ZooKeeper session (kept for its
/// life: a new session does not move it); true when it moved.
template <class Self> bool place(Self* self, const registry_state& x) {
  auto& st = self->state;
  if (st.placed || x.session == 0)
    return false;
  st.placed = true;
  st.coordinate = coordinate_of(x.session);
  return st.aperture > 0;
}

template <class Self> void set_ready(Self* self, const registry_state& x) {
  auto& st = self->state;
  st.status = x.status;
  // When the view was last known current, as the registry says.
  st.current_at = clock::now() - std::chrono::milliseconds{x.view_age_ms};
  if (x.status == registry_status::connected)
    st.ready = true;
  publish(self);
  release_waiting(self);
}

/// Connects (ahead of the calls) to a server of a namespace this client uses;
/// the broker says `conn_up` once it is connected.
template <class Self>
void warm_up(Self* self, const std::string& ns, const std::string& addr) {
  if (self->state.used.count(ns) == 0)
    return;
  if (auto l = link_of(self, addr))
    self->request(l->conn, caf::infinite, caf::connect_atom::value)
        .then([](bool) {}, [](caf::error&) {});
}

/// Widens the aperture of a namespace whose servers in it have more than
/// 2 calls of this client in flight each (to 1 each, at most every server),
/// narrows it by one when they have fewer than 0.5 (Finagle's load band).
template <class Self> void resize_apertures(Self* self) {
  auto& st = self->state;
  if (st.aperture == 0)
    return;
  std::vector<std::string> changed;
  for (auto& [ns, view] : st.candidates) {
    auto n = view.servers.size();
    auto now = view.choosable();
    if (n <= st.aperture || now == 0)
      continue;
    size_t load = 0;
    for (size_t i = 0; i < now; ++i)
      if (auto l = st.links.find(view.servers[view.nth(i)].addr); l != st.links.end())
        load += l->second.in_flight->load(std::memory_order_relaxed);
    size_t want = now;
    if (load > 2 * now && now < n)
      want = std::min(n, std::max(now + 1, load));
    else if (2 * load < now && now > st.aperture)
      want = now - 1;
    if (want == now)
      continue;
    st.widths[ns] = want;
    changed.push_back(ns);
  }
  for (auto& ns : changed)
    refresh(self, ns);
  if (!changed.empty())
    publish(self);
}

template <class Self> void sweep(Self* self) {
  auto& st = self->state;
  auto now = clock::now();
  take_deposits(self, self->clock().now());
  judge_latency(self);
  resize_apertures(self);
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (i->deadline < now) {
      if (!st.ready) {
        i->rp.deliver(make_error(sc::unavailable, "cluster " + st.cluster +
                                                      " not reachable: ZooKeeper is " +
                                                      to_string(st.status)));
      } else {
        auto& req = i->call.req;
        auto res =
            aggregator::none(req.ns + "/" + req.fn,
                             "cluster " + st.cluster + " (waited until the deadline; " +
                                 "ZooKeeper is " + to_string(st.status) + ")",
                             *i->call.policies, req.ext);
        if (res)
          i->rp.deliver(std::move(*res));
        else
          i->rp.deliver(std::move(res.error()));
      }
      i = st.waiting.erase(i);
    } else {
      ++i;
    }
  }
  // Servers whose connection broke come back once they accept one again.
  for (auto& addr : std::set<std::string>{st.broken}) {
    if (st.servers.count(addr) == 0) {
      st.broken.erase(addr);
      continue;
    }
    if (st.leaving.count(addr) > 0)
      continue; // stopping: not routed again until it registers anew
    // A broker that connects says conn_up; one whose connection never
    // dropped (a blocking lane's did) answers at once.
    if (auto l = link_of(self, addr))
      self->request(l->conn, caf::infinite, caf::connect_atom::value)
          .then(
              [self, addr](bool) {
                auto was = reachable(self, addr);
                if (self->state.broken.erase(addr) > 0) {
                  reach_changed(self, addr, was, "");
                  refresh_server(self, addr);
                  release_waiting(self);
                }
              },
              [](caf::error&) {});
  }
}

/// Runs `call` (the current request): its answer now, or delegated to the
/// server's connection broker or to its gather or hedge.
template <class Self>
caf::result<cluster_reply> dispatch(Self* self, cluster_call& call) {
  auto res = start(self, call);
  if (!res.to) {
    if (res.now)
      return std::move(*res.now);
    return std::move(res.now.error());
  }
  if (res.gather)
    self->delegate(res.to, gather_atom::value);
  else
    self->delegate(res.to, std::move(call));
  return caf::delegated<cluster_reply>{};
}

/// `err` with `extra` added to its sentence (same code).
caf::error amended(const caf::error& err, const std::string& extra) {
  auto code = code_of(err);
  if (code == sc::none)
    return err;
  auto text = describe(err);
  auto colon = text.find(": ");
  return make_error(code,
                    (colon == std::string::npos ? text : text.substr(colon + 2)) + extra);
}

caf::actor default_connect(caf::actor_system& sys, const std::string& addr,
                           const wire_options& opts, link_hooks hooks) {
  std::string host;
  uint16_t port = 0;
  if (!split_address(addr, host, port))
    return nullptr;
  return sys.middleman().spawn_broker(client_connection, std::move(host), port, opts,
                                      std::move(hooks));
}

template <class Self>
dispatcher_internal_type::behavior_type
dispatcher_behavior(Self* self, std::string cluster, caf::actor registry,
                    link_factory connect, std::shared_ptr<route_board> board) {
  auto& st = self->state;
  st.cluster = std::move(cluster);
  // Not kept: the registry holds this dispatcher (a subscriber) until it
  // ends, and a handle back would keep both alive, and the registry's
  // detached thread with them, past the end of the actor system.
  static_cast<void>(registry);
  st.gathers_on_network_thread =
      on_network_thread(self->home_system().config(), hot_path::gathers);
  st.budget = retry_budget{
      caf::get_or(self->home_system().config(), "slacker.retry-budget", 0.2)};
  if (connect) {
    st.connect = std::move(connect);
  } else {
    // TLS files are loaded once, not per server.
    auto opts =
        std::make_shared<wire_options>(wire_options::from(self->home_system().config()));
    if (board && caf::get_or(self->home_system().config(), "slacker.blocking-calls",
                             std::string{"lane"}) == "lane")
      st.lane_opts = opts; // blocking calls go through lanes of their own
    st.connect = [opts](caf::actor_system& sys, const std::string& addr,
                        link_hooks hooks) {
      return default_connect(sys, addr, *opts, std::move(hooks));
    };
  }
  auto& cfg = self->home_system().config();
  st.accrual = static_cast<uint32_t>(
      std::max<size_t>(caf::get_or(cfg, "slacker.failure-accrual", size_t{3}), 1));
  st.outlier_factor = caf::get_or(cfg, "slacker.outlier-latency", st.outlier_factor);
  st.outlier_floor =
      caf::get_or(cfg, "slacker.outlier-min-latency", caf::timespan{st.outlier_floor});
  st.max_ejected = caf::get_or(cfg, "slacker.max-ejected", st.max_ejected);
  st.aperture = caf::get_or(cfg, "slacker.aperture", st.aperture);
  std::mt19937_64 gen{std::random_device{}()};
  st.coordinate = std::uniform_real_distribution<double>{0, 1}(gen);
  if (board) {
    board->feedback = st.feedback;
    board->accrual = st.accrual;
    st.board = std::move(board);
  }
  // Closed: the calls still waiting for the first view get an answer.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal)
      return; // a linked actor that ended normally
    for (auto& kvp : self->state.links)
      if (kvp.second.route->lane)
        kvp.second.route->lane->close();
    for (auto& q : self->state.waiting)
      q.rp.deliver(make_error(sc::unavailable, "the cluster client was closed"));
    self->state.waiting.clear();
    self->quit(msg.reason);
  });
  self->delayed_send(self, sweep_interval, sweep_atom::value);
  return {
      [=](cluster_call& call) -> caf::result<cluster_reply> {
        auto& st = self->state;
        if (must_wait(self, call)) {
          auto rp = self->template make_response_promise<cluster_reply>();
          auto left = time_left(call.req.deadline_ns);
          auto deadline =
              clock::now() + std::chrono::duration_cast<clock::duration>(left);
          st.waiting.push_back({std::move(call), rp, deadline});
          return rp;
        }
        st.budget.deposit(self->clock().now());
        return dispatch(self, call);
      },
      // A call a broker could not finish there: to another server.
      [=](resend_atom, cluster_call& call, caf::error& cause, bool charged,
          bool idem) -> caf::result<cluster_reply> {
        auto& st = self->state;
        auto last = call.tried.empty() ? std::string{} : call.tried.back();
        auto give_up = [&](caf::error err) -> caf::result<cluster_reply> {
          call_reply rep;
          rep.codec = call.req.codec;
          rep.err = std::move(err);
          auto res =
              aggregator::one(call_name{call.req}, call.policies, last, std::move(rep));
          if (res)
            return std::move(*res);
          return std::move(res.error());
        };
        if (code_of(cause) == sc::draining)
          mark_leaving(self, last); // stopping: no new calls there
        if (time_left(call.req.deadline_ns).count() <= 0)
          return give_up(std::move(cause));
        auto now = self->clock().now();
        auto& view = candidates_of(self, call.req.ns, call.policies->grouping);
        auto other = std::any_of(view.servers.begin(), view.servers.end(), [&](auto& c) {
          return std::find(call.tried.begin(), call.tried.end(), c.addr) ==
                 call.tried.end();
        });
        if (!other)
          return give_up(amended(cause, " (no other server to send it to)"));
        take_deposits(self, now);
        if (charged && !st.budget.withdraw(now))
          return give_up(
              amended(cause, " (not retried: " + st.budget.describe(now) + ")"));
        call.idempotent = idem;
        auto res = start(self, call);
        if (!res.to)
          return give_up(amended(cause, " (no other server to send it to)"));
        if (res.gather)
          self->delegate(res.to, gather_atom::value);
        else
          self->delegate(res.to, std::move(call));
        return caf::delegated<cluster_reply>{};
      },
      // The backup of a hedged call.
      [=](hedge_atom, cluster_call& call) -> caf::result<cluster_reply> {
        auto& st = self->state;
        auto now = self->clock().now();
        take_deposits(self, now);
        if (!st.budget.withdraw(now))
          return make_error(sc::unavailable, "no backup: " + st.budget.describe(now));
        return dispatch(self, call);
      },
      [=](call_feedback& fb) { self->state.groupings.feedback(fb); },
      [=](suspect_atom, const std::string& addr) {
        eject(self, addr, false,
              std::to_string(self->state.accrual) + " calls in a row timed out");
      },
      [=](membership_view& view) {
        tell_subscribers(self, view); // one stream for cluster_client::subscribe
        auto& st = self->state;
        st.servers = std::move(view.servers);
        st.namespaces = std::move(view.namespaces);
        st.leaders = std::move(view.leaders);
        st.tokens = std::move(view.tokens);
        place(self, view.state);
        refresh_all(self);
        set_ready(self, view.state);
      },
      [=](registry_state& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        if (place(self, x))
          refresh_all(self);
        set_ready(self, x);
      },
      [=](member_up& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        auto& st = self->state;
        auto was = reachable(self, x.addr);
        st.servers[x.addr] = x.data;
        st.broken.erase(x.addr); // registered again: worth a try
        st.leaving.erase(x.addr);
        reach_changed(self, x.addr, was, "");
        refresh_server(self, x.addr);
        release_waiting(self);
      },
      [=](member_down& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        auto& st = self->state;
        st.servers.erase(x.addr);
        st.broken.erase(x.addr);
        st.suspects.erase(x.addr);
        st.slow_windows.erase(x.addr);
        st.leaving.erase(x.addr);
        drop_link(self, x.addr);
        refresh_server(self, x.addr);
      },
      [=](conn_down_atom, const std::string& addr) {
        // Out of routing. The calls in flight there are the broker's: it
        // answers each (a reply, or connection_broken when the connection
        // dropped; a server going away still answers them).
        auto& st = self->state;
        auto was = reachable(self, addr);
        if (st.broken.insert(addr).second && st.servers.count(addr) > 0) {
          spdlog::warn(
              "slacker: {} unreachable; routing around it until it answers again", addr);
          reach_changed(self, addr, was, "connection lost");
          refresh_server(self, addr);
        }
      },
      [=](going_away_atom, const std::string& addr) { mark_leaving(self, addr); },
      [=](caf::connect_atom, const std::string& ns) {
        // As after a first call: connected to every server of `ns`, now and
        // as they join (their heartbeats watch them).
        auto& st = self->state;
        st.used.insert(ns);
        if (auto i = st.namespaces.find(ns); i != st.namespaces.end())
          for (auto& addr : std::set<std::string>{i->second})
            warm_up(self, ns, addr);
      },
      [=](member_leaving& x) { mark_leaving(self, x.addr); },
      [=](subscribe_atom, caf::actor& who) {
        if (!who)
          return;
        auto& st = self->state;
        caf::anon_send(who, view_of(self)); // the view first, then every change
        st.subscribers.push_back(caf::actor_cast<caf::weak_actor_ptr>(who));
        // Someone watches reachability: idle connections ping too.
        if (!st.detect->exchange(true))
          for (auto& kvp : st.links)
            self->request(kvp.second.conn, caf::infinite, caf::connect_atom::value)
                .then([](bool) {}, [](caf::error&) {});
      },
      [=](conn_up_atom, const std::string& addr) {
        auto& st = self->state;
        auto was = reachable(self, addr);
        if (st.broken.erase(addr) + st.suspects.erase(addr) > 0) {
          spdlog::info("slacker: {} is reachable again", addr);
          reach_changed(self, addr, was, "");
          refresh_server(self, addr);
          release_waiting(self);
        }
      },
      [=](server_data_changed& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        auto& st = self->state;
        st.servers[x.addr] = x.data;
        refresh_server(self, x.addr);
        for (auto& h : st.data_handlers)
          h.fn(x.addr, x.data);
      },
      [=](namespace_up& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        self->state.namespaces[x.ns].insert(x.addr);
        refresh(self, x.ns);
        publish(self);
        warm_up(self, x.ns, x.addr);
        release_waiting(self);
      },
      [=](namespace_down& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        auto& st = self->state;
        if (auto i = st.namespaces.find(x.ns); i != st.namespaces.end()) {
          i->second.erase(x.addr);
          if (i->second.empty())
            st.namespaces.erase(i);
        }
        refresh(self, x.ns);
        publish(self);
      },
      [=](leader_changed& x) {
        tell_subscribers(self, x); // one stream for cluster_client::subscribe
        auto& st = self->state;
        if (x.addr.empty()) {
          st.leaders.erase(x.ns);
          st.tokens.erase(x.ns);
        } else {
          st.leaders[x.ns] = x.addr;
          st.tokens[x.ns] = x.token;
        }
        if (auto i = st.candidates.find(x.ns); i != st.candidates.end())
          i->second.leader = x.addr;
        publish(self);
      },
      [=](sweep_atom) {
        sweep(self);
        self->delayed_send(self, sweep_interval, sweep_atom::value);
      },
      [=](server_data_atom, const std::string& addr) -> caf::result<std::string> {
        auto& st = self->state;
        auto i = st.servers.find(addr);
        if (i == st.servers.end())
          return make_error(sc::not_found,
                            "no server " + addr + " in cluster " + st.cluster);
        return i->second;
      },
      [=](server_data_handler& h) { self->state.data_handlers.push_back(std::move(h)); },
      [=](ask_request& req) -> caf::result<ask_reply> {
        auto& st = self->state;
        st.used.insert(req.ns);
        auto& view = candidates_of(self, req.ns, req.policies->grouping);
        std::string no_fn;
        std::vector<char> no_args;
        grouping_call gc{req.ns, no_fn, 0, no_args, view};
        auto selected = st.groupings.select(req.policies->grouping, gc);
        if (!selected)
          return std::move(selected.error());
        auto& chosen = *selected;
        if (chosen.empty())
          return make_error(sc::unavailable,
                            "no server provides " + req.ns + " in cluster " + st.cluster);
        std::vector<std::pair<std::string, caf::actor>> links;
        for (auto& addr : chosen)
          if (auto l = link_of(self, addr))
            links.emplace_back(addr, caf::actor_cast<caf::actor>(l->conn));
        auto gather = self->spawn(ask_gather, std::move(req), std::move(links));
        self->delegate(gather, gather_atom::value);
        return caf::delegated<ask_reply>{};
      },
      [=](view_atom) { return view_of(self); },
  };
}

} // namespace

dispatcher_internal_type::behavior_type
dispatcher_actor(dispatcher_internal_type::stateful_pointer<dispatcher_state> self,
                 std::string cluster, caf::actor registry, link_factory connect,
                 std::shared_ptr<route_board> board) {
  return dispatcher_behavior(self, std::move(cluster), std::move(registry),
                             std::move(connect), std::move(board));
}

caf::behavior
dispatcher_broker(caf::stateful_actor<dispatcher_state, caf::io::broker>* self,
                  std::string cluster, caf::actor registry,
                  std::shared_ptr<route_board> board) {
  return dispatcher_behavior(self, std::move(cluster), std::move(registry), nullptr,
                             std::move(board))
      .unbox();
}

} // namespace slacker
