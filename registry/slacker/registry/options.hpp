#pragma once

#include <chrono>
#include <string>

#include "slacker/registry/zookeeper.hpp"

namespace slacker {

/// Where a cluster lives in ZooKeeper, and how to talk to it.
struct zk_options {
  std::string zk = "127.0.0.1:2181";       // comma-separated host:port list
  std::string cluster = "example-cluster"; // one subtree per cluster name
  std::string root = "/slacker/cluster";
  std::chrono::milliseconds session_timeout{15000};
  std::chrono::milliseconds connect_timeout{10000}; // then one warning; it keeps trying
  zk::auth_options auth;
  /// A leader steps down once its link has been down this share of the
  /// session timeout (before ZooKeeper could expire it and elect another).
  double leader_step_down = 2.0 / 3;

  /// `<root>/<cluster>`
  std::string base() const {
    return root + "/" + cluster;
  }
};

} // namespace slacker
