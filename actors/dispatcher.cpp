#include "slacker/actors/dispatcher.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/settings.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/client_connection.hpp"
#include "slacker/actors/gather.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

using clock = dispatcher_state::clock;

constexpr auto sweep_interval = std::chrono::milliseconds{500};

/// The connection broker of server `addr`, spawned on first use; null when
/// `addr` is not `host:port`.
template <class Self>
caf::actor link_of(Self* self, const std::string& addr) {
  auto& links = self->state.links;
  if (auto i = links.find(addr); i != links.end())
    return i->second;
  std::string host;
  uint16_t port = 0;
  if (!split_address(addr, host, port))
    return nullptr;
  auto& sys = self->home_system();
  if (!self->state.wire) // TLS files are loaded once, not per server
    self->state.wire = wire_options::from(sys.config());
  auto conn = sys.middleman().spawn_broker(client_connection, std::move(host), port,
                                           *self->state.wire,
                                           caf::actor_cast<caf::actor>(self));
  self->link_to(conn); // connection brokers end with their dispatcher
  links.emplace(addr, conn);
  return conn;
}

/// Ends the connection broker of a server that left.
template <class Self>
void drop_link(Self* self, const std::string& addr) {
  auto& links = self->state.links;
  if (auto i = links.find(addr); i != links.end()) {
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
    links.erase(i);
  }
}

/// The servers a call to `ns` may go to: members providing `ns` whose
/// connection is not known to be broken.
template <class Self>
grouping_view view_of(Self* self, const std::string& ns, const std::string& fn) {
  auto& st = self->state;
  grouping_view view;
  view.ns = ns;
  view.fn = fn;
  if (auto i = st.leaders.find(ns); i != st.leaders.end())
    view.leader = i->second;
  auto i = st.namespaces.find(ns);
  if (i == st.namespaces.end())
    return view;
  for (auto& addr : i->second) {
    auto s = st.servers.find(addr);
    if (s == st.servers.end() || st.broken.count(addr) > 0)
      continue;
    auto n = st.in_flight.find(addr);
    view.servers.push_back({addr, s->second, n == st.in_flight.end() ? 0 : n->second});
  }
  return view;
}

template <class Self>
void done_with(Self* self, uint64_t id) {
  auto& st = self->state;
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto n = st.in_flight.find(i->second.addr);
  if (n != st.in_flight.end() && n->second > 0 && --n->second == 0)
    st.in_flight.erase(n);
  st.calls.erase(i);
}

/// Either the gather that will answer, or the answer itself.
struct started {
  caf::actor gather;
  caf::expected<cluster_reply> now{caf::error{}};
};

template <class Self>
started start(Self* self, cluster_call& call) {
  auto& st = self->state;
  auto& req = call.req;
  auto& policies = *call.policies;
  auto what = req.ns + "/" + req.fn;
  st.used.insert(req.ns);
  auto view = view_of(self, req.ns, req.fn);
  grouping_call gc{req.ns, req.fn, static_cast<uint8_t>(req.codec), req.args, view};
  auto chosen = choose(policies.grouping, gc, st.rng, st.turn);
  if (chosen.empty()) {
    if (policies.unavailable) {
      auto value = policies.unavailable(req.codec);
      if (!value)
        return {nullptr, std::move(value.error())};
      call_reply rep;
      rep.codec = req.codec;
      rep.result = std::move(*value);
      rep.ext = req.ext;
      return {nullptr, cluster_reply{{}, {std::move(rep)}, true}};
    }
    return {nullptr, make_error(sc::unavailable, "no server provides " + what
                                                   + " in cluster " + st.cluster)};
  }
  auto now = clock::now();
  auto left = time_left(req.deadline_ns);
  auto until = std::max(std::chrono::duration_cast<clock::duration>(left),
                        clock::duration::zero())
               + timeout_grace;
  auto gather = st.gathers_on_network_thread
                  ? self->home_system().middleman().spawn_broker(gather_broker, what,
                                                                 call.policies, chosen, until)
                  : self->spawn(gather_actor, what, call.policies, chosen, until);
  for (auto& addr : chosen) {
    auto conn = link_of(self, addr);
    if (!conn) {
      self->send(gather, addr, make_error(sc::invalid_request, "bad address " + addr));
      continue;
    }
    auto id = st.next_id++;
    st.calls.emplace(id, dispatcher_state::pending{gather, addr, req.ns, now + until});
    ++st.in_flight[addr];
    auto copy = req;
    copy.id = id;
    // A plain send: the broker's answer (a call_reply, errors inside) comes
    // back as an ordinary message.
    self->send(conn, std::move(copy));
  }
  return {gather, caf::error{}};
}

