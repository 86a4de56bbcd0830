#pragma once

// ZooKeeper's vocabulary as plain values: session states, event types, result
// codes, digest authentication, request counts. The C client stays out.

#include <cstdint>
#include <string>

namespace slacker::zk {

/// How a node is created.
enum class node_kind { persistent, ephemeral, ephemeral_sequential };

/// ZooKeeper's connection states and event types, as plain values.
/// `not_zookeeper`: the peer answered the handshake as no ZooKeeper server
/// would (a read-only session nobody asked for: e.g. an HTTP server parsed as
/// a handshake); the session is of no use.
enum class session_state {
  connecting,
  connected,
  expired,
  auth_failed,
  closed,
  not_zookeeper
};
enum class event_type { session, created, deleted, changed, child, not_watching };

/// One watch or session event, as the C client reported it.
struct event {
  event_type type;
  session_state state;
  std::string path;
};

/// Optional digest authentication: `user:password`. When set, nodes the
/// session creates are readable by anyone and writable by this user only,
/// except `shared_root` and its ancestors (e.g. `/slacker/cluster` and
/// `/slacker`), which anyone may read and add children to, so that several
/// identities can each own clusters under them.
struct auth_options {
  std::string digest;
  std::string shared_root;
};

/// Result codes of ZooKeeper operations the callers tell apart.
enum class rc {
  ok,
  no_node,
  node_exists,
  not_empty,
  connection_loss,
  session_expired,
  other
};

/// A synchronous result: the code, and ZooKeeper's own text for it.
struct status {
  rc code = rc::ok;
  std::string text;
  explicit operator bool() const noexcept {
    return code == rc::ok;
  }
};

/// Requests a session sent: reads (get, children, exists, ACL) and writes
/// (create, set, delete, transactions), for tests and the scale bench.
struct request_counts {
  uint64_t reads = 0;
  uint64_t writes = 0;
};

/// What `stat` tells of a node.
struct node_stat {
  int64_t ephemeral_owner = 0; // session id of the owner; 0 for persistent nodes
  int32_t version = 0;
  int64_t ctime = 0; // created at, ms since the epoch (the ZooKeeper server's clock)
};

} // namespace slacker::zk
