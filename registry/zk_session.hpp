#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

// The ZooKeeper C client stays out of this header: its types are in the .cpp.

namespace slacker::zk {

/// How a node is created.
enum class node_kind { persistent, ephemeral, ephemeral_sequential };

/// ZooKeeper's connection states and event types, as plain values.
/// `not_zookeeper`: the peer answered the handshake as no ZooKeeper server
/// would (a read-only session nobody asked for: e.g. an HTTP server parsed as
/// a handshake); the session is of no use.
enum class session_state { connecting, connected, expired, auth_failed, closed, not_zookeeper };
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
enum class rc { ok, no_node, node_exists, not_empty, connection_loss, session_expired, other };

/// A synchronous result: the code, and ZooKeeper's own text for it.
struct status {
  rc code = rc::ok;
  std::string text;
  explicit operator bool() const noexcept { return code == rc::ok; }
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
};

/// RAII over one handle of the multi-threaded C client. The callback runs on
/// the client's completion thread: it must only hand the event on (post a
/// message to an actor). Operations are synchronous: call them from an actor
/// of its own (a detached actor), never from CAF's shared threads.
class session {
public:
  using callback = std::function<void(const event&)>;

  /// Starts connecting to `hosts` (comma-separated `host:port` list). The
  /// connection itself is reported later through `cb` (state connected).
  static caf::expected<std::unique_ptr<session>>
  open(const std::string& hosts, std::chrono::milliseconds session_timeout, callback cb,
       auth_options auth = {});

  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The session id once connected, 0 before.
  int64_t id() const;

  /// The negotiated session timeout.
  std::chrono::milliseconds timeout() const;

  /// The requests sent on this session so far.
  request_counts requests() const noexcept {
    return counts_;
  }

  /// Creates `path` (its parents too, as persistent nodes, when `parents`
  /// and only when missing); `created` gets the actual path (with the
  /// sequence number).
  status create(const std::string& path, const std::string& data, node_kind kind,
                bool parents, std::string* created = nullptr);

  status get(const std::string& path, bool watch, std::string& data,
             node_stat* st = nullptr);

  status set(const std::string& path, const std::string& data);

  status children(const std::string& path, bool watch, std::vector<std::string>& out);

  status exists(const std::string& path, bool watch, node_stat* st = nullptr);

  /// Deletes `path` and creates it again as an ephemeral node with `data`, in
  /// one transaction: watchers never see it missing.
  status replace_ephemeral(const std::string& path, const std::string& data);

  /// Deletes `path` regardless of its version; `no_node` when it is gone already.
  status remove(const std::string& path);

  /// Whether `path`'s ACL lets anyone (scheme `world`) do more than read it
  /// or add children: `writable` true when anyone may write, delete or
  /// administer it.
  status world_writable(const std::string& path, bool& writable);

  struct impl;

private:
  explicit session(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  request_counts counts_;
};

/// The local IP address this host uses to reach the first of `hosts` that
/// accepts a TCP connection; a clear error when none does.
caf::expected<std::string> local_address_towards(const std::string& hosts);

/// Sets the minimum level of the C client's own log (which goes to spdlog).
void set_client_log_level(const std::string& spdlog_level);

} // namespace slacker::zk
