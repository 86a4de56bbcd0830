// What the commands share: option groups, errors, JSON arguments, direct and
// manager calls, the registry's view.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/lookup.hpp"
#include "slacker/registry/registry.hpp"

namespace slacker_cli {

using std::chrono::milliseconds;

void add_zk_options(CLI::App& c, cli_config& cfg) {
  c.add_option("--zk", cfg.zk, "ZooKeeper ensemble")->type_name("HOST:PORT[,...]");
  c.add_option("--cluster", cfg.cluster, "cluster name")->type_name("NAME");
  c.add_option("--zk-timeout", cfg.zk_timeout,
               "give up when ZooKeeper has not answered after this many ms")
      ->type_name("MS");
}

void add_common_options(CLI::App& c, cli_config& cfg) {
  c.add_option("--timeout", cfg.timeout, "call timeout")->type_name("MS");
  cfg.security.add_to(c, false);
}

void add_policy_options(CLI::App& c, cli_config& cfg) {
  c.add_option("--server", cfg.server, "call this server directly, not the cluster")
      ->type_name("HOST:PORT");
  c.add_option("--grouping", cfg.grouping, "which servers (a registered grouping)")
      ->check(CLI::IsMember(slacker::grouping::names()));
  c.add_option("--results", cfg.results, "how answers combine")
      ->check(CLI::IsMember(slacker::all_names<slacker::results_kind>()));
  c.add_option("--exceptions", cfg.exceptions, "which errors fail the call")
      ->check(CLI::IsMember(slacker::all_names<slacker::exceptions_kind>()));
  c.add_option("--quorum", cfg.quorum,
               "decide once this many servers succeeded (with --grouping=all; 0: off)")
      ->type_name("K");
  c.add_option("--unavailable-value", cfg.unavailable_value,
               "the result when no server provides the function (JSON, @FILE or -)")
      ->type_name("JSON");
  c.add_flag("--idempotent", cfg.idempotent,
             "the call may run twice: retried elsewhere, hedged");
  c.add_option("-H,--header", cfg.headers,
               "a call extension, sent with the call and echoed in its reply "
               "(repeatable)")
      ->type_name("KEY=VALUE")
      ->default_str("")
      ->allow_extra_args(false); // one value per -H, as curl's
  c.add_option("--hedge-after", cfg.hedge_after,
               "ms before a backup call to another server (idempotent calls; 0: none)")
      ->type_name("MS");
}

void add_function_arguments(CLI::App& c, cli_config& cfg) {
  c.add_option("NS/FN", cfg.fn, "the function")->required();
  c.add_option("JSON-ARG", cfg.args,
               "its arguments, one JSON value each ('\"text\"', 42, '[1,2]'); "
               "@FILE reads one from a file, - from standard input")
      ->default_str("");
}

void add_server_argument(CLI::App& c, cli_config& cfg) {
  c.add_option("ADDR", cfg.addr, "the server")->required()->type_name("HOST:PORT");
}

int usage(const cli_config& cfg, const std::string& why) {
  std::cerr << "slacker: " << why << "\nRun 'slacker "
            << (cfg.command.empty() ? "" : cfg.command + " ") << "--help' for more.\n";
  return slacker_apps::usage_exit;
}

int fail(const caf::error& err) {
  // A server's error text is the server's: escaped, at most 512 bytes of it.
  std::cerr << "error: " << slacker::printable(slacker::describe(err), 512) << "\n";
  return 1;
}

slacker::zk_options zk_of(const cli_config& cfg) {
  slacker::zk_options opts;
  opts.zk = cfg.zk;
  opts.cluster = cfg.cluster;
  opts.connect_timeout = std::chrono::seconds{5};
  opts.auth.digest = cfg.security.zk_auth;
  return opts;
}

std::string manager_token(const cli_config& cfg) {
  if (!cfg.security.manager_token.empty())
    return cfg.security.manager_token;
  auto env = std::getenv("SLACKER_MANAGER_TOKEN");
  return env ? env : "";
}

caf::error wait_zk(const cli_config& cfg, const std::function<bool()>& connected) {
  auto until = std::chrono::steady_clock::now() + milliseconds{cfg.zk_timeout};
  while (!connected()) {
    if (std::chrono::steady_clock::now() >= until)
      return slacker::zk_unreachable(cfg.zk, milliseconds{cfg.zk_timeout});
    std::this_thread::sleep_for(milliseconds{20});
  }
  return {};
}

namespace {

/// Standard input, read once (for the first `-` argument).
caf::expected<std::string> read_stdin() {
  static bool taken = false;
  if (taken)
    return slacker::make_error(slacker::sc::invalid_request,
                               "standard input (-) can be given once only");
  taken = true;
  return std::string{std::istreambuf_iterator<char>{std::cin}, {}};
}

} // namespace

caf::expected<json> json_value(const std::string& arg, const std::string& what) {
  std::string text;
  std::string from;
  if (arg == "-") {
    auto in = read_stdin();
    if (!in)
      return std::move(in.error());
    text = std::move(*in);
    from = " (standard input)";
  } else if (arg.size() > 1 && arg[0] == '@') {
    std::ifstream file{arg.substr(1), std::ios::binary};
    if (!file)
      return slacker::make_error(slacker::sc::invalid_request, "cannot read " +
                                                                   arg.substr(1) + ": " +
                                                                   std::strerror(errno));
    text.assign(std::istreambuf_iterator<char>{file}, {});
    from = " (" + arg.substr(1) + ")";
  } else {
    text = arg;
  }
  auto v = slacker::parse_json(text.data(), text.size());
  if (!v) {
    // The usual slip: a string without its quotes (the shell ate them).
    auto hint = std::string{};
    auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos &&
        std::string{"{[\"-0123456789tfn"}.find(text[first]) == std::string::npos)
      hint = " (a JSON string needs its quotes: '\"" + text + "\"')";
    return slacker::make_error(
        slacker::sc::invalid_request,
        what + from + " is not JSON: " + slacker::describe(v.error()) + hint);
  }
  return std::move(*v);
}

