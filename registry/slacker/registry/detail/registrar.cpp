#include "slacker/registry/detail/registrar.hpp"
#include "slacker/registry/layout.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/wire_options.hpp"

namespace slacker {

namespace {

using self_ptr = registrar_internal_type::stateful_pointer<registrar_state>;

constexpr auto retry_delay = std::chrono::seconds{1};

zk_layout paths(self_ptr self) {
  return zk_layout{self->state.link.opts};
}

bool connected(self_ptr self) {
  return self->state.link.zk && self->state.link.status == registry_status::connected;
}

/// After the data of this server's node changed in place: the servers
/// folder's data names the server, which tells every client with one watch
/// (the registry actor's `refresh_changes`) instead of one per server.
bool tell_changed(self_ptr self, const std::string& path, bool changed) {
  if (!changed || path != paths(self).server(self->state.addr))
    return changed;
  return static_cast<bool>(
      self->state.link.zk->set(paths(self).servers(), self->state.addr));
}

/// Makes `path` an ephemeral node of this session holding `data`, replacing a
/// node left at the same path by an older session.
bool claim(self_ptr self, const std::string& path, const std::string& data) {
  auto& zk = *self->state.link.zk;
  zk::node_stat st;
  std::string current;
  auto res = zk.get(path, false, current, &st);
  if (res && st.ephemeral_owner != zk.id()) {
    spdlog::info("registry: replacing {} left by an expired session", path);
    auto replaced = zk.replace_ephemeral(path, data);
    if (replaced.code != zk::rc::no_node) // gone meanwhile: create it below
      return tell_changed(self, path, static_cast<bool>(replaced));
    res = zk::status{zk::rc::no_node, {}};
  }
  if (res && current == data)
    return true; // ours already (registering again after a reconnect)
  if (res)
    return tell_changed(self, path, static_cast<bool>(zk.set(path, data)));
  if (res.code != zk::rc::no_node)
    return false;
  auto made = zk.create(path, data, zk::node_kind::ephemeral, true);
  return made || made.code == zk::rc::node_exists;
}

/// Makes the persistent node `path` hold `data`, writing only when it does
/// not already (a leader's `_leader`).
bool write_persistent(self_ptr self, const std::string& path, const std::string& data) {
  auto& zk = *self->state.link.zk;
  std::string current;
  auto res = zk.get(path, false, current);
  if (res && current == data)
    return true;
  if (res.code == zk::rc::no_node) {
    res = zk.create(path, data, zk::node_kind::persistent, true);
    if (res.code != zk::rc::node_exists)
      return static_cast<bool>(res);
  }
  return static_cast<bool>(zk.set(path, data));
}

void check_election(self_ptr self, const std::string& ns);

/// The fencing token of our candidate in the election of `ns`.
fencing_token token_of(self_ptr self, const std::string& ns) {
  auto& st = self->state;
  fencing_token token;
  if (auto i = st.candidates.find(ns); i != st.candidates.end() && st.link.zk) {
    token.session = st.link.zk->id();
    token.sequence = zk_layout::sequence_of(i->second);
    if (auto x = st.incarnations.find(ns); x != st.incarnations.end())
      token.incarnation = x->second;
  }
  return token;
}

/// Starts or stops leading `ns`; tells the watchers when that changes.
void lead(self_ptr self, const std::string& ns, bool leading, const char* why = "") {
  auto& st = self->state;
  leadership event{ns, leading, {}};
  if (leading) {
    event.token = token_of(self, ns);
    if (!st.leading.insert(ns).second)
      return;
    spdlog::info("registry: {} leads {} (fencing token {}:{}, session {})", st.addr, ns,
                 event.token.incarnation, event.token.sequence, event.token.session);
  } else {
    if (st.leading.erase(ns) == 0)
      return;
    spdlog::info("registry: {} no longer leads {}{}", st.addr, ns, why);
  }
  for (auto& w : st.watchers)
    caf::anon_send(w, event);
}

void step_down_all(self_ptr self, const char* why) {
  for (auto& ns : std::set<std::string>{self->state.leading})
    lead(self, ns, false, why);
}

/// The link just went down: a leader steps down once it has been down for
/// `leader_step_down` of the session timeout, before ZooKeeper can expire
/// the session and elect another. The C client notices a silent link only
/// after 2/3 of the session timeout without an answer, so the outage is
/// counted from that much before now: with the default share (2/3) a leader
/// steps down as soon as the link is seen down.
void step_down_later(self_ptr self) {
  auto& st = self->state;
  ++st.outage;
  if (st.leading.empty())
    return;
  auto timeout = st.link.session_timeout();
  auto share = std::min(std::max(st.link.opts.leader_step_down, 0.0), 1.0);
  auto unnoticed = timeout * 2 / 3;
  auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout * share) - unnoticed;
  if (wait.count() <= 0) {
    step_down_all(self, " (ZooKeeper link down)");
    return;
  }
  delayed_weak_send(self, wait, caf::make_message(step_down_atom::value, st.outage));
}

bool join_election(self_ptr self, const std::string& ns) {
  auto& st = self->state;
  auto& zk = *st.link.zk;
  auto dir = paths(self).election(ns);
  // The election's incarnation (when its node was made), for the fencing
  // tokens: read whenever we join, as the node may have been made anew.
  auto incarnation = [&] {
    zk::node_stat dir_stat;
    if (zk.exists(dir, false, &dir_stat))
      st.incarnations[ns] = dir_stat.ctime;
  };
  if (auto i = st.candidates.find(ns); i != st.candidates.end()) {
    zk::node_stat stat;
    if (zk.exists(i->second, false, &stat) && stat.ephemeral_owner == zk.id()) {
      if (st.incarnations.count(ns) == 0)
        incarnation();
      return true; // still in the running
    }
    st.candidates.erase(i);
  }
  std::string created;
  auto res = zk.create(paths(self).candidate_prefix(ns), st.addr,
                       zk::node_kind::ephemeral_sequential, true, &created);
  if (!res)
    return false;
  st.candidates[ns] = created;
  incarnation();
  return true;
}

void check_election(self_ptr self, const std::string& ns) {
  auto& st = self->state;
  if (!connected(self) || st.candidates.count(ns) == 0)
    return;
  auto& zk = *st.link.zk;
  auto dir = paths(self).election(ns);
  auto mine = st.candidates[ns].substr(dir.size() + 1);
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::vector<std::string> names;
    if (!zk.children(dir, false, names))
      return;
    std::sort(names.begin(), names.end(), [](auto& a, auto& b) {
      return zk_layout::sequence_of(a) < zk_layout::sequence_of(b);
    });
    auto me = std::find(names.begin(), names.end(), mine);
    if (me == names.end()) { // our node vanished: run again
      st.candidates.erase(ns);
      if (join_election(self, ns))
        check_election(self, ns);
      return;
    }
    // Our own candidate is watched too: deleted by another client, it is
    // found missing above and we run again (a leader stops leading).
    zk.exists(dir + "/" + mine, true);
    if (me == names.begin()) {
      lead(self, ns, true);
      write_persistent(self, paths(self).leader(ns), st.addr);
      return;
    }
    // Watch only the predecessor: when it goes, only we re-check (no herd).
    lead(self, ns, false, " (a candidate before it)");
    auto watched = zk.exists(dir + "/" + *(me - 1), true);
    if (watched.code != zk::rc::no_node)
      return;
    // The predecessor left between the two reads: look again.
  }
}

