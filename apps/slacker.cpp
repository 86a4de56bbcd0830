// slacker: call and operate a cluster from the shell. JSON in, JSON out.
//   slacker call --zk=HOST:PORT --cluster=NAME [--grouping=G] [--results=R]
//                [--exceptions=E] [--quorum=K] [--timeout=MS] [--unavailable-value=JSON]
//                [--idempotent] [--hedge-after=MS] NS/FN [JSON-ARG ...]
//   slacker call --server=HOST:PORT NS/FN [JSON-ARG ...]
//   slacker load [--zk=.. --cluster=.. | --server=..] [--duration=S] [--concurrency=N]
//                [--rate=CALLS_PER_S] [--progress] [call options] NS/FN [JSON-ARG ...]
//   slacker inspect --zk=.. --cluster=.. [NS]
//   slacker members --zk=.. --cluster=..
//   slacker watch --zk=.. --cluster=.. [--count=N]
//   slacker server-data --zk=.. --cluster=.. ADDR [JSON]
//   slacker offline|online --zk=.. --cluster=.. ADDR [NS]
//   slacker shutdown ADDR
// Manager writes (offline, online, server-data ADDR JSON, shutdown) and direct
// calls send --manager-token (or $SLACKER_MANAGER_TOKEN) when given. TLS:
// --tls-cert=F --tls-key=F --tls-ca=F. ZooKeeper digest auth: --zk-auth=U:P.
// Errors: `error: <code>: <message>` on stderr, exit 1. Bad usage: exit 2.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "slacker/actors/client.hpp"
#include "slacker/actors/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/manager.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/registry/zk_session.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"
#include "slacker/runtime/version.hpp"

