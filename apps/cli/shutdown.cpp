// slacker shutdown ADDR: the server leaves the cluster, drains its calls and
// stops.
#include <iostream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"

namespace slacker_cli {

namespace {

int run_shutdown(caf::actor_system& sys, const cli_config& cfg) {
  auto res = manager_call(sys, cfg, cfg.addr, "shutdown", json::array());
  if (!res)
    return fail(res.error());
  std::cout << json{{"addr", cfg.addr}, {"stopping", true}}.dump() << std::endl;
  return 0;
}

} // namespace

command shutdown_command() {
  return {"shutdown", "the server leaves the cluster, drains its calls and stops",
          [](CLI::App& c, cli_config& cfg) {
            add_server_argument(c, cfg);
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_shutdown};
}

} // namespace slacker_cli
