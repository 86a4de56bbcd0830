#pragma once

// The one description of a cluster's tree in ZooKeeper (docs/architecture.md):
//
//   <root>/<cluster>/servers/<ip>:<port>                 ephemeral, server-data
//   <root>/<cluster>/namespaces/<ns>/<ip>:<port>         ephemeral
//   <root>/<cluster>/namespaces/<ns>/_election/c_<seq>   ephemeral sequential
//   <root>/<cluster>/namespaces/<ns>/_leader             persistent, leader's ip:port
//   <root>/<cluster>/functions/<ns>/<fn>                 persistent, metadata JSON
//   <root>/<cluster>/leaving/<ip>:<port>                 ephemeral, while it drains

#include <cstdint>
#include <cstdlib>
#include <string>

#include "slacker/registry/options.hpp"

namespace slacker {

class zk_layout {
public:
  explicit zk_layout(const zk_options& opts) : base_(opts.base()) {
    // nop
  }

  const std::string& base() const noexcept {
    return base_;
  }
  std::string servers() const {
    return base_ + "/servers";
  }
  std::string server(const std::string& addr) const {
    return servers() + "/" + addr;
  }
  std::string namespaces() const {
    return base_ + "/namespaces";
  }
  std::string ns(const std::string& name) const {
    return namespaces() + "/" + name;
  }
  std::string provider(const std::string& name, const std::string& addr) const {
    return ns(name) + "/" + addr;
  }
  std::string election(const std::string& name) const {
    return ns(name) + "/_election";
  }
  /// The prefix of a candidate's node; ZooKeeper appends the sequence.
  std::string candidate_prefix(const std::string& name) const {
    return election(name) + "/c_";
  }
  std::string leader(const std::string& name) const {
    return ns(name) + "/_leader";
  }
  std::string leaving() const {
    return base_ + "/leaving";
  }
  std::string leaving(const std::string& addr) const {
    return leaving() + "/" + addr;
  }
  std::string functions() const {
    return base_ + "/functions";
  }
  std::string functions(const std::string& name) const {
    return functions() + "/" + name;
  }
  std::string function(const std::string& name, const std::string& fn) const {
    return functions(name) + "/" + fn;
  }

  /// A child of `namespaces/<ns>` that is no server (`_election`, `_leader`).
  static bool is_meta(const std::string& child) {
    return !child.empty() && child[0] == '_';
  }

  /// The sequence number of a sequential node's name (its last ten digits).
  static uint64_t sequence_of(const std::string& name) {
    auto digits = name.size() >= 10 ? name.substr(name.size() - 10) : name;
    return std::strtoull(digits.c_str(), nullptr, 10);
  }

private:
  std::string base_;
};

} // namespace slacker
