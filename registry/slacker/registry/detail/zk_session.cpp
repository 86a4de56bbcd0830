#include "slacker/registry/detail/zk_session.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <spdlog/spdlog.h>

#include "slacker/messages/error.hpp"
#include "slacker/runtime/wire_options.hpp"

namespace slacker::zk {

namespace {

rc to_rc(int code) {
  if (code == ZOK)
    return rc::ok;
  if (code == ZNONODE)
    return rc::no_node;
  if (code == ZNODEEXISTS)
    return rc::node_exists;
  if (code == ZNOTEMPTY)
    return rc::not_empty;
  if (code == ZCONNECTIONLOSS || code == ZOPERATIONTIMEOUT)
    return rc::connection_loss;
  if (code == ZSESSIONEXPIRED || code == ZINVALIDSTATE)
    return rc::session_expired;
  return rc::other;
}

status make_status(int code) {
  return status{to_rc(code), code == ZOK ? std::string{} : std::string{zerror(code)}};
}

session_state to_state(int state) {
  if (state == ZOO_CONNECTED_STATE)
    return session_state::connected;
  if (state == ZOO_READONLY_STATE) // never asked for (flags 0)
    return session_state::not_zookeeper;
  if (state == ZOO_EXPIRED_SESSION_STATE)
    return session_state::expired;
  if (state == ZOO_AUTH_FAILED_STATE)
    return session_state::auth_failed;
  if (state == 0)
    return session_state::closed;
  return session_state::connecting;
}

event_type to_type(int type) {
  if (type == ZOO_CREATED_EVENT)
    return event_type::created;
  if (type == ZOO_DELETED_EVENT)
    return event_type::deleted;
  if (type == ZOO_CHANGED_EVENT)
    return event_type::changed;
  if (type == ZOO_CHILD_EVENT)
    return event_type::child;
  if (type == ZOO_SESSION_EVENT)
    return event_type::session;
  return event_type::not_watching;
}

/// The C client's log lines, without its own timestamp and thread prefix
/// (`2026-11-27 11:19:56,981:18482(0x7f...):ZOO_ERROR@check_events@3011: `).
/// They repeat many times a second while ZooKeeper is unreachable, so they go
/// to debug (trace for its info lines): the registry actors log each state
/// change once, and an outage once every 10 s.
void log_line(const char* message) {
  auto has = [message](const char* tag) {
    return std::strstr(message, tag) != nullptr;
  };
  const char* text = message;
  if (auto tag = std::strstr(message, ":ZOO_")) {
    if (auto end = std::strstr(tag, ": "))
      text = end + 2;
  }
  if (has("ZOO_ERROR") || has("ZOO_WARN"))
    spdlog::debug("zookeeper client: {}", text);
  else
    spdlog::trace("zookeeper client: {}", text);
}

} // namespace

/// The C client's session.
class c_session final : public session {
public:
  struct impl;
  explicit c_session(std::unique_ptr<impl> p);
  ~c_session() override;
  int64_t id() const override;
  std::chrono::milliseconds timeout() const override;
  status create(const std::string& path, const std::string& data, node_kind kind,
                bool parents, std::string* created) override;
  status get(const std::string& path, bool watch, std::string& data,
             node_stat* st) override;
  status set(const std::string& path, const std::string& data) override;
  status children(const std::string& path, bool watch, std::vector<std::string>& out,
                  node_stat* st) override;
  status exists(const std::string& path, bool watch, node_stat* st) override;
  status replace_ephemeral(const std::string& path, const std::string& data) override;
  status
  create_all(const std::vector<std::pair<std::string, std::string>>& nodes) override;
  status remove(const std::string& path) override;
  void send_and_forget(const std::vector<std::string>& removals,
                       const std::string& ephemeral) override;
  status acl(const std::string& path, std::vector<acl_entry>& out) override;

private:
  std::unique_ptr<impl> impl_;
};

session::~session() = default;

struct c_session::impl {
  zhandle_t* zh = nullptr;
  callback cb;
  std::vector<ACL> acl_entries;
  ACL_vector acl{0, nullptr};
  std::vector<ACL> shared_entries;
  ACL_vector shared_acl{0, nullptr};
  std::string shared_root;
  std::string digest_scheme = "digest";
  std::string auth_id = "auth";
  std::string world_scheme = "world";
  std::string anyone = "anyone";
  std::string empty;

  static void watcher(zhandle_t*, int type, int state, const char* path, void* ctx) {
    auto self = static_cast<impl*>(ctx);
    self->cb(event{to_type(type), to_state(state), path ? path : ""});
  }

  ACL_vector* acl_ptr() {
    return acl.count > 0 ? &acl : &ZOO_OPEN_ACL_UNSAFE;
  }