template <class Self>
void release_waiting(Self* self) {
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& q : waiting) {
    auto res = start(self, q.call);
    if (!res.gather) {
      if (res.now)
        q.rp.deliver(std::move(*res.now));
      else
        q.rp.deliver(std::move(res.now.error()));
      continue;
    }
    auto rp = q.rp;
    self->request(res.gather, caf::infinite, gather_atom::value)
      .then([rp](cluster_reply& r) mutable { rp.deliver(std::move(r)); },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  }
}

template <class Self>
void set_ready(Self* self, registry_status status) {
  auto& st = self->state;
  st.status = status;
  if (status == registry_status::connected && !st.ready) {
    st.ready = true;
    release_waiting(self);
  }
}

/// Connects (ahead of the calls) to a server of a namespace this client uses;
/// the broker says `conn_up` once it is connected.
template <class Self>
void warm_up(Self* self, const std::string& ns, const std::string& addr) {
  if (self->state.used.count(ns) == 0)
    return;
  if (auto conn = link_of(self, addr))
    self->request(conn, caf::infinite, caf::connect_atom::value)
      .then([](bool) {}, [](caf::error&) {});
}

template <class Self>
void sweep(Self* self) {
  auto& st = self->state;
  auto now = clock::now();
  std::vector<uint64_t> expired;
  for (auto& kvp : st.calls)
    if (kvp.second.expires < now)
      expired.push_back(kvp.first);
  for (auto id : expired)
    done_with(self, id);
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (i->deadline < now) {
      i->rp.deliver(make_error(sc::unavailable,
                               "cluster " + st.cluster + " not reachable: ZooKeeper is "
                                 + to_string(st.status)));
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
    if (auto conn = link_of(self, addr))
      self->request(conn, caf::infinite, caf::connect_atom::value)
        .then([](bool) {}, [](caf::error&) {}); // conn_up tells

  }
}

} // namespace

