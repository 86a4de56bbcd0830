// slacker server-data ADDR [JSON] [--merge]: read a server's data from the
// cluster, or set (merge) it through the server's manager functions.
#include <iostream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/registry.hpp"

namespace slacker_cli {

namespace {

int run_server_data(caf::actor_system& sys, const cli_config& cfg) {
  if (!cfg.ns.empty()) {
    auto data = json_value(cfg.ns, "the server-data");
    if (!data)
      return fail(data.error());
    if (cfg.merge && !data->is_object())
      return fail(slacker::make_error(slacker::sc::invalid_request,
                                      "--merge takes a JSON object, got: " +
                                          slacker::excerpt(data->dump(), 60)));
    auto res = manager_call(sys, cfg, cfg.addr,
                            cfg.merge ? "merge-server-data" : "set-server-data",
                            json::array({data->dump()}));
    if (!res)
      return fail(res.error());
    return print_state(sys, cfg, cfg.addr);
  }
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg, cfg);
  if (!v)
    return fail(v.error());
  auto i = v->servers.find(cfg.addr);
  if (i == v->servers.end())
    return fail(slacker::make_error(
        slacker::sc::not_found, "no server " + cfg.addr + " in cluster " + cfg.cluster));
  std::cout << data_json(i->second).dump() << std::endl;
  return 0;
}

} // namespace

command server_data_command() {
  return {"server-data", "read a server's data, or set it",
          [](CLI::App& c, cli_config& cfg) {
            add_server_argument(c, cfg);
            c.add_option("JSON", cfg.ns,
                         "the new server-data (JSON, @FILE or -); none: read it");
            c.add_flag("--merge", cfg.merge,
                       "merge the keys of JSON into the server-data (null removes a key) "
                       "instead of replacing it");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_server_data};
}

} // namespace slacker_cli
