// slacker offline|online ADDR [NS]: take a server (or one of its namespaces)
// out of routing or back in, through its manager functions.
#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"

namespace slacker_cli {

namespace {

int set_routing(caf::actor_system& sys, const cli_config& cfg, bool offline) {
  std::string fn = offline ? "offline" : "online";
  auto args = json::array();
  if (!cfg.ns.empty()) {
    fn += "-ns";
    args.push_back(cfg.ns);
  }
  auto res = manager_call(sys, cfg, cfg.addr, fn, args);
  if (!res)
    return fail(res.error());
  if (*res == json(false))
    return fail(slacker::make_error(slacker::sc::not_found,
                                    cfg.addr + " serves no namespace " + cfg.ns));
  return print_state(sys, cfg, cfg.addr);
}

void define_routing(CLI::App& c, cli_config& cfg) {
  add_server_argument(c, cfg);
  c.add_option("NS", cfg.ns, "only this namespace");
  add_zk_options(c, cfg); // taken for symmetry: the server is called directly
  add_common_options(c, cfg);
}

} // namespace

command offline_command() {
  return {
      "offline",
      "take a server (or one namespace) out of routing; it keeps serving direct calls",
      define_routing, [](caf::actor_system& sys, const cli_config& cfg) {
        return set_routing(sys, cfg, true);
      }};
}

command online_command() {
  return {"online", "put a server (or one namespace) back into routing", define_routing,
          [](caf::actor_system& sys, const cli_config& cfg) {
            return set_routing(sys, cfg, false);
          }};
}

} // namespace slacker_cli
