#pragma once

// An in-memory ZooKeeper behind the session seam (`zk::connector`): one tree,
// sessions that own ephemeral nodes, sequential nodes, one-shot watches. Events
// go to a session's callback at once (which posts them to its actor, run by the
// test coordinator). Tests drive faults: disconnect, reconnect, expire.

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "slacker/registry/detail/zk_session.hpp"

namespace slacker_test {

namespace zk = slacker::zk;

class fake_zookeeper {
public:
  struct node {
    std::string data;
    int64_t owner = 0; // session id of an ephemeral node's owner
    int32_t version = 0;
    int64_t next_seq = 0; // of its sequential children
    int64_t ctime = 0;    // a clock that only moves on: one tick per creation
  };

  fake_zookeeper() {
    tree_["/"] = node{};
  }

  /// Opens sessions on this ZooKeeper; each says `connected` at once.
  zk::connector connector() {
    return [this](const std::string&, std::chrono::milliseconds timeout,
                  zk::session::callback cb,
                  zk::auth_options) -> caf::expected<std::unique_ptr<zk::session>> {
      auto s = std::make_unique<session>(*this, ++last_id_, timeout, std::move(cb));
      sessions_[s->id_] = s.get();
      s->cb_(zk::event{zk::event_type::session, zk::session_state::connected, ""});
      return std::unique_ptr<zk::session>{std::move(s)};
    };
  }

  /// The sessions open now, oldest first.
  std::vector<int64_t> sessions() const {
    std::vector<int64_t> out;
    for (auto& kvp : sessions_)
      out.push_back(kvp.first);
    return out;
  }

  /// The link of session `id` drops: it says `connecting`, its requests fail.
  void disconnect(int64_t id) {
    auto s = sessions_.at(id);
    s->connected_ = false;
    s->cb_(zk::event{zk::event_type::session, zk::session_state::connecting, ""});
  }

  /// The link of session `id` is back, and drops again at its next request
  /// (which fails with connection loss): it says `connected`, then
  /// `connecting` from inside that request.
  void reconnect_briefly(int64_t id) {
    auto s = sessions_.at(id);
    s->drop_at_next_request_ = true;
    reconnect(id);
  }

  /// The link of session `id` is back before its timeout.
  void reconnect(int64_t id) {
    auto s = sessions_.at(id);
    s->connected_ = true;
    s->cb_(zk::event{zk::event_type::session, zk::session_state::connected, ""});
  }

  /// ZooKeeper expires session `id`: its ephemeral nodes go, it says `expired`.
  void expire(int64_t id) {
    auto s = sessions_.at(id);
    drop(id);
    s->cb_(zk::event{zk::event_type::session, zk::session_state::expired, ""});
  }

  bool contains(const std::string& path) const {
    return tree_.count(path) > 0;
  }

  std::string data(const std::string& path) const {
    auto i = tree_.find(path);
    return i == tree_.end() ? std::string{} : i->second.data;
  }

  /// The names of `path`'s children.
  std::vector<std::string> children(const std::string& path) const {
    std::vector<std::string> out;
    for (auto& kvp : tree_)
      if (kvp.first != "/" && parent_of(kvp.first) == path)
        out.push_back(kvp.first.substr(path.size() + 1));
    return out;
  }

  /// The watches session `id` holds (data and children, one per path each).
  size_t watches_of(int64_t id) const {
    size_t n = 0;
    for (auto* ws : {&data_watches_, &child_watches_})
      for (auto& kvp : *ws)
        n += kvp.second.count(id);
    return n;
  }

  /// Changes a node as another client would (fires its watches).
  void set(const std::string& path, const std::string& data) {
    auto& n = tree_.at(path);
    n.data = data;
    ++n.version;
    fire(data_watches_, path, zk::event_type::changed);
  }

