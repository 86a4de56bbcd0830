// slacker inspect [NS]: namespaces, functions, docs and signatures, as the
// servers registered them.
#include <iostream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/lookup.hpp"

namespace slacker_cli {

namespace {

int run_inspect(caf::actor_system&, const cli_config& cfg) {
  auto fns = slacker::registered_functions(zk_of(cfg), cfg.ns,
                                           std::chrono::milliseconds{cfg.zk_timeout});
  if (!fns)
    return fail(fns.error());
  json out = json::object();
  for (auto& [ns, entries] : *fns) {
    out[ns] = json::object();
    for (auto& [fn, data] : entries)
      out[ns][fn] = parse_result(slacker::bytes(data.begin(), data.end()));
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

} // namespace

command inspect_command() {
  return {"inspect", "namespaces, functions, docs and signatures",
          [](CLI::App& c, cli_config& cfg) {
            c.add_option("NS", cfg.ns, "one namespace (default: all)");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_inspect};
}

} // namespace slacker_cli
