// slacker: call and operate a cluster from the shell. JSON in, JSON out.
// `slacker --help` lists the commands, `slacker COMMAND --help` their options
// (docs/cli.md). Errors: `error: <code>: <message>` on stderr, exit 1; usage
// errors (unknown command or option, a missing argument): exit 2.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "apps/support/cli.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/lookup.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"
#include "slacker/runtime/version.hpp"

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

std::vector<std::string> positional; // the command and its arguments
int exit_code = 0;

/// Every flag of every command (each command adds the ones it takes).
struct cli_config {
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  size_t zk_timeout = 3000;
  std::string server;
  std::string grouping = "random";
  std::string results = "single";
  std::string exceptions = "all";
  size_t timeout = 10000;
  std::string unavailable_value;
  bool idempotent = false;
  size_t hedge_after = 0;
  size_t quorum = 0;
  size_t count = 0;
  size_t wait = 0;
  bool merge = false;
  size_t duration = 10;
  size_t concurrency = 4;
  size_t rate = 0;
  bool progress = false;
  std::string metrics;
  slacker_apps::security_options security;
};

void usage(const std::string& why) {
  std::cerr << "slacker: " << why << "\nRun 'slacker "
            << (positional.empty() ? "" : positional[0] + " ") << "--help' for more.\n";
  exit_code = slacker_apps::usage_exit;
}

void fail(const caf::error& err) {
  std::cerr << "error: " << slacker::describe(err) << "\n";
  exit_code = 1;
}

slacker::zk_options zk_of(const cli_config& cfg) {
  slacker::zk_options opts;
  opts.zk = cfg.zk;
  opts.cluster = cfg.cluster;
  opts.connect_timeout = std::chrono::seconds{5};
  opts.auth.digest = cfg.security.zk_auth;
  return opts;
}

/// The manager token to send: --manager-token, else $SLACKER_MANAGER_TOKEN.
std::string manager_token(const cli_config& cfg) {
  if (!cfg.security.manager_token.empty())
    return cfg.security.manager_token;
  auto env = std::getenv("SLACKER_MANAGER_TOKEN");
  return env ? env : "";
}

/// Waits until `connected()` says true, up to --zk-timeout; else the error.
caf::error wait_zk(const cli_config& cfg, const std::function<bool()>& connected) {
  auto until = std::chrono::steady_clock::now() + milliseconds{cfg.zk_timeout};
  while (!connected()) {
    if (std::chrono::steady_clock::now() >= until)
      return slacker::zk_unreachable(cfg.zk);
    std::this_thread::sleep_for(milliseconds{20});
  }
  return {};
}

/// Standard input, read once (for the first `-` argument).
caf::expected<std::string> read_stdin() {
  static bool taken = false;
  if (taken)
    return slacker::make_error(slacker::sc::invalid_request,
                               "standard input (-) can be given once only");
  taken = true;
  return std::string{std::istreambuf_iterator<char>{std::cin}, {}};
}

/// A JSON argument as given: the text itself, `@FILE` for a file's content,
/// `-` for standard input; `what` names it in errors.
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
  if (!v)
    return slacker::make_error(slacker::sc::invalid_request,
                               what + from +
                                   " is not JSON: " + slacker::describe(v.error()));
  return std::move(*v);
}

/// Arguments as one JSON array; false (after the error) when one is not JSON.
bool json_args(size_t from, slacker::bytes& out) {
  auto arr = json::array();
  for (size_t i = from; i < positional.size(); ++i) {
    auto v = json_value(positional[i], "argument " + std::to_string(i - from + 1));
    if (!v) {
      fail(v.error());
      return false;
    }
    arr.push_back(std::move(*v));
  }
  auto text = arr.dump();
  out.assign(text.begin(), text.end());
  return true;
}

json parse_result(const slacker::bytes& bytes) {
  // Depth-checked: printing a JSON value recurses.
  auto v = slacker::parse_json(bytes.data(), bytes.size());
  return v ? std::move(*v) : json(std::string(bytes.begin(), bytes.end()));
}

