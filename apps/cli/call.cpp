// slacker call NS/FN JSON-ARG...: through the cluster with the call policies,
// or to one server (--server). -v tells on stderr who answered, how long it
// took and the reply's extensions; -H adds an extension to the call.
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"

namespace slacker_cli {

namespace {

using clock = std::chrono::steady_clock;

/// `N.NN ms` since `t0`.
std::string since(clock::time_point t0) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2)
      << std::chrono::duration<double, std::milli>(clock::now() - t0).count() << " ms";
  return out.str();
}

/// A reply's extensions as `key=value` (values printable, bounded).
std::string ext_text(const slacker::extensions& ext) {
  std::string out;
  for (auto& [k, v] : ext) {
    if (k == slacker::manager_token_ext)
      continue; // a secret: never printed
    out += (out.empty() ? "" : " ") + slacker::printable(k, 64) + "=" +
           slacker::printable(std::string(v.begin(), v.end()), 200);
  }
  return out.empty() ? "(none)" : out;
}

void tell(const std::string& line) {
  std::cerr << "* " << line << "\n";
}

int run_direct(caf::actor_system& sys, const cli_config& cfg, slacker::bytes args,
               slacker::extensions ext) {
  slacker::call_options opts;
  opts.codec = slacker::codec_id::json;
  opts.timeout = std::chrono::milliseconds{cfg.timeout};
  opts.ext = std::move(ext);
  auto req = slacker::make_encoded_call(opts, cfg.fn, std::move(args));
  if (!req)
    return usage(cfg, slacker::describe(req.error()));
  slacker::client c{sys, cfg.server};
  req->deadline_ns = 0; // stamped when sent: --timeout counts from there
  auto t0 = clock::now();
  auto rep = c.invoke(std::move(*req), opts.timeout);
  if (cfg.verbose)
    tell(cfg.server + (rep && !rep->err ? " answered" : " failed") + " in " + since(t0));
  if (!rep)
    return fail(rep.error());
  if (cfg.verbose)
    tell("extensions: " + ext_text(rep->ext));
  auto out = slacker::result_of<json>(*rep);
  if (!out)
    return fail(out.error());
  std::cout << out->dump() << std::endl;
  return 0;
}

int run_call(caf::actor_system& sys, const cli_config& cfg) {
  auto args = json_args(cfg.args);
  if (!args)
    return fail(args.error());
  auto ext = call_extensions(cfg);
  if (!ext)
    return usage(cfg, slacker::describe(ext.error()));
  if (!cfg.server.empty())
    return run_direct(sys, cfg, std::move(*args), std::move(*ext));
  slacker::cluster_options opts;
  if (auto rc = policy_options(cfg, opts))
    return rc;
  opts.ext = std::move(*ext);
  slacker::cluster_client sc{sys, zk_of(cfg)};
  auto call = sc.prepare_encoded(opts, {}, cfg.fn, std::move(*args));
  if (!call)
    return usage(cfg, slacker::describe(call.error()));
  if (auto err = wait_zk(cfg, [&] { return client_connected(sc); }))
    return fail(err);
  // --timeout counts from the call, not from the wait for ZooKeeper.
  call->req.deadline_ns = slacker::detail::deadline_after(opts.timeout.value());
  auto t0 = clock::now();
  auto rep = sc.invoke(std::move(*call));
  if (cfg.verbose) {
    tell(std::string{rep ? "answered" : "failed"} + " in " + since(t0));
    if (rep) {
      for (size_t i = 0; i < rep->replies.size(); ++i)
        tell((i < rep->addrs.size() ? rep->addrs[i] : std::string{"(fallback)"}) +
             " answered; extensions: " + ext_text(rep->replies[i].ext));
      for (size_t i = 0; i < rep->failed.size(); ++i)
        tell(rep->failed[i] +
             " failed: " + slacker::printable(slacker::describe(rep->errors[i]), 200));
    }
  }
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
  std::cout << out->dump() << std::endl;
  // A partial result says who is missing from it, and why.
  if (!rep->failed.empty() && !cfg.verbose) {
    std::string missing;
    for (size_t i = 0; i < rep->failed.size(); ++i)
      missing += "; " + rep->failed[i] + ": " +
                 slacker::printable(slacker::describe(rep->errors[i]), 200);
    std::cerr << "warning: " << rep->failed.size() << " of "
              << rep->failed.size() + rep->replies.size()
              << " server(s) missing from the result" << missing << std::endl;
  }
  return 0;
}

} // namespace

command call_command() {
  return {"call", "call a function through the cluster, or one server",
          [](CLI::App& c, cli_config& cfg) {
            add_function_arguments(c, cfg);
            add_policy_options(c, cfg);
            c.add_flag("-v,--verbose", cfg.verbose,
                       "on stderr: which servers answered, how long the call took, "
                       "the reply's extensions");
            add_zk_options(c, cfg);
            add_common_options(c, cfg);
          },
          run_call};
}

} // namespace slacker_cli