/// Re-creates one of this server's own nodes that is gone while the server
/// is registered (deleted by another client), and keeps a watch on it.
void heal(self_ptr self, const std::string& path, const std::string& data) {
  auto& zk = *self->state.link.zk;
  if (zk.exists(path, true).code != zk::rc::no_node)
    return; // there (and watched again)
  spdlog::warn("registry: {} is gone while {} is registered; creating it again", path,
               self->state.addr);
  if (claim(self, path, data))
    zk.exists(path, true);
}

/// A persistent node a registration needs: a function's node (with its
/// description), `servers`, an election's folder, or a folder above them.
struct wanted_node {
  std::string path;
  std::string data;
  bool folder = false; // only above the others: there when any of them is
};

/// The persistent nodes of `only` (null: every namespace), a parent before
/// its children.
std::vector<wanted_node> metadata_of(self_ptr self, const std::string* only) {
  std::vector<wanted_node> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& path, std::string data) {
    for (auto pos = path.find('/', 1); pos != std::string::npos;
         pos = path.find('/', pos + 1))
      if (auto above = path.substr(0, pos); seen.insert(above).second)
        out.push_back({above, {}, true});
    if (seen.insert(path).second)
      out.push_back({path, std::move(data), false});
  };
  add(paths(self).servers(), {});
  for (auto& [ns, fns] : self->state.namespaces) {
    if (only && ns != *only)
      continue;
    add(paths(self).election(ns), {});
    for (auto& fn : fns)
      add(paths(self).function(ns, fn.name), to_json(fn));
  }
  return out;
}