namespace {

using json = nlohmann::json;

std::vector<std::string> positional; // the command and its arguments
int exit_code = 0;

constexpr const char* usage_text =
  "usage: slacker call|load|inspect|members|watch|server-data|offline|online|shutdown "
  "[--zk=HOST:PORT] "
  "[--cluster=NAME] [--server=HOST:PORT] [options] ARGS (see docs/cli.md)";

struct cli_config : slacker::config {
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  std::string server;
  std::string grouping = "random";
  std::string results = "single";
  std::string exceptions = "all";
  size_t timeout = 10000;
  std::string unavailable_value;
  bool idempotent = false; // --idempotent[=true|false]
  size_t hedge_after = 0;
  size_t quorum = 0;
  size_t count = 0;
  size_t duration = 10;
  size_t concurrency = 4;
  size_t rate = 0;
  bool progress = false;
  cli_config() {
    opt_group{custom_options_, "global"}
      .add(zk, "zk", "ZooKeeper ensemble (default 127.0.0.1:2181)")
      .add(cluster, "cluster", "cluster name (default example-cluster)")
      .add(server, "server", "call this server directly instead of the cluster")
      .add(grouping, "grouping",
           "random|all|first|leader|least-in-flight|weighted|round-robin")
      .add(results, "results", "single|vector|map|nil")
      .add(exceptions, "exceptions", "all|any")
      .add(timeout, "timeout", "call timeout in ms (default 10000)")
      .add(unavailable_value, "unavailable-value", "JSON returned when no server provides it")
      .add(idempotent, "idempotent", "the call may run twice: retried elsewhere, hedged")
      .add(hedge_after, "hedge-after", "ms before a backup call to another server (0: none)")
      .add(quorum, "quorum", "decide once this many servers succeeded (with --grouping=all)")
      .add(count, "count", "watch: stop after this many events (0: until Ctrl-C)")
      .add(duration, "duration", "load: seconds to run (default 10)")
      .add(concurrency, "concurrency", "load: calls in flight (default 4)")
      .add(rate, "rate", "load: calls per second at most (default 0: as fast as possible)")
      .add(progress, "progress", "load: a progress line a second on stderr");
    set("slacker.log-level", "warn");
  }
};

void usage(const std::string& why) {
  std::cerr << "slacker: " << why << "\n" << usage_text << "\n";
  exit_code = 2;
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
  opts.auth.digest = cfg.zk_auth;
  return opts;
}

/// The manager token to send: --manager-token, else $SLACKER_MANAGER_TOKEN.
std::string manager_token(const cli_config& cfg) {
  if (!cfg.manager_token.empty())
    return cfg.manager_token;
  auto env = std::getenv("SLACKER_MANAGER_TOKEN");
  return env ? env : "";
}

/// Arguments as one JSON array; false (after usage) when one is not JSON.
bool json_args(size_t from, slacker::bytes& out) {
  auto arr = json::array();
  for (size_t i = from; i < positional.size(); ++i) {
    auto v = slacker::parse_json(positional[i].data(), positional[i].size());
    if (!v) {
      usage("argument " + std::to_string(i - from + 1) + " (" + slacker::excerpt(positional[i], 60)
            + "): " + slacker::describe(v.error()));
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
    if (!json::accept(cfg.unavailable_value)) {
      usage("--unavailable-value is not JSON");
      return false;
    }
    opts.unavailable = slacker::fallback(json::parse(cfg.unavailable_value));
  }
  return true;
}

void cmd_call(caf::actor_system& sys, const cli_config& cfg) {
  if (positional.size() < 2)
    return usage("call needs NS/FN");
  slacker::bytes args;
  if (!json_args(2, args))
    return;
  auto timeout = std::chrono::milliseconds{cfg.timeout};
  if (!cfg.server.empty()) {
    auto res = call_server(sys, cfg.server, positional[1], args, timeout, manager_token(cfg));
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
  if (positional.size() < 2)
    return usage("load needs NS/FN");
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
    // The first calls wait for the client's first view of the cluster.
    for (int i = 0; i < 100; ++i) {
      auto v = sc->members();
      if (v && v->state.status == slacker::registry_status::connected)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    one = [&, proto = *proto]() -> caf::expected<std::vector<std::string>> {
      auto call = proto;
      call.req.deadline_ns = (std::chrono::system_clock::now() + timeout).time_since_epoch()
                             / std::chrono::nanoseconds{1};
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
          auto at = start + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(static_cast<double>(k) / cfg.rate));
          if (at >= end)
            return;
          std::this_thread::sleep_until(at);
        }
        if (clock::now() >= end)
          return;
        auto t0 = clock::now();
        auto res = one();
        auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0);
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
  for (auto tick = start + std::chrono::seconds{1}; tick < end; tick += std::chrono::seconds{1}) {
    std::this_thread::sleep_until(tick);
    if (show)
      std::cerr << "[" << std::chrono::duration_cast<std::chrono::seconds>(tick - start).count()
                << " s] " << calls.load() << " calls, " << ok.load() << " ok, "
                << calls.load() - ok.load() << " errors" << std::endl;
  }
  for (auto& t : workers)
    t.join();
  auto elapsed = std::chrono::duration<double>(clock::now() - start).count();
  load_stats all;
  for (auto& st : stats) {
    all.latency_us.insert(all.latency_us.end(), st.latency_us.begin(), st.latency_us.end());
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
    auto i = std::min(all.latency_us.size() - 1,
                      static_cast<size_t>(q * static_cast<double>(all.latency_us.size())));
    return all.latency_us[i];
  };
  json out{{"calls", all.calls},
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

/// The registry's view once it has read the cluster (or an error after 10 s).
caf::expected<slacker::membership_view> current_view(slacker::registry& reg) {
  for (int i = 0; i < 100; ++i) {
    auto v = reg.view();
    if (!v)
      return v;
    if (v->state.status == slacker::registry_status::connected)
      return v;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return slacker::make_error(slacker::sc::unavailable, "cannot reach ZooKeeper");
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
    out["namespaces"][ns] = {{"servers", addrs},
                             {"leader", leader == v.leaders.end() ? json(nullptr)
                                                                  : json(leader->second)}};
  }
  return out;
}

void cmd_members(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg);
  if (!v)
    return fail(v.error());
  std::cout << members_json(*v).dump() << "\n";
}

void cmd_inspect(const cli_config& cfg) {
  auto zk = slacker::zk::session::open(cfg.zk, std::chrono::seconds{10},
                                       [](const slacker::zk::event&) {});
  if (!zk)
    return fail(zk.error());
  auto base = zk_of(cfg).base() + "/functions";
  // The session connects in the background: retry while it does.
  auto with_retry = [&](auto op) {
    slacker::zk::status st;
    for (int i = 0; i < 100; ++i) {
      st = op();
      if (st.code != slacker::zk::rc::connection_loss)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    return st;
  };
  std::vector<std::string> namespaces;
  if (positional.size() > 1) {
    namespaces.push_back(positional[1]);
  } else {
    auto st = with_retry([&] { return (*zk)->children(base, false, namespaces); });
    if (!st && st.code != slacker::zk::rc::no_node)
      return fail(slacker::make_error(slacker::sc::unavailable, "ZooKeeper: " + st.text));
  }
  json out = json::object();
  for (auto& ns : namespaces) {
    std::vector<std::string> fns;
    auto st = with_retry([&] { return (*zk)->children(base + "/" + ns, false, fns); });
    if (!st) {
      if (st.code == slacker::zk::rc::no_node)
        return fail(slacker::make_error(slacker::sc::not_found,
                                        "no namespace " + ns + " in cluster " + cfg.cluster));
      return fail(slacker::make_error(slacker::sc::unavailable, "ZooKeeper: " + st.text));
    }
    out[ns] = json::object();
    for (auto& fn : fns) {
      std::string data;
      with_retry([&] { return (*zk)->get(base + "/" + ns + "/" + fn, false, data); });
      out[ns][fn] = parse_result(slacker::bytes(data.begin(), data.end()));
    }
  }
  std::cout << out.dump() << "\n";
}

void cmd_watch(caf::actor_system& sys, const cli_config& cfg) {
  slacker::registry reg{sys, zk_of(cfg)};
  // Subscribe once the registry has read the cluster: the snapshot is whole.
  if (auto v = current_view(reg); !v)
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
    using namespace slacker;
    return {
      [=](membership_view& v) {
        auto j = members_json(v);
        j["event"] = "snapshot";
        print(j);
      },
      [=](member_up& x) {
        print({{"event", "member_up"}, {"addr", x.addr}, {"data", data_json(x.data)}});
      },
      [=](member_down& x) { print({{"event", "member_down"}, {"addr", x.addr}}); },
      [=](server_data_changed& x) {
        print({{"event", "server_data_changed"}, {"addr", x.addr}, {"data", data_json(x.data)}});
      },
      [=](namespace_up& x) {
        print({{"event", "namespace_up"}, {"ns", x.ns}, {"addr", x.addr}});
      },
      [=](namespace_down& x) {
        print({{"event", "namespace_down"}, {"ns", x.ns}, {"addr", x.addr}});
      },
      [=](leader_changed& x) {
        print({{"event", "leader_changed"}, {"ns", x.ns}, {"addr", x.addr}});
      },
      [=](registry_state& x) {
        print({{"event", "registry_state"},
               {"status", to_string(x.status)},
               {"view_age_ms", x.view_age_ms}});
      },
    };
  });
  caf::anon_send(reg.actor(), slacker::subscribe_atom::value, watcher);
  done->get_future().wait();
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

void cmd_server_data(caf::actor_system& sys, const cli_config& cfg) {
  if (positional.size() < 2)
    return usage("server-data needs ADDR");
  auto addr = positional[1];
  if (positional.size() > 2) {
    if (!slacker::parse_json(positional[2].data(), positional[2].size()))
      return usage("server-data must be JSON: " + slacker::excerpt(positional[2], 60));
    auto args = json::array({positional[2]}).dump();
    auto res = call_server(sys, addr, std::string{slacker::manager_ns} + "/set-server-data",
                           slacker::bytes(args.begin(), args.end()),
                           std::chrono::milliseconds{cfg.timeout}, manager_token(cfg));
    if (!res)
      return fail(res.error());
    std::cout << res->dump() << "\n";
    return;
  }
  slacker::registry reg{sys, zk_of(cfg)};
  auto v = current_view(reg);
  if (!v)
    return fail(v.error());
  auto i = v->servers.find(addr);
  if (i == v->servers.end())
    return fail(slacker::make_error(slacker::sc::not_found,
                                    "no server " + addr + " in cluster " + cfg.cluster));
  std::cout << parse_result(slacker::bytes(i->second.begin(), i->second.end())).dump() << "\n";
}

void cmd_offline_online(caf::actor_system& sys, const cli_config& cfg, bool offline) {
  if (positional.size() < 2)
    return usage(positional[0] + " needs ADDR");
  std::string fn = offline ? "offline" : "online";
  auto args = json::array();
  if (positional.size() > 2) {
    fn += "-ns";
    args.push_back(positional[2]);
  }
  auto text = args.dump();
  auto res = call_server(sys, positional[1], std::string{slacker::manager_ns} + "/" + fn,
                         slacker::bytes(text.begin(), text.end()),
                         std::chrono::milliseconds{cfg.timeout}, manager_token(cfg));
  if (!res)
    return fail(res.error());
  std::cout << res->dump() << "\n";
}

void cmd_shutdown(caf::actor_system& sys, const cli_config& cfg) {
  if (positional.size() < 2)
    return usage("shutdown needs ADDR");
  std::string none = "[]";
  auto res = call_server(sys, positional[1], std::string{slacker::manager_ns} + "/shutdown",
                         slacker::bytes(none.begin(), none.end()),
                         std::chrono::milliseconds{cfg.timeout}, manager_token(cfg));
  if (!res)
    return fail(res.error());
  std::cout << res->dump() << "\n";
}

void caf_main(caf::actor_system& sys, const cli_config& cfg) {
  if (positional.empty())
    return usage("no command");
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
  else
    usage("unknown command " + cmd);
}

} // namespace

// Options (--name=value) go to CAF wherever they stand; everything else is
// the command and its arguments. After `--`, everything is an argument.
int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (std::find(args.begin(), args.end(), "--version") != args.end()) {
    std::printf("slacker %s\n", slacker::version());
    return 0;
  }
  slacker::expand_option_aliases(args, {"idempotent", "progress"});
  std::vector<char*> options{args[0].data()};
  bool rest = false;
  for (size_t i = 1; i < args.size(); ++i) {
    auto& arg = args[i];
    if (!rest && arg == "--")
      rest = true;
    else if (!rest && arg.rfind("--", 0) == 0)
      options.push_back(arg.data());
    else
      positional.push_back(arg);
  }
  // Stop signals are blocked before CAF starts threads; `watch` ends cleanly
  // on one, every other command at once (exit status 128 + signal).
  slacker::block_stop_signals();
  if (positional.empty() || positional[0] != "watch")
    slacker::exit_on_stop_signal();
  options.push_back(nullptr);
  auto rc = caf::exec_main<>(caf_main, static_cast<int>(options.size() - 1), options.data());
  return rc != 0 ? 2 : exit_code;
}