namespace {

template <class Self>
caf::behavior dispatcher_behavior(Self* self, std::string cluster, caf::actor registry) {
  auto& st = self->state;
  st.cluster = std::move(cluster);
  st.registry = std::move(registry);
  st.gathers_on_network_thread
    = caf::get_or(self->home_system().config(), "slacker.gather-hot-path",
                  std::string{"scheduled"})
      == "network";
  self->delayed_send(self, sweep_interval, sweep_atom::value);
  return {
    [=](cluster_call& call) -> caf::result<cluster_reply> {
      auto& st = self->state;
      if (!st.ready) {
        auto rp = self->template make_response_promise<cluster_reply>();
        auto left = time_left(call.req.deadline_ns);
        auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(left);
        st.waiting.push_back({std::move(call), rp, deadline});
        return rp;
      }
      auto res = start(self, call);
      if (!res.gather) {
        if (res.now)
          return std::move(*res.now);
        return std::move(res.now.error());
      }
      self->delegate(res.gather, gather_atom::value);
      return caf::delegated<cluster_reply>{};
    },
    [=](call_reply& rep) {
      auto& st = self->state;
      auto i = st.calls.find(rep.id);
      if (i == st.calls.end())
        return; // its gather has decided, or it expired
      auto gather = i->second.gather;
      auto addr = i->second.addr;
      done_with(self, rep.id);
      if (rep.err)
        rep.err = with_origin(rep.err, addr);
      self->send(gather, addr, std::move(rep));
    },
    [=](membership_view& view) {
      auto& st = self->state;
      st.servers = std::move(view.servers);
      st.namespaces = std::move(view.namespaces);
      st.leaders = std::move(view.leaders);
      set_ready(self, view.state.status);
    },
    [=](registry_state& x) { set_ready(self, x.status); },
    [=](member_up& x) {
      auto& st = self->state;
      st.servers[x.addr] = x.data;
      st.broken.erase(x.addr); // registered again: worth a try
    },
    [=](member_down& x) {
      auto& st = self->state;
      st.servers.erase(x.addr);
      st.broken.erase(x.addr);
      drop_link(self, x.addr);
    },
    [=](conn_down_atom, const std::string& addr) {
      // Out of routing. The calls in flight there are the broker's: it
      // answers each (a reply, or connection_broken when the connection
      // dropped; a server going away still answers them).
      auto& st = self->state;
      if (st.broken.insert(addr).second && st.servers.count(addr) > 0)
        spdlog::warn("slacker: {} unreachable or going away; routing around it until it "
                     "answers again",
                     addr);
    },
    [=](conn_up_atom, const std::string& addr) {
      if (self->state.broken.erase(addr) > 0)
        spdlog::info("slacker: {} is reachable again", addr);
    },
    [=](server_data_changed& x) {
      auto& st = self->state;
      st.servers[x.addr] = x.data;
      for (auto& h : st.data_handlers)
        h.fn(x.addr, x.data);
    },
    [=](namespace_up& x) {
      self->state.namespaces[x.ns].insert(x.addr);
      warm_up(self, x.ns, x.addr);
    },
    [=](namespace_down& x) {
      auto& st = self->state;
      if (auto i = st.namespaces.find(x.ns); i != st.namespaces.end()) {
        i->second.erase(x.addr);
        if (i->second.empty())
          st.namespaces.erase(i);
      }
    },
    [=](leader_changed& x) {
      auto& st = self->state;
      if (x.addr.empty())
        st.leaders.erase(x.ns);
      else
        st.leaders[x.ns] = x.addr;
    },
    [=](sweep_atom) {
      sweep(self);
      self->delayed_send(self, sweep_interval, sweep_atom::value);
    },
    [=](server_data_atom, const std::string& addr) -> caf::result<std::string> {
      auto& st = self->state;
      auto i = st.servers.find(addr);
      if (i == st.servers.end())
        return make_error(sc::not_found, "no server " + addr + " in cluster " + st.cluster);
      return i->second;
    },
    [=](server_data_handler& h) { self->state.data_handlers.push_back(std::move(h)); },
    [=](actor_pick& pick) -> caf::result<picked_actors> {
      auto& st = self->state;
      st.used.insert(pick.ns);
      auto view = view_of(self, pick.ns, {});
      std::vector<char> no_args;
      grouping_call gc{pick.ns, view.fn, 0, no_args, view};
      auto chosen = choose(pick.grouping, gc, st.rng, st.turn);
      if (chosen.empty())
        return make_error(sc::unavailable, "no server provides " + pick.ns + " in cluster "
                                             + st.cluster);
      auto rp = self->template make_response_promise<picked_actors>();
      auto out = std::make_shared<picked_actors>();
      auto left = std::make_shared<size_t>(chosen.size());
      for (auto& addr : chosen) {
        auto done = [=](caf::expected<caf::actor> h) mutable {
          if (h) {
            out->addrs.push_back(addr);
            out->handlers.push_back(std::move(*h));
          } else {
            out->failures.push_back({addr, std::move(h.error())});
          }
          if (--*left == 0)
            rp.deliver(std::move(*out));
        };
        if (auto conn = link_of(self, addr))
          self->request(conn, caf::infinite, lookup_atom::value, pick.ns)
            .then([done](caf::actor& h) mutable { done(std::move(h)); },
                  [done](caf::error& e) mutable { done(std::move(e)); });
        else
          done(make_error(sc::invalid_request, "bad address " + addr));
      }
      return rp;
    },
    [=](view_atom) {
      auto& st = self->state;
      membership_view view;
      view.servers = st.servers;
      view.namespaces = st.namespaces;
      view.leaders = st.leaders;
      view.state.status = st.status;
      return view;
    },
  };
}

} // namespace

caf::behavior dispatcher_actor(caf::stateful_actor<dispatcher_state>* self,
                               std::string cluster, caf::actor registry) {
  return dispatcher_behavior(self, std::move(cluster), std::move(registry));
}

caf::behavior dispatcher_broker(caf::stateful_actor<dispatcher_state, caf::io::broker>* self,
                                std::string cluster, caf::actor registry) {
  return dispatcher_behavior(self, std::move(cluster), std::move(registry));
}

} // namespace slacker
