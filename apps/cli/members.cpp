// slacker members [--wait=N]: servers with data; namespaces with servers and
// leader; the view's status.
#include <iostream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/registry.hpp"

namespace slacker_cli {

namespace {

int run_members(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg, cfg);
  if (!v)
    return fail(v.error());
  // --wait=N: until N servers are registered, up to --timeout.
  if (v->servers.size() < cfg.wait) {
    v = reg.wait_until([&](auto& view) { return view.servers.size() >= cfg.wait; },
                       std::chrono::milliseconds{cfg.timeout});
    if (!v) {
      auto now = reg.view();
      auto have = now ? now->servers.size() : 0;
      return fail(slacker::make_error(
          slacker::sc::timeout, std::to_string(have) + " of " + std::to_string(cfg.wait) +
                                    " servers registered in cluster " + cfg.cluster +
                                    " after " + std::to_string(cfg.timeout) + " ms"));
    }
  }
  std::cout << members_json(*v).dump() << "\n";
  return 0;
}

} // namespace

command members_command() {
  return {"members",
          "servers with data; namespaces with servers and leader; the view's status",
          [](CLI::App& c, cli_config& cfg) {
            c.add_option("--wait", cfg.wait,
                         "first wait (up to --timeout) until this many servers are "
                         "registered")
                ->type_name("N");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_members};
}

} // namespace slacker_cli