/// A direct call to one server, JSON in and out.
caf::expected<json> call_server(caf::actor_system& sys, const std::string& addr,
                                const std::string& fn, const slacker::bytes& args,
                                std::chrono::milliseconds timeout,
                                const std::string& token = {}) {
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

/// The call policy flags as cluster options; false (after usage) on a bad one.
bool policy_options(const cli_config& cfg, slacker::cluster_options& opts) {
  slacker::grouping_kind g;
  slacker::results_kind r;
  slacker::exceptions_kind e;
  if (!slacker::from_string(cfg.grouping, g)) {
    usage("unknown grouping " + cfg.grouping);
    return false;
  }
  if (!slacker::from_string(cfg.results, r)) {
    usage("unknown results " + cfg.results);
    return false;
  }
  if (!slacker::from_string(cfg.exceptions, e)) {
    usage("unknown exceptions " + cfg.exceptions);
    return false;
  }
  opts.grouping = g;
  opts.results = r;
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
    if (!v) {
      fail(v.error());
      return false;
    }
    opts.unavailable = slacker::fallback(std::move(*v));
  }
  return true;
}

/// True once the client's registry has read the cluster.
bool client_connected(slacker::cluster_client& sc) {
  auto v = sc.members();
  return v && v->state.status == slacker::registry_status::connected;
}

void cmd_call(caf::actor_system& sys, const cli_config& cfg) {
  slacker::bytes args;
  if (!json_args(2, args))
    return;
  auto timeout = std::chrono::milliseconds{cfg.timeout};
  if (!cfg.server.empty()) {
    auto res =
        call_server(sys, cfg.server, positional[1], args, timeout, manager_token(cfg));
    if (!res)
      return fail(res.error());
    std::cout << res->dump() << "\n";
    return;
  }
  slacker::cluster_options opts;
  if (!policy_options(cfg, opts))
    return;
  slacker::cluster_client sc{sys, zk_of(cfg)};
  auto call = sc.prepare_encoded(opts, {}, positional[1], std::move(args));
  if (!call)
    return usage(slacker::describe(call.error()));
  if (auto err = wait_zk(cfg, [&] { return client_connected(sc); }))
    return fail(err);
  auto rep = sc.invoke(std::move(*call));
  if (!rep)
    return fail(rep.error());
  // One decode path, as the reply's shape says.
  caf::expected<json> out{json(nullptr)};
  if (rep->shape == slacker::reply_shape::vector) {
    auto xs = slacker::decode_cluster<std::vector<json>>(*rep, positional[1]);
    out = xs ? caf::expected<json>{json(*xs)} : caf::expected<json>{xs.error()};
  } else if (rep->shape == slacker::reply_shape::map) {
    auto xs = slacker::decode_cluster<std::map<std::string, json>>(*rep, positional[1]);
    out = xs ? caf::expected<json>{json(*xs)} : caf::expected<json>{xs.error()};
  } else if (rep->shape != slacker::reply_shape::nil) {
    out = slacker::decode_cluster<json>(*rep, positional[1]);
  }
  if (!out)
    return fail(out.error());
  std::cout << out->dump() << "\n";
}

/// One `slacker load` caller's figures.
struct load_stats {
  std::vector<uint32_t> latency_us; // every call's
  std::map<std::string, long> errors;
  std::map<std::string, long> servers;
  long calls = 0;
  long ok = 0;
};

