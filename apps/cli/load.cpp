// slacker load NS/FN JSON-ARG...: a steady load from one long-lived client,
// bounded by --duration; progress on stderr; one JSON report on stdout.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"

namespace slacker_cli {

namespace {

/// Latencies (sorted) as histogram buckets of a 1-2-5 series in µs, from the
/// first one holding a call to the last: `{"le_us": bound, "count": calls}`.
json histogram(const std::vector<uint32_t>& sorted) {
  auto out = json::array();
  if (sorted.empty())
    return out;
  size_t i = 0;
  for (uint64_t decade = 1;; decade *= 10)
    for (uint64_t step : {1, 2, 5}) {
      auto bound = decade * step;
      size_t n = 0;
      while (i < sorted.size() && sorted[i] <= bound) {
        ++n;
        ++i;
      }
      if (n > 0 || !out.empty())
        out.push_back({{"le_us", bound}, {"count", n}});
      if (i == sorted.size())
        return out;
    }
}

/// One `slacker load` caller's figures.
struct load_stats {
  std::vector<uint32_t> latency_us; // every call's
  std::map<std::string, long> errors;
  std::map<std::string, long> servers;
  long calls = 0;
  long ok = 0;
  long warmup = 0; // calls made during the warm-up, not counted
};

/// `slacker load`: a steady load from one long-lived client, bounded by
/// --duration; progress on stderr; one JSON report on stdout.
int run_load(caf::actor_system& sys, const cli_config& cfg) {
  using clock = std::chrono::steady_clock;
  if (cfg.concurrency == 0)
    return usage(cfg, "--concurrency must be at least 1");
  if (cfg.warmup < 0)
    return usage(cfg, "--warmup must not be negative");
  // --duration bounds the measured run; by default 10 s, or none with --calls.
  auto duration = cfg.duration > 0 ? cfg.duration : cfg.calls > 0 ? 0 : 10;
  auto ext = call_extensions(cfg);
  if (!ext)
    return usage(cfg, slacker::describe(ext.error()));
  auto encoded = json_args(cfg.args);
  if (!encoded)
    return fail(encoded.error());
  auto& args = *encoded;
  auto& fn = cfg.fn;
  auto timeout = std::chrono::milliseconds{cfg.timeout};
  // One call: the servers that answered it, or its error.
  std::function<caf::expected<std::vector<std::string>>()> one;
  std::unique_ptr<slacker::cluster_client> sc;
  std::unique_ptr<slacker::client> direct;
  if (!cfg.server.empty()) {
    slacker::call_options copts;
    copts.codec = slacker::codec_id::json;
    copts.timeout = timeout;
    copts.ext = *ext;
    if (auto probe = slacker::make_encoded_call(copts, fn, args); !probe)
      return usage(cfg, slacker::describe(probe.error()));
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
    if (auto rc = policy_options(cfg, opts))
      return rc;
    opts.ext = *ext;
    sc = std::make_unique<slacker::cluster_client>(sys, zk_of(cfg));
    auto proto = sc->prepare_encoded(opts, {}, fn, args);
    if (!proto)
      return usage(cfg, slacker::describe(proto.error()));
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
  std::atomic<long> tickets{0}; // measured calls begun (--calls)
  std::mutex mx;
  std::condition_variable cv;
  size_t finished = 0;
  auto start = clock::now();
  auto measure_from = start + std::chrono::duration_cast<clock::duration>(
                                  std::chrono::duration<double>(cfg.warmup));
  auto end = duration > 0 ? measure_from + std::chrono::seconds{duration}
                          : clock::time_point::max();
  std::vector<std::thread> workers;
  for (size_t w = 0; w < cfg.concurrency; ++w)
    workers.emplace_back([&, w] {
      auto& st = stats[w];
      auto done = [&] {
        std::lock_guard<std::mutex> guard{mx};
        ++finished;
        cv.notify_all();
      };
      for (;;) {
        if (cfg.rate > 0) {
          // Calls start on a schedule of --rate a second, whoever is free.
          auto k = next_slot.fetch_add(1);
          auto at = start +
                    std::chrono::duration_cast<clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(k) / cfg.rate));
          if (at >= end)
            return done();
          std::this_thread::sleep_until(at);
        }
        auto t0 = clock::now();
        if (t0 >= end)
          return done();
        bool measured = t0 >= measure_from;
        if (measured && cfg.calls > 0 &&
            tickets.fetch_add(1) >= static_cast<long>(cfg.calls))
          return done();
        auto res = one();
        if (!measured) {
          ++st.warmup;
          continue;
        }
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
  for (auto tick = start + std::chrono::seconds{1};; tick += std::chrono::seconds{1}) {
    {
      std::unique_lock<std::mutex> guard{mx};
      if (cv.wait_until(guard, tick, [&] { return finished == workers.size(); }))
        break;
    }
    if (show)
      std::cerr << "["
                << std::chrono::duration_cast<std::chrono::seconds>(tick - start).count()
                << " s] " << calls.load() << " calls, " << ok.load() << " ok, "
                << calls.load() - ok.load() << " errors" << std::endl;
  }
  for (auto& t : workers)
    t.join();
  auto elapsed =
      std::chrono::duration<double>(clock::now() - std::max(start, measure_from)).count();
  load_stats all;
  for (auto& st : stats) {
    all.latency_us.insert(all.latency_us.end(), st.latency_us.begin(),
                          st.latency_us.end());
    all.calls += st.calls;
    all.ok += st.ok;
    all.warmup += st.warmup;
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
      {"p90_us", pct(0.9)},
      {"p99_us", pct(0.99)},
      {"p999_us", pct(0.999)},
      {"p9999_us", pct(0.9999)},
      {"max_us", all.latency_us.empty() ? json(nullptr) : json(all.latency_us.back())},
      {"histogram", histogram(all.latency_us)},
      {"warmup_calls", all.warmup},
      {"servers", all.servers}};
  if (out["errors"].is_null())
    out["errors"] = json::object();
  if (out["servers"].is_null())
    out["servers"] = json::object();
  std::cout << out.dump() << std::endl;
  return all.calls > 0 && all.ok == all.calls ? 0 : 1;
}

} // namespace

command load_command() {
  return {
      "load", "a steady load on a function; one JSON report",
      [](CLI::App& c, cli_config& cfg) {
        add_function_arguments(c, cfg);
        c.add_option("--duration", cfg.duration,
                     "seconds to measure (with --calls: no limit unless given)")
            ->type_name("S")
            ->default_str("10");
        c.add_option("--calls", cfg.calls, "stop after this many measured calls")
            ->type_name("N");
        c.add_option("--warmup", cfg.warmup,
                     "seconds of calls before measuring (not in the report)")
            ->type_name("S");
        c.add_option("--concurrency", cfg.concurrency, "calls in flight")->type_name("N");
        c.add_option("--rate", cfg.rate,
                     "calls a second at most (0: as fast as possible)")
            ->type_name("CALLS_PER_S");
        c.add_flag("--progress", cfg.progress,
                   "a progress line a second on stderr (default: when it is a terminal)");
        c.add_option("--metrics", cfg.metrics,
                     "serve the client's Prometheus /metrics, /health and status portal "
                     "(/) here meanwhile")
            ->type_name("HOST:PORT");
        add_policy_options(c, cfg);
        add_zk_options(c, cfg);
        add_common_options(c, cfg);
      },
      run_load};
}

} // namespace slacker_cli