/// Writes what is missing or different of the persistent nodes of `only`
/// (null: every namespace): what is missing in one transaction (servers that
/// start together pay at most a failed transaction each when another was
/// faster, not a failed create per node; the first server of a cluster one
/// transaction for its whole tree), a function whose description changed by
/// itself. The folders above are read only when a node below is missing.
bool write_metadata(self_ptr self, const std::string* only = nullptr) {
  auto& zk = *self->state.link.zk;
  auto wanted = metadata_of(self, only);
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<bool> absent(wanted.size(), false);
    bool any = false;
    auto read = [&](bool folders) {
      for (size_t i = 0; i < wanted.size(); ++i) {
        auto& node = wanted[i];
        if (node.folder != folders)
          continue;
        std::string current;
        auto res = node.data.empty() ? zk.exists(node.path, false)
                                     : zk.get(node.path, false, current);
        if (res.code == zk::rc::no_node)
          absent[i] = any = true;
        else if (!res)
          return false;
        else if (!node.data.empty() && current != node.data &&
                 !zk.set(node.path, node.data))
          return false;
      }
      return true;
    };
    if (!read(false))
      return false;
    if (!any)
      return true;
    if (!read(true))
      return false;
    std::vector<std::pair<std::string, std::string>> missing;
    for (size_t i = 0; i < wanted.size(); ++i)
      if (absent[i])
        missing.emplace_back(wanted[i].path, wanted[i].data);
    auto made = zk.create_all(missing);
    if (made)
      return true;
    if (made.code != zk::rc::node_exists && made.code != zk::rc::no_node)
      return false;
    // Another server made some of them meanwhile (or took a folder away):
    // read again.
  }
  return false;
}

bool publish_namespace(self_ptr self, const std::string& ns) {
  auto& st = self->state;
  // The functions are there already (write_metadata): a client that sees
  // this server provide `ns` finds what it provides (a provider listed
  // before its functions made a call right after `members --wait` fail as
  // unavailable).
  auto own = paths(self).provider(ns, st.addr);
  if (!claim(self, own, ""))
    return false;
  st.link.zk->exists(own, true); // healed if someone deletes it
  if (!join_election(self, ns))
    return false;
  check_election(self, ns);
  return true;
}

/// Gives up for good: tells the waiters why.
void give_up(self_ptr self, caf::error err) {
  auto& st = self->state;
  spdlog::error("registry: {}", describe(err));
  st.fatal = std::move(err);
  for (auto& rp : st.waiters)
    rp.deliver(st.fatal);
  st.waiters.clear();
}

