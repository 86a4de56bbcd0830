// slacker members [--wait=N]: servers with data; namespaces with servers and
// leader; the view's status.
#include <iostream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/registry.hpp"

namespace slacker_cli {

namespace {

/// How many servers of `v` serve at least one namespace: a server is in the
/// view before its namespaces are (they are separate ZooKeeper nodes, read
/// on separate watches), and a call needs the namespaces.
size_t serving(const slacker::membership_view& v) {
  size_t n = 0;
  for (auto& [addr, data] : v.servers)
    for (auto& [ns, addrs] : v.namespaces)
      if (addrs.count(addr) > 0) {
        ++n;
        break;
      }
  return n;
}

int run_members(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg, cfg);
  if (!v)
    return fail(v.error());
  // --wait=N: until N servers are registered with their namespaces, up to
  // --timeout.
  if (serving(*v) < cfg.wait) {
    v = reg.wait_until([&](auto& view) { return serving(view) >= cfg.wait; },
                       std::chrono::milliseconds{cfg.timeout});
    if (!v) {
      auto now = reg.view(std::chrono::milliseconds{cfg.zk_timeout});
      auto have = now ? serving(*now) : 0;
      auto listed = now ? now->servers.size() : 0;
      return fail(slacker::make_error(
          slacker::sc::timeout,
          std::to_string(have) + " of " + std::to_string(cfg.wait) +
              " servers registered with their namespaces in cluster " + cfg.cluster +
              " after " + std::to_string(cfg.timeout) + " ms" +
              (listed > have ? " (" + std::to_string(listed - have) +
                                   " more listed without a namespace yet)"
                             : "")));
    }
  }
  std::cout << members_json(*v).dump() << std::endl;
  return 0;
}

} // namespace

command members_command() {
  return {"members",
          "servers with data; namespaces with servers and leader; the view's status",
          [](CLI::App& c, cli_config& cfg) {
            c.add_option("--wait", cfg.wait,
                         "first wait (up to --timeout) until this many servers are "
                         "registered, each with its namespaces")
                ->type_name("N");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_members};
}

} // namespace slacker_cli