/// `slacker load`: a steady load from one long-lived client, bounded by
/// --duration; progress on stderr; one JSON report on stdout.
void cmd_load(caf::actor_system& sys, const cli_config& cfg) {
  using clock = std::chrono::steady_clock;
  if (cfg.concurrency == 0 || cfg.duration == 0)
    return usage("--concurrency and --duration must be at least 1");
  slacker::bytes args;
  if (!json_args(2, args))
    return;
  auto& fn = positional[1];
  auto timeout = std::chrono::milliseconds{cfg.timeout};
  // One call: the servers that answered it, or its error.
  std::function<caf::expected<std::vector<std::string>>()> one;
  std::unique_ptr<slacker::cluster_client> sc;
  std::unique_ptr<slacker::client> direct;
  if (!cfg.server.empty()) {
    slacker::call_options copts;
    copts.codec = slacker::codec_id::json;
    copts.timeout = timeout;
    auto token = manager_token(cfg);
    if (!token.empty())
      copts.ext[slacker::manager_token_ext] = slacker::bytes(token.begin(), token.end());
    if (auto probe = slacker::make_encoded_call(copts, fn, args); !probe)
      return usage(slacker::describe(probe.error()));
    direct = std::make_unique<slacker::client>(sys, cfg.server);
    one = [&, copts]() -> caf::expected<std::vector<std::string>> {
      auto req = slacker::make_encoded_call(copts, fn, args);
      auto rep = direct->invoke(std::move(*req), timeout);
      if (!rep)
        return std::move(rep.error());
      if (rep->err)
        return std::move(rep->err);
      return std::vector<std::string>{cfg.server};
    };
  } else {
    slacker::cluster_options opts;
    if (!policy_options(cfg, opts))
      return;
    sc = std::make_unique<slacker::cluster_client>(sys, zk_of(cfg));
    auto proto = sc->prepare_encoded(opts, {}, fn, args);
    if (!proto)
      return usage(slacker::describe(proto.error()));
    // The first calls go out once the client has read the cluster.
    if (auto err = wait_zk(cfg, [&] { return client_connected(*sc); }))
      return fail(err);
    one = [&, proto = *proto]() -> caf::expected<std::vector<std::string>> {
      auto call = proto;
      call.req.deadline_ns =
          (std::chrono::system_clock::now() + timeout).time_since_epoch() /
          std::chrono::nanoseconds{1};
      auto rep = sc->invoke(std::move(call));
      if (!rep)
        return std::move(rep.error());
      return std::move(rep->addrs);
    };
  }
  std::vector<load_stats> stats(cfg.concurrency);
  std::atomic<long> calls{0};
  std::atomic<long> ok{0};
  std::atomic<uint64_t> next_slot{0};
  auto start = clock::now();
  auto end = start + std::chrono::seconds{cfg.duration};
  std::vector<std::thread> workers;
  for (size_t w = 0; w < cfg.concurrency; ++w)
    workers.emplace_back([&, w] {
      auto& st = stats[w];
      for (;;) {
        if (cfg.rate > 0) {
          // Calls start on a schedule of --rate a second, whoever is free.
          auto k = next_slot.fetch_add(1);
          auto at = start +
                    std::chrono::duration_cast<clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(k) / cfg.rate));
          if (at >= end)
            return;
          std::this_thread::sleep_until(at);
        }
        if (clock::now() >= end)
          return;
        auto t0 = clock::now();
        auto res = one();
        auto took =
            std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0);
        st.latency_us.push_back(static_cast<uint32_t>(took.count()));
        ++st.calls;
        ++calls;
        if (res) {
          ++st.ok;
          ++ok;
          for (auto& addr : *res)
            ++st.servers[addr];
        } else {
          auto code = slacker::code_of(res.error());
          ++st.errors[code == slacker::sc::none ? "error" : slacker::to_string(code)];
        }
      }
    });
  bool show = cfg.progress || isatty(STDERR_FILENO);
  for (auto tick = start + std::chrono::seconds{1}; tick < end;
       tick += std::chrono::seconds{1}) {
    std::this_thread::sleep_until(tick);
    if (show)
      std::cerr << "["
                << std::chrono::duration_cast<std::chrono::seconds>(tick - start).count()
                << " s] " << calls.load() << " calls, " << ok.load() << " ok, "
                << calls.load() - ok.load() << " errors" << std::endl;
  }
  for (auto& t : workers)
    t.join();
  auto elapsed = std::chrono::duration<double>(clock::now() - start).count();
  load_stats all;
  for (auto& st : stats) {
    all.latency_us.insert(all.latency_us.end(), st.latency_us.begin(),
                          st.latency_us.end());
    all.calls += st.calls;
    all.ok += st.ok;
    for (auto& [k, n] : st.errors)
      all.errors[k] += n;
    for (auto& [k, n] : st.servers)
      all.servers[k] += n;
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto pct = [&](double q) -> json {
    if (all.latency_us.empty())
      return nullptr;
    auto i =
        std::min(all.latency_us.size() - 1,
                 static_cast<size_t>(q * static_cast<double>(all.latency_us.size())));
    return all.latency_us[i];
  };
  json out{
      {"calls", all.calls},
      {"ok", all.ok},
      {"errors", all.errors},
      {"calls_per_s", static_cast<double>(all.calls) / elapsed},
      {"p50_us", pct(0.5)},
      {"p99_us", pct(0.99)},
      {"p999_us", pct(0.999)},
      {"max_us", all.latency_us.empty() ? json(nullptr) : json(all.latency_us.back())},
      {"servers", all.servers}};
  if (out["errors"].is_null())
    out["errors"] = json::object();
  if (out["servers"].is_null())
    out["servers"] = json::object();
  std::cout << out.dump() << std::endl;
  exit_code = all.calls > 0 && all.ok == all.calls ? 0 : 1;
}

