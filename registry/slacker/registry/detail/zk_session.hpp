#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/registry/zookeeper.hpp"

// The ZooKeeper C client stays out of this header: its types are in the .cpp.

namespace slacker::zk {

/// One entry of a node's ACL: who (`scheme`, `id`: `world`/`anyone`,
/// `digest`/`user:hash`, ...) may do what (`perms`, ZooKeeper's bits).
struct acl_entry {
  std::string scheme;
  std::string id;
  int32_t perms = 0;
};

constexpr int32_t perm_read = 1; // ZooKeeper's READ bit (CREATE 4, WRITE 2, ...)

/// The id ZooKeeper gives a digest identity `user:password` in ACLs:
/// `user:base64(sha1(user:password))`.
std::string digest_id(const std::string& user_password);

/// A ZooKeeper session: the operations the registry actor and the registrar
/// use, behind a seam (`connector`) so that tests can run them on a fake.
/// `open` makes the real one: RAII over one handle of the multi-threaded C
/// client. The callback runs on the client's completion thread: it must only
/// hand the event on (post a message to an actor). Operations are
/// synchronous: call them from an actor of its own (a detached actor), never
/// from CAF's shared threads.
class session {
public:
  using callback = std::function<void(const event&)>;

  /// Starts connecting to `hosts` (comma-separated `host:port` list) with the
  /// C client. The connection itself is reported later through `cb` (state
  /// connected).
  static caf::expected<std::unique_ptr<session>>
  open(const std::string& hosts, std::chrono::milliseconds session_timeout, callback cb,
       auth_options auth = {});

  virtual ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The session id once connected, 0 before.
  virtual int64_t id() const = 0;

  /// The negotiated session timeout (0 before it is known).
  virtual std::chrono::milliseconds timeout() const = 0;

  /// The requests sent on this session so far.
  request_counts requests() const noexcept {
    return counts_;
  }

  /// Creates `path` (its parents too, as persistent nodes, when `parents`
  /// and only when missing); `created` gets the actual path (with the
  /// sequence number).
  virtual status create(const std::string& path, const std::string& data, node_kind kind,
                        bool parents, std::string* created = nullptr) = 0;

  virtual status get(const std::string& path, bool watch, std::string& data,
                     node_stat* st = nullptr) = 0;

  virtual status set(const std::string& path, const std::string& data) = 0;

  /// `path`'s children; `st` (when given) gets `path`'s own stat.
  virtual status children(const std::string& path, bool watch,
                          std::vector<std::string>& out, node_stat* st = nullptr) = 0;

  virtual status exists(const std::string& path, bool watch, node_stat* st = nullptr) = 0;

  /// Deletes `path` and creates it again as an ephemeral node with `data`, in
  /// one transaction: watchers never see it missing.
  virtual status replace_ephemeral(const std::string& path, const std::string& data) = 0;

  /// Creates the persistent nodes `nodes` (path, data; a parent before its
  /// children) in one transaction: all of them, or none (`node_exists` when
  /// one is there already). Folders above the cluster get the shared ACL,
  /// as `create`'s parents do.
  virtual status
  create_all(const std::vector<std::pair<std::string, std::string>>& nodes) = 0;

  /// Deletes `path` regardless of its version; `no_node` when it is gone already.
  virtual status remove(const std::string& path) = 0;

  /// Without waiting for ZooKeeper (for a server that stops and must not
  /// wait on a silent ensemble): deletes each of `removals`, then creates
  /// `ephemeral` (empty, its missing parents too) when not empty. Sent in
  /// this order on this session; the outcomes are not reported (a node that
  /// stays goes with the session).
  virtual void send_and_forget(const std::vector<std::string>& removals,
                               const std::string& ephemeral) = 0;

  /// `path`'s ACL.
  virtual status acl(const std::string& path, std::vector<acl_entry>& out) = 0;

protected:
  session() = default;
  request_counts counts_; // counted by each implementation
};

/// Opens sessions: `session::open` (the C client), or a fake in tests.
using connector = std::function<caf::expected<std::unique_ptr<session>>(
    const std::string& hosts, std::chrono::milliseconds session_timeout,
    session::callback cb, auth_options auth)>;

/// The local IP address this host sends from towards the ZooKeeper servers
/// `hosts` (the routing table's choice; nothing is sent): an `unavailable`
/// error when none has a route, an `invalid_request` error naming the
/// addresses when they differ (a host with several interfaces: the user
/// chooses).
caf::expected<std::string> local_address_towards(const std::string& hosts);

/// Sets the minimum level of the C client's own log (which goes to spdlog).
void set_client_log_level(const std::string& spdlog_level);

} // namespace slacker::zk