  /// Deletes a node as another client would (fires its watches).
  void remove(const std::string& path) {
    tree_.erase(path);
    fire(data_watches_, path, zk::event_type::deleted);
    fire(child_watches_, path, zk::event_type::deleted);
    fire(child_watches_, parent_of(path), zk::event_type::child);
  }

private:
  class session final : public zk::session {
  public:
    session(fake_zookeeper& zk, int64_t id, std::chrono::milliseconds timeout,
            callback cb)
      : zk_(zk), id_(id), timeout_(timeout), cb_(std::move(cb)) {
      // nop
    }

    ~session() override {
      if (!expired_)
        zk_.drop(id_); // closing a session deletes its ephemeral nodes
    }

    int64_t id() const override {
      return id_;
    }

    std::chrono::milliseconds timeout() const override {
      return timeout_;
    }

    zk::status create(const std::string& path, const std::string& data,
                      zk::node_kind kind, bool parents, std::string* created) override {
      ++counts_.writes;
      if (auto err = usable())
        return *err;
      auto parent = parent_of(path);
      if (!zk_.contains(parent)) {
        if (!parents)
          return {zk::rc::no_node, "no node"};
        for (size_t i = 1; i < parent.size(); ++i)
          if (parent[i] == '/' && !zk_.contains(parent.substr(0, i)))
            zk_.make(parent.substr(0, i), "", 0);
        if (!zk_.contains(parent))
          zk_.make(parent, "", 0);
      }
      auto name = path;
      if (kind == zk::node_kind::ephemeral_sequential) {
        char seq[16];
        std::snprintf(seq, sizeof(seq), "%010lld",
                      static_cast<long long>(zk_.tree_[parent].next_seq++));
        name += seq;
      }
      if (zk_.contains(name))
        return {zk::rc::node_exists, "node exists"};
      zk_.make(name, data, kind == zk::node_kind::persistent ? 0 : id_);
      if (created)
        *created = name;
      return {};
    }

    zk::status get(const std::string& path, bool watch, std::string& data,
                   zk::node_stat* st) override {
      ++counts_.reads;
      if (auto err = usable())
        return *err;
      auto i = zk_.tree_.find(path);
      if (i == zk_.tree_.end())
        return {zk::rc::no_node, "no node"};
      if (watch)
        zk_.data_watches_[path].insert(id_);
      data = i->second.data;
      if (st)
        *st = zk::node_stat{i->second.owner, i->second.version, i->second.ctime};
      return {};
    }

    zk::status set(const std::string& path, const std::string& data) override {
      ++counts_.writes;
      if (auto err = usable())
        return *err;
      if (!zk_.contains(path))
        return {zk::rc::no_node, "no node"};
      zk_.set(path, data);
      return {};
    }

    zk::status children(const std::string& path, bool watch,
                        std::vector<std::string>& out, zk::node_stat* st) override {
      ++counts_.reads;
      if (auto err = usable())
        return *err;
      if (!zk_.contains(path))
        return {zk::rc::no_node, "no node"};
      if (st) {
        auto& node = zk_.tree_[path];
        *st = zk::node_stat{node.owner, node.version, node.ctime};
      }
      if (watch)
        zk_.child_watches_[path].insert(id_);
      out = zk_.children(path);
      return {};
    }

    zk::status exists(const std::string& path, bool watch, zk::node_stat* st) override {
      ++counts_.reads;
      if (auto err = usable())
        return *err;
      if (watch)
        zk_.data_watches_[path].insert(id_);
      auto i = zk_.tree_.find(path);
      if (i == zk_.tree_.end())
        return {zk::rc::no_node, "no node"};
      if (st)
        *st = zk::node_stat{i->second.owner, i->second.version, i->second.ctime};
      return {};
    }

    zk::status replace_ephemeral(const std::string& path,
                                 const std::string& data) override {
      ++counts_.writes;
      if (auto err = usable())
        return *err;
      zk_.tree_.erase(path);
      zk_.make(path, data, id_);
      return {};
    }