  /// The ACL of a parent created on the way to a node.
  ACL_vector* parent_acl_ptr(const std::string& parent) {
    if (acl.count == 0 || shared_root.empty())
      return acl_ptr();
    bool ancestor =
        shared_root.rfind(parent, 0) == 0 &&
        (shared_root.size() == parent.size() || shared_root[parent.size()] == '/');
    return ancestor ? &shared_acl : &acl;
  }
};

c_session::c_session(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

c_session::~c_session() {
  if (impl_ && impl_->zh)
    zookeeper_close(impl_->zh); // joins the client's threads: no callback after this
}

caf::expected<std::unique_ptr<session>>
session::open(const std::string& hosts, std::chrono::milliseconds session_timeout,
              callback cb, auth_options auth) {
  auto p = std::make_unique<c_session::impl>();
  p->cb = std::move(cb);
  auto raw = p.get();
  p->zh = zookeeper_init2(hosts.c_str(), c_session::impl::watcher,
                          static_cast<int>(session_timeout.count()), nullptr, raw, 0,
                          log_line);
  if (p->zh == nullptr)
    return make_error(sc::invalid_request, "cannot use ZooKeeper address '" + hosts +
                                               "': " + std::strerror(errno));
  if (!auth.digest.empty()) {
    zoo_add_auth(p->zh, "digest", auth.digest.c_str(),
                 static_cast<int>(auth.digest.size()), nullptr, nullptr);
    // Written by this user only ("auth": the creator's credentials), read by all.
    p->acl_entries.push_back(ACL{ZOO_PERM_ALL, Id{p->auth_id.data(), p->empty.data()}});
    p->acl_entries.push_back(
        ACL{ZOO_PERM_READ, Id{p->world_scheme.data(), p->anyone.data()}});
    p->acl.count = static_cast<int32_t>(p->acl_entries.size());
    p->acl.data = p->acl_entries.data();
    // Shared parents: anyone reads them and adds children (a cluster of its
    // own); nobody can change or delete them.
    p->shared_root = auth.shared_root;
    p->shared_entries.push_back(ACL{ZOO_PERM_READ | ZOO_PERM_CREATE,
                                    Id{p->world_scheme.data(), p->anyone.data()}});
    p->shared_acl.count = 1;
    p->shared_acl.data = p->shared_entries.data();
  }
  return std::unique_ptr<session>{new c_session(std::move(p))};
}

int64_t c_session::id() const {
  auto cid = zoo_client_id(impl_->zh);
  return cid ? cid->client_id : 0;
}

std::chrono::milliseconds c_session::timeout() const {
  return std::chrono::milliseconds{zoo_recv_timeout(impl_->zh)};
}

status c_session::create(const std::string& path, const std::string& data, node_kind kind,
                         bool parents, std::string* created) {
  int flags = ZOO_PERSISTENT;
  if (kind == node_kind::ephemeral)
    flags = ZOO_EPHEMERAL;
  else if (kind == node_kind::ephemeral_sequential)
    flags = ZOO_EPHEMERAL_SEQUENTIAL;
  std::vector<char> buf(path.size() + 32);
  auto attempt = [&] {
    ++counts_.writes;
    return zoo_create(impl_->zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                      impl_->acl_ptr(), flags, buf.data(), static_cast<int>(buf.size()));
  };
  auto res = attempt();
  if (res == ZNONODE && parents) {
    // The missing parents only: from the nearest one up to the first that
    // exists, then down again.
    std::vector<std::string> missing;
    for (auto pos = path.rfind('/'); pos != std::string::npos && pos > 0;
         pos = path.rfind('/', pos - 1)) {
      auto parent = path.substr(0, pos);
      ++counts_.writes;
      auto made = zoo_create(impl_->zh, parent.c_str(), nullptr, -1,
                             impl_->parent_acl_ptr(parent), ZOO_PERSISTENT, nullptr, 0);
      if (made == ZOK || made == ZNODEEXISTS)
        break;
      if (made != ZNONODE)
        return make_status(made);
      missing.push_back(parent);
    }
    for (auto i = missing.rbegin(); i != missing.rend(); ++i) {
      ++counts_.writes;
      auto made = zoo_create(impl_->zh, i->c_str(), nullptr, -1,
                             impl_->parent_acl_ptr(*i), ZOO_PERSISTENT, nullptr, 0);
      if (made != ZOK && made != ZNODEEXISTS)
        return make_status(made);
    }
    res = attempt();
  }
  if (res == ZOK && created)
    *created = buf.data();
  return make_status(res);
}

status c_session::get(const std::string& path, bool watch, std::string& data,
                      node_stat* st) {
  std::vector<char> buf(64 * 1024);
  int len = static_cast<int>(buf.size());
  Stat s{};
  ++counts_.reads;
  auto res = zoo_get(impl_->zh, path.c_str(), watch ? 1 : 0, buf.data(), &len, &s);
  if (res == ZOK) {
    data.assign(buf.data(), len > 0 ? static_cast<size_t>(len) : 0);
    if (st)
      *st = node_stat{s.ephemeralOwner, s.version, s.ctime};
  }
  return make_status(res);
}

status c_session::set(const std::string& path, const std::string& data) {
  ++counts_.writes;
  return make_status(
      zoo_set(impl_->zh, path.c_str(), data.data(), static_cast<int>(data.size()), -1));
}

status c_session::children(const std::string& path, bool watch,
                           std::vector<std::string>& out, node_stat* st) {
  String_vector names{0, nullptr};
  Stat s{};
  ++counts_.reads;
  auto res = zoo_get_children2(impl_->zh, path.c_str(), watch ? 1 : 0, &names, &s);
  out.clear();
  if (res == ZOK && st)
    *st = node_stat{s.ephemeralOwner, s.version, s.ctime};
  if (res == ZOK) {
    for (int32_t i = 0; i < names.count; ++i)
      out.emplace_back(names.data[i]);
    deallocate_String_vector(&names);
  }
  return make_status(res);
}

status c_session::exists(const std::string& path, bool watch, node_stat* st) {
  Stat s{};
  ++counts_.reads;
  auto res = zoo_exists(impl_->zh, path.c_str(), watch ? 1 : 0, &s);
  if (res == ZOK && st)
    *st = node_stat{s.ephemeralOwner, s.version, s.ctime};
  return make_status(res);
}

status c_session::replace_ephemeral(const std::string& path, const std::string& data) {
  zoo_op_t ops[2];
  zoo_op_result_t results[2];
  std::vector<char> buf(path.size() + 32);
  zoo_delete_op_init(&ops[0], path.c_str(), -1);
  zoo_create_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()),
                     impl_->acl_ptr(), ZOO_EPHEMERAL, buf.data(),
                     static_cast<int>(buf.size()));
  ++counts_.writes;
  return make_status(zoo_multi(impl_->zh, 2, ops, results));
}

