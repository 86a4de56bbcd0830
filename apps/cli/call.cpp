// slacker call NS/FN JSON-ARG...: through the cluster with the call policies,
// or to one server (--server).
#include <iostream>
#include <map>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"

namespace slacker_cli {

namespace {

int run_call(caf::actor_system& sys, const cli_config& cfg) {
  auto args = json_args(cfg.args);
  if (!args)
    return fail(args.error());
  auto timeout = std::chrono::milliseconds{cfg.timeout};
  if (!cfg.server.empty()) {
    auto res = call_server(sys, cfg.server, cfg.fn, *args, timeout, manager_token(cfg));
    if (!res)
      return fail(res.error());
    std::cout << res->dump() << "\n";
    return 0;
  }
  slacker::cluster_options opts;
  if (auto rc = policy_options(cfg, opts))
    return rc;
  slacker::cluster_client sc{sys, zk_of(cfg)};
  auto call = sc.prepare_encoded(opts, {}, cfg.fn, std::move(*args));
  if (!call)
    return usage(cfg, slacker::describe(call.error()));
  if (auto err = wait_zk(cfg, [&] { return client_connected(sc); }))
    return fail(err);
  auto rep = sc.invoke(std::move(*call));
  if (!rep)
    return fail(rep.error());
  // One decode path, as the reply's shape says.
  caf::expected<json> out{json(nullptr)};
  if (rep->shape == slacker::reply_shape::vector) {
    auto xs = slacker::decode_cluster<std::vector<json>>(*rep, cfg.fn);
    out = xs ? caf::expected<json>{json(*xs)} : caf::expected<json>{xs.error()};
  } else if (rep->shape == slacker::reply_shape::map) {
    auto xs = slacker::decode_cluster<std::map<std::string, json>>(*rep, cfg.fn);
    out = xs ? caf::expected<json>{json(*xs)} : caf::expected<json>{xs.error()};
  } else if (rep->shape != slacker::reply_shape::nil) {
    out = slacker::decode_cluster<json>(*rep, cfg.fn);
  }
  if (!out)
    return fail(out.error());
  std::cout << out->dump() << "\n";
  return 0;
}

} // namespace

command call_command() {
  return {"call", "call a function through the cluster, or one server",
          [](CLI::App& c, cli_config& cfg) {
            add_function_arguments(c, cfg);
            add_policy_options(c, cfg);
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_call};
}

} // namespace slacker_cli