/// The registry's view once it has read the cluster (or the error after
/// --zk-timeout).
caf::expected<slacker::membership_view> current_view(slacker::registry& reg,
                                                     const cli_config& cfg) {
  caf::expected<slacker::membership_view> v{caf::no_error};
  auto err = wait_zk(cfg, [&] {
    v = reg.view();
    return !v || v->state.status == slacker::registry_status::connected;
  });
  if (err)
    return err;
  return v;
}

json data_json(const std::string& data) {
  return parse_result(slacker::bytes(data.begin(), data.end()));
}

json members_json(const slacker::membership_view& v) {
  json out{{"servers", json::object()},
           {"namespaces", json::object()},
           {"status", to_string(v.state.status)},
           {"view_age_ms", v.state.view_age_ms}};
  for (auto& [addr, data] : v.servers)
    out["servers"][addr] = data_json(data);
  for (auto& [ns, addrs] : v.namespaces) {
    auto leader = v.leaders.find(ns);
    out["namespaces"][ns] = {
        {"servers", addrs},
        {"leader", leader == v.leaders.end() ? json(nullptr) : json(leader->second)}};
  }
  return out;
}

void cmd_members(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg, cfg);
  if (!v)
    return fail(v.error());
  // --wait=N: until N servers are registered, up to --timeout.
  if (v->servers.size() < cfg.wait) {
    v = reg.wait_until([&](auto& view) { return view.servers.size() >= cfg.wait; },
                       milliseconds{cfg.timeout});
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
}

void cmd_inspect(const cli_config& cfg) {
  auto fns = slacker::registered_functions(zk_of(cfg),
                                           positional.size() > 1 ? positional[1] : "",
                                           milliseconds{cfg.zk_timeout});
  if (!fns)
    return fail(fns.error());
  json out = json::object();
  for (auto& [ns, entries] : *fns) {
    out[ns] = json::object();
    for (auto& [fn, data] : entries)
      out[ns][fn] = parse_result(slacker::bytes(data.begin(), data.end()));
  }
  std::cout << out.dump() << "\n";
}

// One JSON line per membership event (`slacker watch`).
json event_json(const slacker::membership_view& v) {
  auto j = members_json(v);
  j["event"] = "snapshot";
  return j;
}
json event_json(const slacker::member_up& x) {
  return {{"event", "member_up"}, {"addr", x.addr}, {"data", data_json(x.data)}};
}
json event_json(const slacker::member_down& x) {
  return {{"event", "member_down"}, {"addr", x.addr}};
}
json event_json(const slacker::server_data_changed& x) {
  return {
      {"event", "server_data_changed"}, {"addr", x.addr}, {"data", data_json(x.data)}};
}
json event_json(const slacker::namespace_up& x) {
  return {{"event", "namespace_up"}, {"ns", x.ns}, {"addr", x.addr}};
}
json event_json(const slacker::namespace_down& x) {
  return {{"event", "namespace_down"}, {"ns", x.ns}, {"addr", x.addr}};
}
json event_json(const slacker::leader_changed& x) {
  return {{"event", "leader_changed"}, {"ns", x.ns}, {"addr", x.addr}};
}
json event_json(const slacker::registry_state& x) {
  return {{"event", "registry_state"},
          {"status", slacker::to_string(x.status)},
          {"view_age_ms", x.view_age_ms}};
}