status
c_session::create_all(const std::vector<std::pair<std::string, std::string>>& nodes) {
  if (nodes.empty())
    return {};
  std::vector<zoo_op_t> ops(nodes.size());
  std::vector<zoo_op_result_t> results(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto& [path, data] = nodes[i];
    zoo_create_op_init(&ops[i], path.c_str(), data.empty() ? nullptr : data.data(),
                       data.empty() ? -1 : static_cast<int>(data.size()),
                       impl_->parent_acl_ptr(path), ZOO_PERSISTENT, nullptr, 0);
  }
  ++counts_.writes;
  return make_status(
      zoo_multi(impl_->zh, static_cast<int>(ops.size()), ops.data(), results.data()));
}

status c_session::remove(const std::string& path) {
  ++counts_.writes;
  return make_status(zoo_delete(impl_->zh, path.c_str(), -1));
}

namespace {

/// An asynchronous create of an ephemeral node that makes its missing
/// parents on the way (ZNONODE: the parent, then the node again). Runs on
/// the C client's completion thread; freed by its last completion (the
/// client completes pending requests with ZCLOSING when it closes).
struct async_create {
  zhandle_t* zh;
  std::string path;
  std::vector<std::string> parents; // the node's parent first, the top last
  ACL_vector* acl;
  std::vector<ACL_vector*> parent_acls;
  bool retried = false;

  void send() {
    if (zoo_acreate(zh, path.c_str(), "", 0, acl, ZOO_EPHEMERAL, on_node, this) != ZOK)
      delete this;
  }

  static void on_node(int rc, const char*, const void* data) {
    auto self = const_cast<async_create*>(static_cast<const async_create*>(data));
    if (rc != ZNONODE || self->retried || self->parents.empty()) {
      delete self;
      return;
    }
    self->retried = true;
    self->next_parent();
  }

  /// The parents from the root down, each whether it exists or not, then
  /// the node again.
  void next_parent() {
    if (parents.empty()) {
      send();
      return;
    }
    auto parent = std::move(parents.back());
    auto parent_acl = parent_acls.back();
    parents.pop_back();
    parent_acls.pop_back();
    if (zoo_acreate(zh, parent.c_str(), nullptr, -1, parent_acl, ZOO_PERSISTENT,
                    on_parent, this) != ZOK)
      delete this;
  }

  static void on_parent(int rc, const char*, const void* data) {
    auto self = const_cast<async_create*>(static_cast<const async_create*>(data));
    if (rc == ZOK || rc == ZNODEEXISTS)
      self->next_parent();
    else
      delete self;
  }
};

void ignore_outcome(int, const void*) {
  // fire and forget
}

} // namespace