/// With digest auth: refuses a cluster with any node this identity does not
/// own, or that grants anyone else more than READ (someone created it first,
/// to read, redirect or delete what this server writes). Walks the whole
/// cluster subtree (its nodes, not the shared parents above it).
bool cluster_squatted(self_ptr self) {
  auto& st = self->state;
  if (st.link.opts.auth.digest.empty())
    return false;
  auto& zk = *st.link.zk;
  auto ours = zk::digest_id(st.link.opts.auth.digest);
  auto refuse = [&](const std::string& path, const std::string& why) {
    give_up(self, make_error(sc::forbidden,
                             "cluster node " + path + " " + why +
                                 ": someone created it before this server; remove it, "
                                 "or use another cluster name"));
    return true;
  };
  constexpr size_t max_nodes = 100000; // a bound on the walk
  std::vector<std::string> todo{paths(self).base()};
  for (size_t seen = 0; !todo.empty() && seen < max_nodes; ++seen) {
    auto path = std::move(todo.back());
    todo.pop_back();
    std::vector<zk::acl_entry> acl;
    auto got = zk.acl(path, acl);
    if (got.code == zk::rc::no_node)
      continue; // gone meanwhile (an ephemeral node)
    if (!got)
      return false; // not answered: register_all retries as usual
    bool owned = false;
    for (auto& e : acl) {
      if (e.scheme == "digest" && e.id == ours) {
        owned = true;
        continue;
      }
      if ((e.perms & ~zk::perm_read) != 0)
        return refuse(path, "lets " + e.scheme + ":" + e.id.substr(0, e.id.find(':')) +
                                " do more than read it (ACL perms " +
                                std::to_string(e.perms) + ")");
    }
    if (!owned)
      return refuse(path, "is not owned by this server's identity");
    std::vector<std::string> children;
    if (zk.children(path, false, children))
      for (auto& c : children)
        todo.push_back(path + "/" + c);
  }
  return false;
}

/// The session ended (expired, or lost): steps down and opens a new one, in
/// which everything is registered again.
void start_over(self_ptr self, const char* why) {
  auto& st = self->state;
  st.link.status = registry_status::expired;
  step_down_all(self, why);
  st.candidates.clear();
  st.link.open(self);
}

/// Registers everything; on failure tries again a second later.
void register_all(self_ptr self) {
  auto& st = self->state;
  if (!connected(self) || st.fatal)
    return;
  if (st.addr.empty()) {
    auto host = zk::local_address_towards(st.link.opts.zk);
    if (!host && code_of(host.error()) == sc::invalid_request) {
      give_up(self, std::move(host.error())); // ambiguous: not guessed
      return;
    }
    if (!host) {
      spdlog::error("registry: {}", describe(host.error()));
      delayed_weak_send(self, retry_delay, caf::make_message(register_atom::value));
      return;
    }
    if (!st.remote_ok && !is_loopback(*host)) {
      give_up(self,
              make_error(sc::forbidden,
                         "this server's detected address " + *host +
                             " is not on loopback and it serves without TLS: configure "
                             "TLS (--tls-cert, --tls-key, --tls-ca) or --insecure"));
      return;
    }
    st.addr = *host + ":" + std::to_string(st.port);
  }
  if (cluster_squatted(self))
    return;
  // Its namespaces first, the server's own node last: a server that is
  // listed can be called in every namespace it serves (listed first, a
  // client that saw it could find its namespaces still missing).
  bool ok = write_metadata(self);
  for (auto& kvp : st.namespaces)
    ok = ok && publish_namespace(self, kvp.first);
  ok = ok && claim(self, paths(self).server(st.addr), st.server_data);
  if (ok)
    st.link.zk->exists(paths(self).server(st.addr), true); // healed if deleted
  // Leaving (after a new session too): said until the server stops.
  ok = ok && (!st.leaving || claim(self, paths(self).leaving(st.addr), ""));
  if (ok) {
    spdlog::info("registry: {} registered in {}", st.addr, paths(self).base());
    st.registered = true;
    for (auto& rp : st.waiters)
      rp.deliver(true);
    st.waiters.clear();
  } else {
    // A chroot in the connection string ("host:2181/apps") must exist: the
    // client creates nodes below it, never the chroot itself.
    auto& zk = st.link.opts.zk;
    auto slash = zk.find('/');
    if (slash != std::string::npos &&
        st.link.zk->exists("/", false).code == zk::rc::no_node)
      spdlog::error("registry: the ZooKeeper chroot {} does not exist: create it once "
                    "(zkCli.sh create {}) or drop it from the connection string; trying "
                    "again",
                    zk.substr(slash), zk.substr(slash));
    else
      spdlog::warn("registry: registering {} failed; trying again", st.addr);
    delayed_weak_send(self, retry_delay, caf::make_message(register_atom::value));
  }
}