void cmd_watch(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  // Subscribe once the registry has read the cluster: the snapshot is whole.
  if (auto v = current_view(reg, cfg); !v)
    return fail(v.error());
  // Ends after --count events, or on SIGINT/SIGTERM/SIGHUP (blocked since main).
  auto done = std::make_shared<std::promise<void>>();
  auto ended = std::make_shared<std::atomic<bool>>(false);
  auto finish = [done, ended] {
    if (!ended->exchange(true))
      done->set_value();
  };
  std::thread{[finish] {
    slacker::wait_stop_signal();
    finish();
  }}.detach();
  auto left = std::make_shared<size_t>(cfg.count);
  auto print = [left, finish](json line) {
    std::cout << line.dump() << std::endl;
    if (*left > 0 && --*left == 0)
      finish();
  };
  auto watcher = sys.spawn([print](caf::event_based_actor*) -> caf::behavior {
    return slacker::on_membership([print](auto& x) { print(event_json(x)); });
  });
  caf::anon_send(reg.actor(), slacker::subscribe_atom::value, watcher);
  done->get_future().wait();
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

/// A manager function of the server at `addr`, called directly.
caf::expected<json> manager_call(caf::actor_system& sys, const cli_config& cfg,
                                 const std::string& addr, const std::string& fn,
                                 json args) {
  auto text = args.dump();
  return call_server(sys, addr, std::string{slacker::manager_ns} + "/" + fn,
                     slacker::bytes(text.begin(), text.end()), milliseconds{cfg.timeout},
                     manager_token(cfg));
}

/// Prints the server's state after a change: its namespaces in routing and
/// out of it, and its server-data.
void print_state(caf::actor_system& sys, const cli_config& cfg, const std::string& addr) {
  auto res = manager_call(sys, cfg, addr, "state", json::array());
  if (!res)
    return fail(res.error());
  auto state =
      res->is_string() ? json::parse(res->get<std::string>(), nullptr, false) : *res;
  if (state.is_discarded())
    state = *res;
  json out{{"addr", addr}};
  out.update(state);
  std::cout << out.dump() << "\n";
}

void cmd_server_data(caf::actor_system& sys, const cli_config& cfg) {
  auto addr = positional[1];
  if (positional.size() > 2) {
    auto data = json_value(positional[2], "the server-data");
    if (!data)
      return fail(data.error());
    if (cfg.merge && !data->is_object())
      return fail(slacker::make_error(slacker::sc::invalid_request,
                                      "--merge takes a JSON object, got: " +
                                          slacker::excerpt(data->dump(), 60)));
    auto res =
        manager_call(sys, cfg, addr, cfg.merge ? "merge-server-data" : "set-server-data",
                     json::array({data->dump()}));
    if (!res)
      return fail(res.error());
    return print_state(sys, cfg, addr);
  }
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg, cfg);
  if (!v)
    return fail(v.error());
  auto i = v->servers.find(addr);
  if (i == v->servers.end())
    return fail(slacker::make_error(slacker::sc::not_found,
                                    "no server " + addr + " in cluster " + cfg.cluster));
  std::cout << parse_result(slacker::bytes(i->second.begin(), i->second.end())).dump()
            << "\n";
}

void cmd_offline_online(caf::actor_system& sys, const cli_config& cfg, bool offline) {
  std::string fn = offline ? "offline" : "online";
  auto args = json::array();
  if (positional.size() > 2) {
    fn += "-ns";
    args.push_back(positional[2]);
  }
  auto res = manager_call(sys, cfg, positional[1], fn, args);
  if (!res)
    return fail(res.error());
  if (*res == json(false))
    return fail(slacker::make_error(
        slacker::sc::not_found, positional[1] + " serves no namespace " + positional[2]));
  print_state(sys, cfg, positional[1]);
}

void cmd_shutdown(caf::actor_system& sys, const cli_config& cfg) {
  auto res = manager_call(sys, cfg, positional[1], "shutdown", json::array());
  if (!res)
    return fail(res.error());
  std::cout << json{{"addr", positional[1]}, {"stopping", true}}.dump() << "\n";
}

/// The commands, their flags and help; fills `cfg` and `positional`.
struct command_line {
  CLI::App app{
      "Calls and operates a slacker cluster from the shell: JSON in, JSON out.\n"
      "Configuration keys (--slacker.log-level=debug, --caf.*) pass through to CAF.",
      "slacker"};
  std::string fn;
  std::string addr;
  std::string ns;
  std::vector<std::string> args;

