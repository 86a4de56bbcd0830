#include "slacker/cluster/server_config.hpp"

#include <caf/config_option_adder.hpp>

namespace slacker {

cluster_server_config::cluster_server_config() {
  opt_group{custom_options_, "global"}
      .add(port, "port", "port to serve on")
      .add(cluster, "cluster", "cluster name")
      .add(zk, "zk", "ZooKeeper ensemble, HOST:PORT[,HOST:PORT...]")
      .add(server_data, "server-data", "server-data (JSON)")
      .add(node, "node", "this server's IP in the cluster (empty: detected)")
      .add(session_timeout, "session-timeout", "ZooKeeper session timeout in ms");
}

registration_options cluster_server_config::registration() const {
  registration_options opts;
  opts.zk.zk = zk;
  opts.zk.cluster = cluster;
  opts.zk.session_timeout = std::chrono::milliseconds{session_timeout};
  opts.node = node;
  opts.server_data = server_data;
  opts.zk.auth.digest = caf::get_or(*this, "slacker.zk.auth", std::string{});
  return opts;
}

} // namespace slacker