/// One of this server's own nodes changed or went away: heal it; or a
/// predecessor in an election went away (or another watch fired).
void on_node_event(self_ptr self, const std::string& path) {
  auto& st = self->state;
  if (st.registered && connected(self)) {
    if (path == paths(self).server(st.addr)) {
      heal(self, path, st.server_data);
      return;
    }
    for (auto& kvp : st.namespaces)
      if (path == paths(self).provider(kvp.first, st.addr)) {
        heal(self, path, "");
        return;
      }
  }
  for (auto& kvp : std::map<std::string, std::string>{st.candidates})
    if (path.rfind(paths(self).ns(kvp.first) + "/", 0) == 0)
      check_election(self, kvp.first);
}

} // namespace

std::string to_json(const function_info& info) {
  return nlohmann::json{
      {"name", info.name},
      {"doc", info.doc},
      // One list of argument types per arity (Clojure's
      // arglists): an array of arrays, never an object
      // (nlohmann reads {{"a","b"}} as a key-value pair).
      {"arglists", nlohmann::json::array({nlohmann::json(info.arg_types)})},
      {"args", info.arg_types},
      {"result", info.result_type},
      {"codecs", info.codecs},
      {"blocking", info.blocking},
      {"idempotent", info.idempotent}}
      .dump();
}

