#pragma once

// What the registry tells its subscribers: a snapshot first, then events.
// Addresses are "host:port"; server-data is the JSON text the server set.

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <caf/message_handler.hpp>
#include <caf/meta/type_name.hpp>

namespace slacker {

/// The registry's link to ZooKeeper.
enum class registry_status : uint8_t {
  connecting, // never connected yet
  connected,  // the view is current
  suspended,  // connection lost, session alive: the view is kept and may be old
  expired,    // the session ended: a new one is being opened, the view re-read
};

const char* to_string(registry_status x);

struct member_up {
  std::string addr;
  std::string data;
};

struct member_down {
  std::string addr;
};

/// A server began to leave (Akka's MemberLeft): it drains, out of routing,
/// finishing its calls, and `member_down` follows. From the registry (the
/// server marked itself leaving in ZooKeeper) and, for a cluster client's
/// subscribers, from the server's going-away on a connection, whichever
/// comes first (once per leave).
struct member_leaving {
  std::string addr;
};

/// This cluster client's failure detector stopped routing to a member
/// (Akka's UnreachableMember): its connection dropped, or `reason` (calls
/// timing out in a row). Per client: other clients may still reach it.
struct member_unreachable {
  std::string addr;
  std::string reason;
};

/// A member this client found unreachable answers again (ReachableMember).
struct member_reachable {
  std::string addr;
};

struct server_data_changed {
  std::string addr;
  std::string data;
};

struct namespace_up {
  std::string ns;
  std::string addr;
};

struct namespace_down {
  std::string ns;
  std::string addr;
};

/// Fences a leader's writes: compare tokens and reject the older. Within one
/// election a newer leader's candidate always has a higher `sequence`
/// (ZooKeeper numbers the candidates in order); the numbers start again when
/// the election's node is made anew (a ZooKeeper that lost its data, the
/// node deleted), so tokens compare by `incarnation` first: when that node
/// was made (ms since the epoch, by the ZooKeeper server's clock), larger
/// after every re-creation. `session` names the ZooKeeper session that holds
/// it. All 0: not leading.
struct fencing_token {
  int64_t session = 0;
  uint64_t sequence = 0;
  int64_t incarnation = 0;
};

inline bool operator<(const fencing_token& x, const fencing_token& y) {
  if (x.incarnation != y.incarnation)
    return x.incarnation < y.incarnation;
  return x.sequence < y.sequence;
}

/// `addr` is empty when the namespace has no leader; `token` is the new
/// leader's fencing token as ZooKeeper holds it (its candidate's sequence
/// and owner, its election's incarnation).
struct leader_changed {
  std::string ns;
  std::string addr;
  fencing_token token;
};

/// A server's own leadership of namespace `ns` began (`leading`) or ended:
/// sent by its registration to the actors that subscribed there. A leader
/// steps down before ZooKeeper could elect another: when its link has been
/// down for `slacker.leader-step-down` of the session timeout, on expiry,
/// and when it unpublishes the namespace.
struct leadership {
  std::string ns;
  bool leading = false;
  fencing_token token; // zeros when not leading
};

struct registry_state {
  registry_status status = registry_status::connecting;
  int64_t view_age_ms = 0; // time since the view was last known current
  int64_t session = 0;     // the registry's ZooKeeper session id (0: none yet)
};

/// The whole view, sent to a new subscriber before any event.
struct membership_view {
  std::map<std::string, std::string> servers;              // addr -> server-data
  std::map<std::string, std::set<std::string>> namespaces; // ns -> addrs
  std::map<std::string, std::string> leaders;              // ns -> addr
  std::map<std::string, fencing_token> tokens;             // ns -> its leader's token
  std::set<std::string> leaving;                           // servers leaving
  registry_state state;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_up& x) {
  return f(caf::meta::type_name("slacker::member_up"), x.addr, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_down& x) {
  return f(caf::meta::type_name("slacker::member_down"), x.addr);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_leaving& x) {
  return f(caf::meta::type_name("slacker::member_leaving"), x.addr);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_unreachable& x) {
  return f(caf::meta::type_name("slacker::member_unreachable"), x.addr, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_reachable& x) {
  return f(caf::meta::type_name("slacker::member_reachable"), x.addr);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_data_changed& x) {
  return f(caf::meta::type_name("slacker::server_data_changed"), x.addr, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, namespace_up& x) {
  return f(caf::meta::type_name("slacker::namespace_up"), x.ns, x.addr);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, namespace_down& x) {
  return f(caf::meta::type_name("slacker::namespace_down"), x.ns, x.addr);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leader_changed& x) {
  return f(caf::meta::type_name("slacker::leader_changed"), x.ns, x.addr, x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fencing_token& x) {
  return f(caf::meta::type_name("slacker::fencing_token"), x.session, x.sequence,
           x.incarnation);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leadership& x) {
  return f(caf::meta::type_name("slacker::leadership"), x.ns, x.leading, x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_state& x) {
  return f(caf::meta::type_name("slacker::registry_state"), x.status, x.view_age_ms,
           x.session);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, membership_view& x) {
  return f(caf::meta::type_name("slacker::membership_view"), x.servers, x.namespaces,
           x.leaders, x.tokens, x.leaving, x.state);
}

/// One handler for each membership message, each passing it on to `f` (a
/// generic lambda or an overload set): the one list of the types, for an
/// actor that takes them all (`return slacker::on_membership(f);`).
template <class F> caf::message_handler on_membership(F f) {
  return {
      [f](membership_view& x) mutable { f(x); },
      [f](member_up& x) mutable { f(x); },
      [f](member_down& x) mutable { f(x); },
      [f](member_leaving& x) mutable { f(x); },
      [f](member_unreachable& x) mutable { f(x); },
      [f](member_reachable& x) mutable { f(x); },
      [f](server_data_changed& x) mutable { f(x); },
      [f](namespace_up& x) mutable { f(x); },
      [f](namespace_down& x) mutable { f(x); },
      [f](leader_changed& x) mutable { f(x); },
      [f](registry_state& x) mutable { f(x); },
  };
}

} // namespace slacker
