#pragma once

#include <cstdint>
#include <string>

#include "slacker/cluster/registration.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

/// The configuration of a server process that joins a cluster: `slacker::config`
/// plus `--port`, `--cluster`, `--zk`, `--server-data`, `--node` and
/// `--session-timeout` (ms). A derived config sets its own defaults in its
/// constructor and adds options with `opt_group{custom_options_, "global"}`.
class cluster_server_config : public config {
public:
  cluster_server_config();

  uint16_t port = 0;
  std::string cluster = "example-cluster";
  std::string zk = "127.0.0.1:2181";
  std::string server_data = "{}";
  std::string node; // empty: detected
  size_t session_timeout = 15000;

  /// The registration these options describe.
  registration_options registration() const;
};

} // namespace slacker