  explicit command_line(cli_config& cfg) {
    app.set_version_flag("--version", std::string{"slacker "} + slacker::version());
    app.require_subcommand(1);
    app.option_defaults()->always_capture_default();
    auto zk = [&](CLI::App* c) {
      c->add_option("--zk", cfg.zk, "ZooKeeper ensemble")->type_name("HOST:PORT[,...]");
      c->add_option("--cluster", cfg.cluster, "cluster name")->type_name("NAME");
      c->add_option("--zk-timeout", cfg.zk_timeout,
                    "give up when ZooKeeper has not answered after this many ms")
          ->type_name("MS");
    };
    auto common = [&](CLI::App* c) {
      c->add_option("--timeout", cfg.timeout, "call timeout")->type_name("MS");
      cfg.security.add_to(*c, false);
    };
    auto policies = [&](CLI::App* c) {
      c->add_option("--server", cfg.server, "call this server directly, not the cluster")
          ->type_name("HOST:PORT");
      c->add_option("--grouping", cfg.grouping, "which servers")
          ->check(CLI::IsMember(slacker::all_names<slacker::grouping_kind>()));
      c->add_option("--results", cfg.results, "how answers combine")
          ->check(CLI::IsMember(slacker::all_names<slacker::results_kind>()));
      c->add_option("--exceptions", cfg.exceptions, "which errors fail the call")
          ->check(CLI::IsMember(slacker::all_names<slacker::exceptions_kind>()));
      c->add_option(
           "--quorum", cfg.quorum,
           "decide once this many servers succeeded (with --grouping=all; 0: off)")
          ->type_name("K");
      c->add_option("--unavailable-value", cfg.unavailable_value,
                    "the result when no server provides the function (JSON, @FILE or -)")
          ->type_name("JSON");
      c->add_flag("--idempotent", cfg.idempotent,
                  "the call may run twice: retried elsewhere, hedged");
      c->add_option(
           "--hedge-after", cfg.hedge_after,
           "ms before a backup call to another server (idempotent calls; 0: none)")
          ->type_name("MS");
    };
    auto function = [&](CLI::App* c) {
      c->add_option("NS/FN", fn, "the function")->required();
      c->add_option("JSON-ARG", args,
                    "its arguments, one JSON value each ('\"text\"', 42, '[1,2]'); "
                    "@FILE reads one from a file, - from standard input")
          ->default_str("");
    };
    auto server = [&](CLI::App* c) {
      c->add_option("ADDR", addr, "the server")->required()->type_name("HOST:PORT");
    };

    auto call =
        app.add_subcommand("call", "call a function through the cluster, or one server");
    function(call);
    policies(call);
    zk(call);
    common(call);

    auto load =
        app.add_subcommand("load", "a steady load on a function; one JSON report");
    function(load);
    load->add_option("--duration", cfg.duration, "seconds to run")->type_name("S");
    load->add_option("--concurrency", cfg.concurrency, "calls in flight")->type_name("N");
    load->add_option("--rate", cfg.rate,
                     "calls a second at most (0: as fast as possible)")
        ->type_name("CALLS_PER_S");
    load->add_flag("--progress", cfg.progress,
                   "a progress line a second on stderr (default: when it is a terminal)");
    load->add_option("--metrics", cfg.metrics,
                     "serve the client's Prometheus /metrics and /health here meanwhile")
        ->type_name("HOST:PORT");
    policies(load);
    zk(load);
    common(load);

    auto inspect =
        app.add_subcommand("inspect", "namespaces, functions, docs and signatures");
    inspect->add_option("NS", ns, "one namespace (default: all)");
    zk(inspect);
    common(inspect);

    auto members = app.add_subcommand(
        "members",
        "servers with data; namespaces with servers and leader; the view's status");
    members
        ->add_option(
            "--wait", cfg.wait,
            "first wait (up to --timeout) until this many servers are registered")
        ->type_name("N");
    zk(members);
    common(members);

    auto watch =
        app.add_subcommand("watch", "membership events as JSON lines until a signal");
    watch->add_option("--count", cfg.count, "stop after this many lines (0: never)")
        ->type_name("N");
    zk(watch);
    common(watch);

    auto data = app.add_subcommand("server-data", "read a server's data, or set it");
    server(data);
    data->add_option("JSON", ns, "the new server-data (JSON, @FILE or -); none: read it");
    data->add_flag("--merge", cfg.merge,
                   "merge the keys of JSON into the server-data (null removes a key) "
                   "instead of replacing it");
    zk(data);
    common(data);

    for (auto [name, what] :
         {std::pair{"offline", "take a server (or one namespace) out of "
                               "routing; it keeps serving direct calls"},
          std::pair{"online", "put a server (or one namespace) back into "
                              "routing"}}) {
      auto c = app.add_subcommand(name, what);
      server(c);
      c->add_option("NS", ns, "only this namespace");
      zk(c); // taken for symmetry: the server is called directly
      common(c);
    }

    auto stop = app.add_subcommand(
        "shutdown", "the server leaves the cluster, drains its calls and stops");
    server(stop);
    zk(stop);
    common(stop);
    app.footer("Run 'slacker COMMAND --help' for a command's options.");
  }