caf::expected<slacker::bytes> json_args(const std::vector<std::string>& args) {
  auto arr = json::array();
  for (size_t i = 0; i < args.size(); ++i) {
    auto v = json_value(args[i], "argument " + std::to_string(i + 1));
    if (!v)
      return std::move(v.error());
    arr.push_back(std::move(*v));
  }
  auto text = arr.dump();
  return slacker::bytes(text.begin(), text.end());
}

json parse_result(const slacker::bytes& bytes) {
  // Depth-checked: printing a JSON value recurses.
  auto v = slacker::parse_json(bytes.data(), bytes.size());
  return v ? std::move(*v) : json(std::string(bytes.begin(), bytes.end()));
}

caf::expected<json> call_server(caf::actor_system& sys, const std::string& addr,
                                const std::string& fn, const slacker::bytes& args,
                                std::chrono::milliseconds timeout,
                                const std::string& token) {
  slacker::call_options opts;
  opts.codec = slacker::codec_id::json;
  opts.timeout = timeout;
  if (!token.empty())
    opts.ext[slacker::manager_token_ext] = slacker::bytes(token.begin(), token.end());
  auto req = slacker::make_encoded_call(opts, fn, args);
  if (!req)
    return std::move(req.error());
  slacker::client c{sys, addr};
  auto rep = c.invoke(std::move(*req), timeout);
  if (!rep)
    return std::move(rep.error());
  return slacker::result_of<json>(*rep);
}

caf::expected<slacker::extensions> call_extensions(const cli_config& cfg) {
  slacker::extensions ext;
  for (auto& h : cfg.headers) {
    auto eq = h.find('=');
    if (eq == 0 || eq == std::string::npos)
      return slacker::make_error(slacker::sc::invalid_request,
                                 "-H takes KEY=VALUE, not '" + h + "'");
    auto value = h.substr(eq + 1);
    ext[h.substr(0, eq)] = slacker::bytes(value.begin(), value.end());
  }
  auto token = manager_token(cfg);
  if (!token.empty())
    ext[slacker::manager_token_ext] = slacker::bytes(token.begin(), token.end());
  return ext;
}