void c_session::send_and_forget(const std::vector<std::string>& removals,
                                const std::string& ephemeral) {
  for (auto& path : removals) {
    ++counts_.writes;
    zoo_adelete(impl_->zh, path.c_str(), -1, ignore_outcome, nullptr);
  }
  if (ephemeral.empty())
    return;
  auto op = new async_create{impl_->zh, ephemeral, {}, impl_->acl_ptr(), {}};
  // Parents from the node's up to the first level below the root.
  for (auto pos = ephemeral.rfind('/'); pos != std::string::npos && pos > 0;
       pos = ephemeral.rfind('/', pos - 1)) {
    op->parents.push_back(ephemeral.substr(0, pos));
    op->parent_acls.push_back(impl_->parent_acl_ptr(op->parents.back()));
  }
  // Made from the root down (popped from the back) only when the node's
  // parent is missing.
  ++counts_.writes;
  op->send();
}

status c_session::acl(const std::string& path, std::vector<acl_entry>& out) {
  ACL_vector acl{0, nullptr};
  Stat s{};
  ++counts_.reads;
  auto res = zoo_get_acl(impl_->zh, path.c_str(), &acl, &s);
  out.clear();
  if (res == ZOK) {
    for (int32_t i = 0; i < acl.count; ++i) {
      auto& e = acl.data[i];
      out.push_back({e.id.scheme ? e.id.scheme : "", e.id.id ? e.id.id : "", e.perms});
    }
    deallocate_ACL_vector(&acl);
  }
  return make_status(res);
}

std::string digest_id(const std::string& user_password) {
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(user_password.data()), user_password.size(),
       sha);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
  auto user = user_password.substr(0, user_password.find(':'));
  return user + ":" + reinterpret_cast<const char*>(b64);
}

caf::expected<std::string> local_address_towards(const std::string& hosts) {
  // The source address the routing table picks towards each ZooKeeper server
  // (a UDP socket's connect sends nothing and does not wait on the network):
  // one address for all of them, or the choice is the user's.
  std::map<std::string, std::string> local_of; // local address -> a server it reaches
  std::string unroutable;
  size_t start = 0;
  while (start <= hosts.size()) {
    auto end = hosts.find(',', start);
    auto hostport = hosts.substr(start, end == std::string::npos ? end : end - start);
    start = end == std::string::npos ? hosts.size() + 1 : end + 1;
    if (auto slash = hostport.find('/'); slash != std::string::npos)
      hostport.erase(slash); // a chroot after the last server
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos)
      continue;
    auto host = hostport.substr(0, colon);
    auto port = hostport.substr(colon + 1);
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    std::string found;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0) {
      for (auto ai = res; ai != nullptr && found.empty(); ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
          continue;
        sockaddr_storage local{};
        socklen_t len = sizeof(local);
        char text[INET6_ADDRSTRLEN] = {0};
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
          if (local.ss_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, text,
                      sizeof(text));
          else
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, text,
                      sizeof(text));
          found = text;
        }
        close(fd);
      }
      freeaddrinfo(res);
    }
    if (found.empty())
      unroutable += (unroutable.empty() ? "" : ", ") + hostport;
    else
      local_of.emplace(found, hostport);
  }
  if (local_of.size() == 1)
    return local_of.begin()->first;
  // Only loopback (127.0.0.1 and ::1 for "localhost"): one host, IPv4 first.
  if (!local_of.empty() && std::all_of(local_of.begin(), local_of.end(),
                                       [](auto& kv) { return is_loopback(kv.first); })) {
    for (auto& kv : local_of)
      if (kv.first != "::1")
        return kv.first;
    return std::string{"::1"};
  }
  if (local_of.empty())
    return make_error(sc::unavailable,
                      "cannot detect this server's address: no route to any ZooKeeper "
                      "server (tried " +
                          (unroutable.empty() ? hosts : unroutable) +
                          "); set the node address");
  std::string seen;
  for (auto& [local, server] : local_of)
    seen += (seen.empty() ? "" : " and ") + local + " (towards " + server + ")";
  return make_error(sc::invalid_request,
                    "cannot detect this server's address: this host reaches ZooKeeper "
                    "from " +
                        seen +
                        "; set the node address (--node) to the one clients reach "
                        "it at");
}

void set_client_log_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl <= spdlog::level::trace)
    zoo_set_debug_level(ZOO_LOG_LEVEL_DEBUG);
  else if (lvl <= spdlog::level::debug)
    zoo_set_debug_level(ZOO_LOG_LEVEL_INFO);
  else if (lvl <= spdlog::level::warn)
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  else
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
}

} // namespace slacker::zk