  /// The command first: flags given before it belong to it. False (after
  /// the error) when the first word names no command.
  bool command_first(std::vector<std::string>& words) const {
    auto i = std::find_if(words.begin(), words.end(),
                          [](auto& w) { return w.empty() || w[0] != '-'; });
    if (i == words.end())
      return true;
    auto known =
        app.get_subcommands([&](const CLI::App* c) { return c->get_name() == *i; });
    if (known.empty()) {
      std::cerr << "slacker: unknown command " << *i
                << "\nRun 'slacker --help' for more.\n";
      return false;
    }
    std::rotate(words.begin(), i, i + 1);
    return true;
  }

  /// The command and its arguments, as the commands read them.
  std::vector<std::string> positionals() const {
    auto* cmd = app.get_subcommands().front();
    std::vector<std::string> out{cmd->get_name()};
    auto name = cmd->get_name();
    if (name == "call" || name == "load") {
      out.push_back(fn);
      out.insert(out.end(), args.begin(), args.end());
    } else if (name == "inspect") {
      if (!ns.empty())
        out.push_back(ns);
    } else if (name != "members" && name != "watch") {
      out.push_back(addr);
      if (!ns.empty())
        out.push_back(ns);
    }
    return out;
  }
};

void run(caf::actor_system& sys, const cli_config& cfg) {
  auto& cmd = positional[0];
  if (cmd == "call")
    cmd_call(sys, cfg);
  else if (cmd == "load")
    cmd_load(sys, cfg);
  else if (cmd == "inspect")
    cmd_inspect(cfg);
  else if (cmd == "members")
    cmd_members(sys, cfg);
  else if (cmd == "watch")
    cmd_watch(sys, cfg);
  else if (cmd == "server-data")
    cmd_server_data(sys, cfg);
  else if (cmd == "offline" || cmd == "online")
    cmd_offline_online(sys, cfg, cmd == "offline");
  else if (cmd == "shutdown")
    cmd_shutdown(sys, cfg);
}

} // namespace

int main(int argc, char** argv) {
  // Stop signals are blocked before CAF starts threads; `watch` ends cleanly
  // on one, every other command at once (exit status 128 + signal).
  slacker::block_stop_signals();
  auto parts = slacker_apps::split(argc, argv);
  cli_config cfg;
  command_line cli{cfg};
  if (!cli.command_first(parts.cli))
    return slacker_apps::usage_exit;
  if (auto rc = slacker_apps::parse(cli.app, parts.cli); rc >= 0)
    return rc;
  positional = cli.positionals();
  if (positional[0] != "watch")
    slacker::exit_on_stop_signal();
  // CAF's configuration: slacker's keys given as flags, then the ones given
  // as keys (which win). The tool speaks through its results and its one
  // error line; the library's log is there with --slacker.log-level=warn.
  slacker::config sys_cfg;
  sys_cfg.set("slacker.log-level", "critical");
  std::vector<std::string> keys;
  cfg.security.forward(keys);
  if (!cfg.metrics.empty())
    keys.push_back("--slacker.metrics=" + cfg.metrics);
  keys.insert(keys.end(), parts.caf.begin(), parts.caf.end());
  if (auto rc = slacker_apps::parse_config(sys_cfg, "slacker", keys); rc >= 0)
    return rc;
  caf::actor_system sys{sys_cfg};
  run(sys, cfg);
  return exit_code;
}