    zk::status
    create_all(const std::vector<std::pair<std::string, std::string>>& nodes) override {
      ++counts_.writes;
      if (auto err = usable())
        return *err;
      std::set<std::string> made;
      for (auto& [path, data] : nodes) {
        if (zk_.contains(path) || made.count(path) > 0)
          return {zk::rc::node_exists, "node exists"};
        auto parent = parent_of(path);
        if (!parent.empty() && parent != "/" && !zk_.contains(parent) &&
            made.count(parent) == 0)
          return {zk::rc::no_node, "no node"};
        made.insert(path);
      }
      for (auto& [path, data] : nodes)
        zk_.make(path, data, 0);
      return {};
    }

    zk::status remove(const std::string& path) override {
      ++counts_.writes;
      if (auto err = usable())
        return *err;
      if (!zk_.contains(path))
        return {zk::rc::no_node, "no node"};
      if (!zk_.children(path).empty())
        return {zk::rc::not_empty, "not empty"};
      zk_.remove(path);
      return {};
    }

    void send_and_forget(const std::vector<std::string>& removals,
                         const std::string& ephemeral) override {
      for (auto& path : removals)
        remove(path);
      if (!ephemeral.empty())
        create(ephemeral, "", zk::node_kind::ephemeral, true, nullptr);
    }

    zk::status acl(const std::string&, std::vector<zk::acl_entry>& out) override {
      ++counts_.reads;
      out.clear(); // the fake keeps no ACLs (its tests use no auth)
      return {};
    }

  private:
    friend class fake_zookeeper;

    std::optional<zk::status> usable() {
      if (drop_at_next_request_ && connected_) {
        drop_at_next_request_ = false;
        zk_.disconnect(id_);
      }
      if (expired_)
        return zk::status{zk::rc::session_expired, "session expired"};
      if (!connected_)
        return zk::status{zk::rc::connection_loss, "connection loss"};
      return std::nullopt;
    }

    fake_zookeeper& zk_;
    int64_t id_;
    std::chrono::milliseconds timeout_;
    callback cb_;
    bool connected_ = true;
    bool expired_ = false;
    bool drop_at_next_request_ = false; // reconnect_briefly
  };

  using watches = std::map<std::string, std::set<int64_t>>;

  static std::string parent_of(const std::string& path) {
    auto i = path.rfind('/');
    return i == 0 ? std::string{"/"} : path.substr(0, i);
  }

  void make(const std::string& path, const std::string& data, int64_t owner) {
    tree_[path] = node{data, owner, 0, 0, ++clock_};
    fire(data_watches_, path, zk::event_type::created);
    fire(child_watches_, parent_of(path), zk::event_type::child);
  }

  /// One-shot: the watches on `path` fire once and are gone.
  void fire(watches& ws, const std::string& path, zk::event_type type) {
    auto i = ws.find(path);
    if (i == ws.end())
      return;
    auto ids = std::move(i->second);
    ws.erase(i);
    for (auto id : ids)
      if (auto s = sessions_.find(id); s != sessions_.end() && s->second->connected_)
        s->second->cb_(zk::event{type, zk::session_state::connected, path});
  }

  /// Ends session `id`: gone from the sessions, its ephemeral nodes deleted.
  void drop(int64_t id) {
    auto s = sessions_.find(id);
    if (s == sessions_.end())
      return;
    s->second->expired_ = true;
    sessions_.erase(s);
    for (auto& ws : {&data_watches_, &child_watches_})
      for (auto& kvp : *ws)
        kvp.second.erase(id);
    std::vector<std::string> owned;
    for (auto& kvp : tree_)
      if (kvp.second.owner == id)
        owned.push_back(kvp.first);
    for (auto& path : owned)
      remove(path);
  }

  std::map<std::string, node> tree_;
  int64_t clock_ = 0; // ticks once per creation: the fake's "ctime"
  std::map<int64_t, session*> sessions_;
  watches data_watches_;
  watches child_watches_;
  int64_t last_id_ = 0x1000;
};

} // namespace slacker_test