caf::expected<json> manager_call(caf::actor_system& sys, const cli_config& cfg,
                                 const std::string& addr, const std::string& fn,
                                 json args) {
  auto text = args.dump();
  return call_server(sys, addr, std::string{slacker::manager_ns} + "/" + fn,
                     slacker::bytes(text.begin(), text.end()), milliseconds{cfg.timeout},
                     manager_token(cfg));
}

int print_state(caf::actor_system& sys, const cli_config& cfg, const std::string& addr) {
  auto res = manager_call(sys, cfg, addr, "state", json::array());
  if (!res)
    return fail(res.error());
  auto state =
      res->is_string() ? json::parse(res->get<std::string>(), nullptr, false) : *res;
  if (state.is_discarded())
    state = *res;
  json out{{"addr", addr}};
  out.update(state);
  std::cout << out.dump() << std::endl;
  return 0;
}

int policy_options(const cli_config& cfg, slacker::cluster_options& opts) {
  slacker::results_kind r;
  slacker::exceptions_kind e;
  if (!slacker::from_string(cfg.results, r))
    return usage(cfg, "unknown results " + cfg.results);
  if (!slacker::from_string(cfg.exceptions, e))
    return usage(cfg, "unknown exceptions " + cfg.exceptions);
  opts.grouping = slacker::grouping_named(cfg.grouping); // checked by --grouping
  opts.results = r;
  if (cfg.quorum > 0 && cfg.grouping != "all")
    return usage(cfg,
                 "--quorum counts the answers of every server: it needs --grouping=all");
  if (cfg.quorum > 0)
    opts.exceptions = slacker::quorum{cfg.quorum};
  else
    opts.exceptions = e;
  opts.timeout = std::chrono::milliseconds{cfg.timeout};
  opts.codec = slacker::codec_id::json;
  if (cfg.idempotent)
    opts.idempotent = true;
  if (cfg.hedge_after > 0)
    opts.hedge_after = std::chrono::milliseconds{cfg.hedge_after};
  if (!cfg.unavailable_value.empty()) {
    auto v = json_value(cfg.unavailable_value, "--unavailable-value");
    if (!v)
      return fail(v.error());
    opts.unavailable = slacker::fallback(std::move(*v));
  }
  return 0;
}

bool client_connected(slacker::cluster_client& sc) {
  auto v = sc.members();
  return v && v->state.status == slacker::registry_status::connected;
}

caf::expected<slacker::membership_view> current_view(slacker::registry& reg,
                                                     const cli_config& cfg) {
  // Bounded by --zk-timeout also while the registry is inside a ZooKeeper
  // call that ZooKeeper leaves unanswered.
  auto v = reg.wait_until(
      [](auto& x) { return x.state.status == slacker::registry_status::connected; },
      milliseconds{cfg.zk_timeout});
  if (!v && slacker::code_of(v.error()) == slacker::sc::timeout)
    return slacker::zk_unreachable(cfg.zk, milliseconds{cfg.zk_timeout});
  return v;
}

json data_json(const std::string& data) {
  return parse_result(slacker::bytes(data.begin(), data.end()));
}

json token_json(const slacker::fencing_token& t) {
  return {
      {"incarnation", t.incarnation}, {"sequence", t.sequence}, {"session", t.session}};
}

json members_json(const slacker::membership_view& v) {
  json out{{"servers", json::object()},
           {"namespaces", json::object()},
           {"leaving", v.leaving},
           {"status", to_string(v.state.status)},
           {"view_age_ms", v.state.view_age_ms}};
  for (auto& [addr, data] : v.servers)
    out["servers"][addr] = data_json(data);
  for (auto& [ns, addrs] : v.namespaces) {
    auto leader = v.leaders.find(ns);
    auto token = v.tokens.find(ns);
    out["namespaces"][ns] = {
        {"servers", addrs},
        {"leader", leader == v.leaders.end() ? json(nullptr) : json(leader->second)},
        {"token", token == v.tokens.end() ? json(nullptr) : token_json(token->second)}};
  }
  return out;
}

} // namespace slacker_cli