registrar_internal_type::behavior_type
registrar_actor(registrar_internal_type::stateful_pointer<registrar_state> self,
                zk_options opts, std::string host, uint16_t port, std::string server_data,
                std::map<std::string, std::vector<function_info>> namespaces,
                bool remote_ok, zk::connector connect) {
  auto& st = self->state;
  st.remote_ok = remote_ok;
  st.link.opts = std::move(opts);
  st.link.connect = std::move(connect);
  st.port = port;
  if (!host.empty())
    st.addr = host + ":" + std::to_string(port);
  st.server_data = std::move(server_data);
  st.namespaces = std::move(namespaces);
  st.link.open(self);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& ws = self->state.watchers;
    ws.erase(
        std::remove_if(ws.begin(), ws.end(),
                       [&](const caf::actor& w) { return w.address() == msg.source; }),
        ws.end());
  });
  return {
      [=](zk_event_atom, uint64_t gen, uint8_t type, uint8_t state, std::string& path) {
        auto& link = self->state.link;
        link.handle(
            self, gen, type, state, path,
            {
                [=](const std::string& node, zk::event_type) {
                  on_node_event(self, node);
                },
                [=] {
                  auto& st = self->state;
                  if (st.link.status != registry_status::connecting)
                    spdlog::info("registry: {} reconnected to ZooKeeper", st.addr);
                  st.link.status = registry_status::connected;
                  register_all(self); // idempotent: also right after a mere reconnect
                },
                [=] {
                  auto& st = self->state;
                  spdlog::warn("registry: connection to ZooKeeper lost; {} keeps serving",
                               st.addr);
                  st.link.status = registry_status::suspended;
                  step_down_later(self);
                },
                [=] {
                  spdlog::warn("registry: session of {} expired; stepping down and "
                               "registering again",
                               self->state.addr);
                  start_over(self, " (session expired)");
                },
            });
      },
      [=](retry_atom, uint64_t gen) {
        auto& st = self->state;
        auto& link = st.link;
        if (!link.on_retry(self, gen))
          return;
        // Lost: ZooKeeper expired the session (or came back without it).
        spdlog::warn(
            "registry: session of {} lost (disconnected longer than its timeout); "
            "stepping down and registering again on a new one",
            st.addr);
        start_over(self, " (session lost)");
      },
      [=](step_down_atom, uint64_t outage) {
        auto& st = self->state;
        if (outage == st.outage && st.link.status != registry_status::connected)
          step_down_all(self, " (ZooKeeper link down)");
      },
      [=](subscribe_atom, caf::actor& who) {
        auto& st = self->state;
        if (!who)
          return;
        st.watchers.push_back(who);
        self->monitor(who);
        for (auto& ns : st.leading)
          caf::anon_send(who, leadership{ns, true, token_of(self, ns)});
      },
      [=](publish_atom, const std::string& ns, std::vector<function_info>& fns) {
        self->state.namespaces[ns] = std::move(fns);
        if (connected(self) && !self->state.addr.empty() &&
            !(write_metadata(self, &ns) && publish_namespace(self, ns)))
          delayed_weak_send(self, retry_delay, caf::make_message(register_atom::value));
        return true;
      },
      [=](unpublish_atom, const std::string& ns) {
        auto& st = self->state;
        if (st.namespaces.erase(ns) == 0)
          return false;
        lead(self, ns, false, " (unpublished)");
        if (connected(self)) {
          st.link.zk->remove(paths(self).provider(ns, st.addr));
          if (auto i = st.candidates.find(ns); i != st.candidates.end())
            st.link.zk->remove(i->second);
        }
        st.candidates.erase(ns);
        return true;
      },
      [=](leave_atom) {
        // Out of routing: every namespace unpublished (its leadership ended),
        // then marked leaving; the server node stays until the server stops
        // (the registrar ends with its session). Sent without waiting: a
        // silent ZooKeeper must not hold up the stop.
        auto& st = self->state;
        st.leaving = true;
        std::vector<std::string> removals;
        for (auto& kvp : st.namespaces) {
          auto& ns = kvp.first;
          lead(self, ns, false, " (leaving)");
          removals.push_back(paths(self).provider(ns, st.addr));
          if (auto i = st.candidates.find(ns); i != st.candidates.end())
            removals.push_back(i->second);
        }
        st.namespaces.clear();
        st.candidates.clear();
        if (connected(self) && !st.addr.empty())
          st.link.zk->send_and_forget(removals,
                                      st.registered ? paths(self).leaving(st.addr) : "");
        return true;
      },
      [=](set_data_atom, std::string& json) {
        auto& st = self->state;
        st.server_data = std::move(json);
        if (connected(self) && !st.addr.empty() &&
            !claim(self, paths(self).server(st.addr), st.server_data))
          delayed_weak_send(self, retry_delay, caf::make_message(register_atom::value));
        return true;
      },
      [=](wait_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (st.fatal)
          return st.fatal;
        if (st.registered)
          return true;
        auto rp = self->make_response_promise();
        st.waiters.push_back(rp);
        return caf::delegated<bool>{};
      },
      [=](address_atom) { return self->state.addr; },
      [=](register_atom) { register_all(self); },
      [=](leaders_atom) {
        std::vector<leadership> result;
        for (auto& ns : self->state.leading)
          result.push_back({ns, true, token_of(self, ns)});
        return result;
      },
      [=](zk_requests_atom) {
        auto n = self->state.link.requests();
        return std::vector<uint64_t>{n.reads, n.writes};
      },
  };
}

} // namespace slacker
