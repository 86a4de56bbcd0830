#include "slacker/registry/detail/registry_actor.hpp"
#include "slacker/registry/layout.hpp"

#include <algorithm>

#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"

namespace slacker {

namespace {

using self_ptr = registry_mirror_type::stateful_pointer<mirror_state>;

/// Tells every subscriber. Anonymously: a message naming this detached actor
/// would keep it (and its thread) alive for as long as it waits in a mailbox
/// that is never drained (a broker's, once the network module stopped), and
/// the actor system waits for that thread when it shuts down.
template <class T> void emit(self_ptr self, const T& event) {
  for (auto& sub : self->state.subscribers)
    caf::anon_send(sub, event);
}

/// Within the grace after a new session: nothing is reported gone.
bool settling(self_ptr self) {
  return self->clock().now() < self->state.settle_until;
}

zk_layout paths(self_ptr self) {
  return zk_layout{self->state.link.opts};
}

/// `res`, noting a read that failed because the link went (`read_lost`).
zk::status noted(self_ptr self, zk::status res) {
  if (res.code == zk::rc::connection_loss || res.code == zk::rc::session_expired)
    self->state.read_lost = true;
  return res;
}

/// Lists children with a watch (`st`: the parent's stat); a missing parent
/// is watched for creation.
bool watched_children(self_ptr self, const std::string& path,
                      std::vector<std::string>& out, zk::node_stat* st = nullptr) {
  auto& zk = *self->state.link.zk;
  auto res = noted(self, zk.children(path, true, out, st));
  if (res.code == zk::rc::no_node) {
    out.clear();
    auto again = noted(self, zk.exists(path, true));
    if (again.code == zk::rc::ok) // created meanwhile
      return watched_children(self, path, out, st);
    return again.code == zk::rc::no_node;
  }
  return static_cast<bool>(res);
}

/// Reads one server's node (not watched: changes of its data are told by
/// the servers folder's data, `refresh_changes`).
void refresh_server(self_ptr self, const std::string& addr) {
  std::string data;
  auto res = noted(self, self->state.link.zk->get(paths(self).server(addr), false, data));
  if (!res)
    return; // gone: the children watch reports it
  auto& servers = self->state.view.servers;
  auto i = servers.find(addr);
  if (i == servers.end()) {
    servers.emplace(addr, data);
    emit(self, member_up{addr, data});
  } else if (i->second != data) {
    i->second = data;
    emit(self, server_data_changed{addr, data});
  }
}

/// Reads the servers folder's data with a watch: a server that changed its
/// node's data sets it to its address afterwards (`registrar.cpp`, `claim`),
/// so a client holds one watch for every server's data whatever their
/// number. One change since the last read: that server is read again; more
/// (they came faster than the watch was armed again): every server is.
/// `all`: everything is read anyway (the caller does it).
void refresh_changes(self_ptr self, bool all) {
  auto& zk = *self->state.link.zk;
  auto& seen = self->state.changes_seen;
  std::string addr;
  zk::node_stat st;
  auto res = noted(self, zk.get(paths(self).servers(), true, addr, &st));
  if (res.code == zk::rc::no_node) {
    seen = -1; // watched for its creation by the servers' list
    return;
  }
  if (!res)
    return;
  auto one = seen >= 0 && st.version == seen + 1;
  seen = st.version;
  if (all)
    return;
  if (one && !addr.empty()) {
    refresh_server(self, addr);
    return;
  }
  std::vector<std::string> known;
  for (auto& kvp : self->state.view.servers)
    known.push_back(kvp.first);
  for (auto& x : known)
    refresh_server(self, x);
}

/// The servers' list changed (or, `all`, everything is read anew): reads
/// the nodes that appeared.
void refresh_servers(self_ptr self, bool all) {
  if (all || self->state.changes_seen < 0)
    refresh_changes(self, true); // first: a change after it is told
  std::vector<std::string> names;
  if (!watched_children(self, paths(self).servers(), names))
    return;
  std::set<std::string> now(names.begin(), names.end());
  auto& servers = self->state.view.servers;
  auto keep = settling(self);
  for (auto i = servers.begin(); i != servers.end();) {
    if (now.count(i->first) == 0 && !keep) {
      auto addr = i->first;
      i = servers.erase(i);
      self->state.view.leaving.erase(addr);
      emit(self, member_down{addr});
    } else {
      ++i;
    }
  }
  for (auto& addr : now)
    if (all || servers.count(addr) == 0)
      refresh_server(self, addr);
}

/// The servers marked leaving changed: each new one is told once (the mark
/// goes with the server; its member_down ends it).
void refresh_leaving(self_ptr self) {
  std::vector<std::string> names;
  if (!watched_children(self, paths(self).leaving(), names))
    return;
  auto& view = self->state.view;
  for (auto& addr : names)
    if (view.servers.count(addr) > 0 && view.leaving.insert(addr).second)
      emit(self, member_leaving{addr});
}

void refresh_leader(self_ptr self, const std::string& ns) {
  auto path = paths(self).election(ns);
  std::vector<std::string> candidates;
  std::string leader;
  fencing_token token; // as the registrar makes it (registrar.cpp, token_of)
  zk::node_stat election;
  if (watched_children(self, path, candidates, &election) && !candidates.empty()) {
    std::sort(candidates.begin(), candidates.end(), [](auto& a, auto& b) {
      return zk_layout::sequence_of(a) < zk_layout::sequence_of(b);
    });
    std::string data;
    zk::node_stat candidate;
    for (auto& c : candidates)
      if (noted(self,
                self->state.link.zk->get(path + "/" + c, false, data, &candidate))) {
        leader = data;
        token = {candidate.ephemeral_owner, zk_layout::sequence_of(c), election.ctime};
        break;
      }
  }
  auto& view = self->state.view;
  auto old = view.leaders.count(ns) ? view.leaders[ns] : std::string{};
  if (leader == old || (leader.empty() && settling(self))) {
    if (!leader.empty())
      view.tokens[ns] = token; // re-elected: the same leader, a new token
    return;
  }
  if (leader.empty()) {
    view.leaders.erase(ns);
    view.tokens.erase(ns);
  } else {
    view.leaders[ns] = leader;
    view.tokens[ns] = token;
  }
  emit(self, leader_changed{ns, leader, token});
}

/// The servers of `ns` changed; `leader`: read its election too (first read).
void refresh_namespace(self_ptr self, const std::string& ns, bool leader) {
  std::vector<std::string> names;
  if (!watched_children(self, paths(self).ns(ns), names))
    return;
  std::set<std::string> now;
  for (auto& n : names)
    if (!zk_layout::is_meta(n))
      now.insert(n);
  auto& addrs = self->state.view.namespaces[ns];
  auto keep = settling(self);
  for (auto i = addrs.begin(); i != addrs.end();) {
    if (now.count(*i) == 0 && !keep) {
      auto addr = *i;
      i = addrs.erase(i);
      emit(self, namespace_down{ns, addr});
    } else {
      ++i;
    }
  }
  for (auto& addr : now)
    if (addrs.insert(addr).second)
      emit(self, namespace_up{ns, addr});
  if (leader)
    refresh_leader(self, ns); // later changes come through its own watch
}

/// The namespaces' list changed (or, `all`, everything is read anew): reads
/// the namespaces that appeared.
void refresh_namespaces(self_ptr self, bool all) {
  std::vector<std::string> names;
  if (!watched_children(self, paths(self).namespaces(), names))
    return;
  std::set<std::string> now;
  for (auto& n : names)
    if (!zk_layout::is_meta(n))
      now.insert(n);
  auto& view = self->state.view;
  auto keep = settling(self);
  for (auto i = view.namespaces.begin(); i != view.namespaces.end();) {
    if (now.count(i->first) == 0 && !keep) {
      auto ns = i->first;
      auto addrs = std::move(i->second);
      i = view.namespaces.erase(i);
      for (auto& addr : addrs)
        emit(self, namespace_down{ns, addr});
      view.tokens.erase(ns);
      if (view.leaders.erase(ns) > 0)
        emit(self, leader_changed{ns, {}, {}});
    } else {
      ++i;
    }
  }
  for (auto& ns : now)
    if (all || view.namespaces.count(ns) == 0)
      refresh_namespace(self, ns, true);
}

/// Everything, anew (first connect, reconnect, new session): watches are set
/// again on every node.
void refresh_all(self_ptr self) {
  refresh_servers(self, true);
  refresh_namespaces(self, true);
  refresh_leaving(self);
}

/// Re-reads what a watch event says has changed.
void on_node_event(self_ptr self, const std::string& path, zk::event_type type) {
  auto servers = paths(self).servers();
  auto namespaces = paths(self).namespaces();
  if (path == servers && type == zk::event_type::changed) {
    refresh_changes(self, false);
  } else if (path == servers) {
    refresh_servers(self, false);
  } else if (path == paths(self).leaving()) {
    refresh_leaving(self);
  } else if (path == namespaces) {
    refresh_namespaces(self, false);
  } else if (path.rfind(namespaces + "/", 0) == 0) {
    auto rest = path.substr(namespaces.size() + 1);
    auto slash = rest.find('/');
    auto ns = rest.substr(0, slash);
    if (slash == std::string::npos)
      refresh_namespace(self, ns, false);
    else
      refresh_leader(self, ns);
  } else if (path == paths(self).base() || path.empty()) {
    refresh_all(self);
  }
}

void set_status(self_ptr self, registry_status status) {
  auto& link = self->state.link;
  if (link.status == registry_status::connected)
    link.last_current = zk_link::clock::now();
  link.status = status;
  if (self->state.live)
    self->state.live->store(link);
  self->state.view.state = link.state();
  emit(self, link.state());
}

} // namespace

registry_mirror_type::behavior_type
registry_actor(registry_mirror_type::stateful_pointer<mirror_state> self, zk_options opts,
               std::shared_ptr<live_registry_state> live, zk::connector connect) {
  self->state.live = std::move(live);
  self->state.link.opts = std::move(opts);
  self->state.link.connect = std::move(connect);
  self->state.link.open(self);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& subs = self->state.subscribers;
    for (auto i = subs.begin(); i != subs.end(); ++i)
      if (i->address() == msg.source) {
        subs.erase(i);
        return;
      }
  });
  return {
      [=](zk_event_atom, uint64_t gen, uint8_t type, uint8_t state, std::string& path) {
        auto& link = self->state.link;
        link.handle(
            self, gen, type, state, path,
            {
                [=](const std::string& node, zk::event_type type) {
                  on_node_event(self, node, type);
                },
                [=] {
                  auto& link = self->state.link;
                  spdlog::info("registry: connected to ZooKeeper at {}", link.opts.zk);
                  if (link.status == registry_status::expired &&
                      !self->state.view.servers.empty()) {
                    // A new session: what is missing now may be registering again.
                    auto grace = link.session_timeout();
                    self->state.settle_until = self->clock().now() + grace;
                    delayed_weak_send(
                        self, grace,
                        caf::make_message(settle_atom::value, link.generation));
                  }
                  // After a reconnect or a new session: read everything, then
                  // say connected, so that the view is complete when
                  // subscribers hear it; not if the link went during the
                  // reads (its events follow: once back, it reads again).
                  self->state.read_lost = false;
                  refresh_all(self);
                  if (self->state.read_lost) {
                    spdlog::info("registry: the link to ZooKeeper went while reading "
                                 "the tree; reading it again once back");
                    return;
                  }
                  set_status(self, registry_status::connected);
                },
                [=] {
                  spdlog::warn(
                      "registry: connection to ZooKeeper lost; serving the last view");
                  set_status(self, registry_status::suspended);
                },
                [=] {
                  spdlog::warn("registry: ZooKeeper session expired; opening a new one");
                  set_status(self, registry_status::expired);
                  self->state.link.open(self);
                },
            });
      },
      [=](retry_atom, uint64_t gen) {
        auto& link = self->state.link;
        if (!link.on_retry(self, gen))
          return;
        spdlog::warn(
            "registry: ZooKeeper session lost (disconnected longer than its timeout); "
            "opening a new one");
        set_status(self, registry_status::expired);
        link.open(self);
      },
      [=](settle_atom, uint64_t gen) {
        // The grace after a new session is over: what is still missing is gone.
        auto& link = self->state.link;
        if (gen != link.generation || !link.zk ||
            link.status != registry_status::connected)
          return;
        self->state.settle_until = {};
        refresh_all(self);
      },
      [=](subscribe_atom, caf::actor& who) {
        auto& subs = self->state.subscribers;
        if (!who || std::find(subs.begin(), subs.end(), who) != subs.end())
          return;
        subs.push_back(who);
        self->monitor(who);
        self->state.view.state = self->state.link.state();
        caf::anon_send(who, self->state.view);
      },
      [=](unsubscribe_atom, caf::actor& who) {
        auto& subs = self->state.subscribers;
        auto i = std::find(subs.begin(), subs.end(), who);
        if (i == subs.end())
          return;
        subs.erase(i);
        self->demonitor(who);
      },
      [=](view_atom) {
        self->state.view.state = self->state.link.state();
        return self->state.view;
      },
      [=](zk_requests_atom) {
        auto n = self->state.link.requests();
        return std::vector<uint64_t>{n.reads, n.writes};
      },
  };
}

} // namespace slacker
