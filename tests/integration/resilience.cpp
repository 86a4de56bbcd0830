#define CAF_SUITE resilience
#include <caf/test/unit_test.hpp>

// Calls through sick servers (docs/reliability.md), under a steady load of
// real calls to real test-server processes registered in the real ZooKeeper.
// Each test prints its figure.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "apps/support/proc_status.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "tests/call_load.hpp"
#include "tests/cluster_fixture.hpp"
#include "tests/event_log.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::event_log;
using slacker_test::member;
using slacker_test::zk_address;
using clock_type = std::chrono::steady_clock;
using slacker_test::load;
using slacker_test::ms_of;
using slacker_test::zk_frozen;

namespace {

/// A cluster client with an actor system of its own, whose calls from plain
/// code take `path` (`slacker.blocking-calls`), and the membership events it
/// tells in `log`.
struct own_client {
  slacker::config cfg;
  caf::actor_system sys;
  cluster_client c;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor watcher;

  own_client(const std::string& cluster, const char* path,
             const std::function<void(slacker::config&)>& more = {})
    : sys{configured(cfg, path, more)}, c{sys, zk_of(cluster)} {
    watcher = sys.spawn(slacker_test::collector, log);
    c.subscribe(watcher);
  }

  ~own_client() {
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  }

  /// `cfg` with `path` for calls from plain code, and what `more` sets.
  static slacker::config& configured(slacker::config& cfg, const char* path,
                                     const std::function<void(slacker::config&)>& more) {
    cfg.set("slacker.blocking-calls", path);
    if (more)
      more(cfg);
    return cfg;
  }

  static zk_options zk_of(const std::string& cluster) {
    zk_options zk;
    zk.zk = zk_address();
    zk.cluster = cluster;
    return zk;
  }
};

struct fixture : slacker_test::cluster_fixture {
  fixture() : cluster_fixture("resilience") {}

  /// Starts a server (session timeout `session_ms`) and waits until this
  /// client can route to it.
  member& start(int session_ms = 2000, std::vector<std::string> extra = {}) {
    members.push_back(
        std::make_unique<member>(cluster, "{}", session_ms, uint16_t{0}, true, extra));
    wait_routable(*members.back());
    return *members.back();
  }

  cluster_call prepare(const cluster_options& opts, const std::string& fn) {
    auto call = client->prepare(opts, {}, fn, std::string{"x"});
    SLACKER_REQUIRE(call, describe(call.error()));
    return std::move(*call);
  }

  /// Calls per second over [from, to).
  double rate(load& l, clock_type::time_point from, clock_type::time_point to) {
    return static_cast<double>(l.ok_between(from, to)) /
           std::chrono::duration<double>(to - from).count();
  }

  /// A server stopped and replaced; the replacement is routable.
  void replace(size_t i) {
    auto line = members[i]->proc.wait_for("stopped", 20000);
    SLACKER_REQUIRE(line, members[i]->addr << " did not stop gracefully");
    members[i]->proc.stop();
    members[i].reset();
    start();
  }
};

cluster_options with_timeout(std::chrono::milliseconds t) {
  cluster_options opts;
  opts.timeout = t;
  return opts;
}

/// The `q`-quantile of `xs` (sorted here).
clock_type::duration quantile(std::vector<clock_type::duration> xs, double q) {
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1,
                     static_cast<size_t>(q * static_cast<double>(xs.size())))];
}

/// The state of each server in every cluster part of the status portal
/// now, added to `out` (addr -> states seen).
void portal_states(std::map<std::string, std::set<std::string>>& out) {
  for (auto& [title, part] : slacker::metrics::read_status("cluster")) {
    auto j = nlohmann::json::parse(part, nullptr, false);
    if (!j.is_object() || !j.contains("servers"))
      continue;
    for (auto& s : j["servers"])
      out[s.value("addr", "")].insert(s.value("state", ""));
  }
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(resilience_tests, fixture)

CAF_TEST(a frozen server leaves routing within 3 s and no call waits on it longer) {
  start(15000); // its session outlives the test: only the heartbeats can tell
  start();
  start();
  auto frozen_pid = members[0]->proc.pid();
  load l{*client, prepare(with_timeout(3s), "test.api/echo"), 4};
  std::this_thread::sleep_for(1s); // the measurement's baseline window
  auto frozen_at = clock_type::now();
  auto baseline = rate(l, frozen_at - 800ms, frozen_at);
  ::kill(frozen_pid, SIGSTOP);
  SLACKER_REQUIRE(slacker_test::wait_proc_state(frozen_pid, 'T', 5s),
                  "the server did not stop");
  std::this_thread::sleep_for(5s);
  auto end = clock_type::now();
  l.stop();
  ::kill(frozen_pid, SIGCONT);
  std::string windows;
  for (auto t = frozen_at; t + 250ms <= end; t += 250ms)
    windows += std::to_string(static_cast<long>(rate(l, t, t + 250ms))) + " ";
  CAF_MESSAGE("calls/s per 250 ms after the freeze: " << windows);
  // Recovered: the first 250 ms window back above a share of the baseline.
  auto back_above = [&](double share) {
    for (auto t = frozen_at; t + 250ms <= end; t += 250ms)
      if (rate(l, t, t + 250ms) >= share * baseline)
        return t;
    return end;
  };
  auto recovered = back_above(0.8);
  auto flowing = back_above(0.5);
  CAF_MESSAGE(
      "baseline " << static_cast<long>(baseline) << " calls/s; back above 80 % after "
                  << ms_of(recovered - frozen_at) << " ms, above 50 % after "
                  << ms_of(flowing - frozen_at) << " ms ("
                  << static_cast<long>(rate(l, flowing, end))
                  << " calls/s from then on); longest call " << ms_of(l.longest())
                  << " ms; " << l.failed() << " of " << l.calls() << " calls failed");
  // The 80 % figure is reported: two servers on two shared cores sometimes
  // run at 75-80 % of three for a second. What is asserted: calls flow again
  // within 3 s (the frozen server is out of routing), none waited longer.
  CAF_CHECK(flowing - frozen_at <= 3s);
  CAF_CHECK(l.longest() <= 3s);
  CAF_CHECK_EQUAL(l.failed(), 0u); // echo is idempotent: resent elsewhere
}

CAF_TEST(a rolling restart through the manager shutdown loses no call) {
  for (int i = 0; i < 3; ++i)
    start();
  // note is not idempotent: only the drain keeps its calls whole.
  load l{*client, prepare(with_timeout(3s), "test.api/note"), 4};
  std::this_thread::sleep_for(300ms);
  for (size_t i = 0; i < 3; ++i) {
    slacker::client c{sys, members[i]->addr};
    auto ok = c.call<bool>(std::string{manager_ns} + "/shutdown");
    SLACKER_REQUIRE(ok, describe(ok.error()));
    replace(i);
  }
  std::this_thread::sleep_for(300ms);
  l.stop();
  CAF_MESSAGE(l.calls() << " calls through 3 restarts, " << l.failed() << " failed");
  for (auto& e : l.first_errors())
    CAF_MESSAGE("  " << e);
  CAF_CHECK_EQUAL(l.failed(), 0u);
  CAF_CHECK_GREATER(l.calls(), 100u);
}

CAF_TEST(a rolling restart by a termination signal with ZooKeeper frozen loses no call) {
  // Sessions that outlive the freeze: a ZooKeeper thawed after longer expires
  // them all at once, which is another story (the coordination-faults issue).
  for (int i = 0; i < 3; ++i)
    start(15000);
  load l{*client, prepare(with_timeout(3s), "test.api/note"), 4}; // not idempotent
  std::this_thread::sleep_for(300ms);
  for (size_t i = 0; i < 3; ++i) {
    {
      zk_frozen frozen; // nobody hears of the stop through ZooKeeper
      auto t0 = clock_type::now();
      members[i]->proc.signal(SIGTERM);
      SLACKER_REQUIRE(members[i]->proc.wait_for("stopped", 20000),
                      members[i]->addr << " did not stop gracefully");
      CAF_MESSAGE("stopped in " << ms_of(clock_type::now() - t0)
                                << " ms with ZooKeeper frozen");
    }
    members[i]->proc.stop();
    members[i].reset();
    start(15000);
  }
  std::this_thread::sleep_for(300ms);
  l.stop();
  CAF_MESSAGE(l.calls() << " calls through 3 restarts with ZooKeeper frozen, "
                        << l.failed() << " failed");
  for (auto& e : l.first_errors())
    CAF_MESSAGE("  " << e);
  CAF_CHECK_EQUAL(l.failed(), 0u);
}

CAF_TEST(a killed server fails only the calls in flight and none that are idempotent) {
  for (int i = 0; i < 3; ++i)
    start();
  {
    load l{*client, prepare(with_timeout(3s), "test.api/echo"), 4};
    std::this_thread::sleep_for(500ms);
    members[0]->proc.kill();
    std::this_thread::sleep_for(1s);
    l.stop();
    CAF_MESSAGE("idempotent: " << l.failed() << " of " << l.calls() << " failed");
    for (auto& e : l.first_errors())
      CAF_MESSAGE("  " << e);
    CAF_CHECK_EQUAL(l.failed(), 0u);
  }
  {
    load l{*client, prepare(with_timeout(3s), "test.api/note"), 4};
    std::this_thread::sleep_for(500ms);
    members[1]->proc.kill();
    std::this_thread::sleep_for(1s);
    l.stop();
    auto failures = l.failures();
    CAF_MESSAGE("not idempotent: " << l.failed() << " of " << l.calls() << " failed");
    for (auto& e : l.first_errors())
      CAF_MESSAGE("  " << e);
    CAF_CHECK_LESS_OR_EQUAL(l.failed(), 4u); // at most one in flight per caller
    // Each was in flight: it may have run, and says so.
    CAF_CHECK_EQUAL(l.failed(), failures[sc::outcome_unknown]);
  }
}

CAF_TEST(under short freezes every failed call says whether it may have run) {
  // The probe: calls that are not idempotent, each with its own id,
  // recorded by the server that runs them; one server frozen 4 times for
  // 2.6 s (longer than the peer timeout: its connections drop while calls
  // wait there). Every call succeeds and ran exactly once, or failed "did
  // not run" and ran nowhere, or failed outcome_unknown / timeout.
  start(15000);
  start(15000);
  std::mutex mtx;
  std::map<std::string, sc> outcome; // id -> code (none: success)
  std::atomic<bool> stop{false};
  auto worker = [&](int w) {
    auto opts = with_timeout(3s);
    for (int i = 0; !stop && i < 200000; ++i) {
      auto id = std::to_string(w) + "-" + std::to_string(i);
      auto r = client->call<int64_t>(opts, "test.api/record", id);
      std::lock_guard<std::mutex> guard{mtx};
      outcome[id] = r ? sc::none : code_of(r.error());
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back(worker, w);
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(400ms);
    members[0]->proc.signal(SIGSTOP);
    std::this_thread::sleep_for(2600ms);
    members[0]->proc.signal(SIGCONT);
  }
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& t : workers)
    t.join();
  // What ran where, once the frozen server has caught up.
  std::map<std::string, int> runs;
  for (auto& m : members) {
    slacker::client direct{sys, m->addr};
    auto ids = direct.call<std::vector<std::string>>("test.api/recorded");
    SLACKER_REQUIRE(ids, describe(ids.error()));
    for (auto& id : *ids)
      ++runs[id];
  }
  std::map<sc, size_t> by_code;
  size_t wrong = 0;
  for (auto& [id, code] : outcome) {
    ++by_code[code];
    auto ran = runs.count(id) ? runs[id] : 0;
    bool ok = true;
    switch (code) {
      case sc::none:
        ok = ran == 1;
        break;
      case sc::connection_broken:
      case sc::draining:
      case sc::overloaded:
      case sc::canceled:
        ok = ran == 0; // said "did not run"
        break;
      case sc::outcome_unknown:
      case sc::timeout:
        ok = ran <= 1; // may have run, never twice
        break;
      default:
        ok = false;
    }
    if (!ok && ++wrong <= 5)
      CAF_MESSAGE("  " << id << ": " << to_string(code) << ", ran " << ran << " time(s)");
  }
  for (auto& [code, n] : by_code)
    CAF_MESSAGE("  " << to_string(code) << ": " << n);
  CAF_MESSAGE(outcome.size() << " calls through 4 freezes of 2.6 s, " << runs.size()
                             << " ran, " << wrong << " said the wrong thing");
  CAF_CHECK_EQUAL(wrong, 0u);
  CAF_CHECK_GREATER(outcome.size(), 1000u);
}

CAF_TEST(a server whose answers come late is not re - admitted by them) {
  // Every call to the slow server times out (150 ms) and is answered later
  // (400 ms): failure accrual ejects it; the late answers to the calls sent
  // before must not put it back (it flapped in and out, 14 times in 9 s).
  // Only a probe's answer would: the probes time out too, so it stays out.
  start();
  auto& slow = start(2000, {"--slow-ms=400"});
  own_client own{cluster, "broker"}; // the brokers' path: late answers arrive
  auto& c = own.c;
  auto& log = own.log;
  cluster_options opts = with_timeout(150ms);
  opts.grouping = grouping_kind::round_robin;
  std::atomic<int> calls{0};
  auto until = clock_type::now() + 4s;
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i)
    callers.emplace_back([&] {
      while (clock_type::now() < until) {
        (void)c.call<std::string>(opts, "test.api/maybe_slow");
        ++calls;
      }
    });
  for (auto& t : callers)
    t.join();
  auto out = log->count<member_unreachable>(
      [&](const member_unreachable& x) { return x.addr == slow.addr; });
  auto back = log->count<member_reachable>(
      [&](const member_reachable& x) { return x.addr == slow.addr; });
  CAF_MESSAGE(calls << " calls in 4 s: the slow server ejected " << out
                    << " time(s), re-admitted " << back << " time(s)");
  CAF_CHECK_GREATER_OR_EQUAL(out, 1u);
  CAF_CHECK_EQUAL(back, 0u); // every probe timed out: never back
}

CAF_TEST(a suspect server whose probes are refused at once stays out) {
  // Out for timeouts (150 ms against 400 ms); then its one worker is kept
  // busy by two callers of its own, so that each probe is refused: at once
  // (`overloaded`: a call waits for the worker longer than
  // slacker.worker-queue-wait) or when its deadline passed in the queue
  // (`canceled`). The server is alive, which is no sign that it serves: such
  // an answer must not bring it back (it did, in CI: a refused probe counted
  // as answered). On both paths of plain code's calls.
  start();
  auto& slow = start(2000, {"--slow-ms=400", "--slacker.worker-threads=1"});
  for (auto path : {"lane", "broker"}) {
    CAF_MESSAGE("slacker.blocking-calls=" << path);
    own_client own{cluster, path};
    auto& c = own.c;
    auto& log = own.log;
    cluster_options opts = with_timeout(150ms);
    opts.grouping = grouping_kind::round_robin;
    std::atomic<bool> stop{false};
    std::vector<std::thread> callers;
    for (int i = 0; i < 4; ++i)
      callers.emplace_back([&] {
        while (!stop)
          (void)c.call<std::string>(opts, "test.api/maybe_slow");
      });
    auto out = log->next<member_unreachable>(
        [&](const member_unreachable& x) {
          return x.addr == slow.addr && x.reason.find("timed out") != std::string::npos;
        },
        10s);
    if (!out) {
      stop = true;
      for (auto& t : callers)
        t.join();
      CAF_FAIL("the slow server was not taken out of routing within 10 s");
    }
    // Its worker busy from now on: the probes (after 1 s, then 2 s more)
    // find a call waiting already.
    std::vector<std::thread> hogs;
    for (int i = 0; i < 2; ++i)
      hogs.emplace_back([&] {
        slacker::client direct{sys, slow.addr};
        call_options hog;
        hog.timeout = 5s;
        while (!stop)
          (void)direct.call<std::string>(hog, "test.api/maybe_slow");
      });
    (void)log->next<member_reachable>(
        [&](const member_reachable& x) { return x.addr == slow.addr; }, 4000ms);
    stop = true;
    for (auto& t : callers)
      t.join();
    for (auto& t : hogs)
      t.join();
    auto back = log->count<member_reachable>(
        [&](const member_reachable& x) { return x.addr == slow.addr; });
    CAF_MESSAGE("  out once; then 4 s with its worker held: re-admitted " << back
                                                                          << " time(s)");
    CAF_CHECK_EQUAL(back, 0u);
  }
}

CAF_TEST(a server fifty times slower than its peers leaves routing and does not flap) {
  // Every call answers, none times out: only latency against the peers can
  // find the slow one (2 ms against 100 ms). Out within a few seconds; its
  // probes answer slowly too, so it never comes back; the callers reach it
  // only through those probes.
  start(2000, {"--slow-ms=2"});
  start(2000, {"--slow-ms=2"});
  auto& slow = start(2000, {"--slow-ms=100"});
  auto log = std::make_shared<event_log>();
  auto watcher = sys.spawn(slacker_test::collector, log);
  client->subscribe(watcher);
  cluster_options opts = with_timeout(2s);
  opts.grouping = grouping_kind::random;
  std::mutex mtx;
  std::vector<std::pair<clock_type::time_point, std::string>> answers; // (when, who)
  size_t failed = 0;
  auto t0 = clock_type::now();
  auto until = t0 + 6s;
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i)
    callers.emplace_back([&] {
      while (clock_type::now() < until) {
        auto who = client->call<std::string>(opts, "test.api/maybe_slow");
        std::lock_guard<std::mutex> guard{mtx};
        if (who)
          answers.emplace_back(clock_type::now(), *who);
        else
          ++failed;
      }
    });
  auto out = log->next<member_unreachable>(
      [&](const member_unreachable& x) { return x.addr == slow.addr; }, 6s);
  auto out_at = clock_type::now();
  for (auto& t : callers)
    t.join();
  SLACKER_REQUIRE(out, "the slow server was never taken out of routing");
  CAF_MESSAGE("out after " << ms_of(out_at - t0) << " ms: " << out->reason);
  CAF_CHECK(out->reason.find("slow") != std::string::npos);
  CAF_CHECK_LESS(out_at - t0, 3s);
  auto back = log->count<member_reachable>(
      [&](const member_reachable& x) { return x.addr == slow.addr; });
  auto outs = log->count<member_unreachable>(
      [&](const member_unreachable& x) { return x.addr == slow.addr; });
  size_t before = 0, after = 0;
  for (auto& [when, who] : answers)
    if (who == slow.addr)
      ++(when <= out_at ? before : after);
  CAF_MESSAGE(answers.size() << " calls answered, " << failed
                             << " failed; the slow server " << before << " before and "
                             << after << " after it left (its probes), re-admitted "
                             << back << " time(s)");
  CAF_CHECK_EQUAL(failed, 0u);
  CAF_CHECK_EQUAL(back, 0u); // every probe answered slowly: never back
  CAF_CHECK_EQUAL(outs, 1u);
  // Probes after 1, 2 and 4 s at most, and what was in flight when it left.
  CAF_CHECK_LESS_OR_EQUAL(after, 3u + 4u);
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

CAF_TEST(
    an idle connection closed by its server is no failure and the next call reopens) {
  // Nobody subscribed: idle connections ping nothing, the server (idle limit
  // 1 s) closes them. Were that a failure, the only server would be out of
  // routing and the next call unavailable.
  auto& m = start(2000, {"--slacker.idle-timeout=1s"});
  slacker::config cfg2;
  cfg2.set("slacker.blocking-calls", "broker"); // the connection brokers' path
  caf::actor_system sys2{cfg2};
  zk_options zk;
  zk.zk = zk_address();
  zk.cluster = cluster;
  cluster_client c{sys2, zk};
  auto port = static_cast<uint16_t>(slacker_test::port_of(m.addr));
  for (int round = 0; round < 3; ++round) {
    auto who = c.call<std::string>(with_timeout(2s), "test.api/whoami");
    SLACKER_REQUIRE(who, "round " << round << ": " << describe(who.error()));
    CAF_CHECK_EQUAL(*who, m.addr);
    SLACKER_REQUIRE(slacker_test::wait_no_connection_to(port, 5s),
                    "round " << round << ": the idle connections stayed open");
  }
}

CAF_TEST(hedging keeps the tail of a slow server close to the fast ones) {
  start(2000, {"--slow-ms=300"});
  start();
  start();
  auto sample = [&](cluster_options opts) {
    std::vector<clock_type::duration> took;
    for (int i = 0; i < 120; ++i) {
      auto start = clock_type::now();
      auto who = client->call<std::string>(opts, "test.api/maybe_slow");
      SLACKER_REQUIRE(who, describe(who.error()));
      took.push_back(clock_type::now() - start);
    }
    return took;
  };
  auto plain = sample(with_timeout(3s));
  cluster_options hedged = with_timeout(3s);
  hedged.hedge_after = 30ms;
  auto fast = sample(hedged);
  auto p99_plain = quantile(plain, 0.99);
  auto p99_hedged = quantile(fast, 0.99);
  CAF_MESSAGE("p50/p99 without hedging "
              << ms_of(quantile(plain, 0.5)) << "/" << ms_of(p99_plain)
              << " ms, with hedge_after=30ms " << ms_of(quantile(fast, 0.5)) << "/"
              << ms_of(p99_hedged) << " ms");
  CAF_CHECK_GREATER_OR_EQUAL(p99_plain, 300ms);
  CAF_CHECK_LESS(p99_hedged, 150ms);
}

CAF_TEST(a server that lets calls time out in a row leaves routing) {
  start(2000, {"--slow-ms=3000"}); // answers pings, not maybe_slow
  start();
  start();
  auto opts = with_timeout(200ms);
  int timeouts = 0;
  for (int i = 0; i < 40; ++i) {
    auto who = client->call<std::string>(opts, "test.api/maybe_slow");
    if (!who) {
      CAF_CHECK_EQUAL(code_of(who.error()), sc::timeout);
      ++timeouts;
    }
  }
  // Random routing would send a third of 40 calls there; accrual stops at 3
  // (plus a probe once its backoff of 1 s has passed).
  CAF_MESSAGE(timeouts << " of 40 calls timed out on the stuck server");
  CAF_CHECK_GREATER_OR_EQUAL(timeouts, 3);
  CAF_CHECK_LESS_OR_EQUAL(timeouts, 5);
}

CAF_TEST(the retry budget caps retries when every server fails) {
  // One worker thread and no queue: calls beyond the one running are
  // answered `overloaded` at once, by every server.
  std::vector<std::string> tight{"--slow-ms=100", "--slacker.worker-threads=1",
                                 "--slacker.worker-queue=0"};
  for (int i = 0; i < 3; ++i)
    start(2000, tight);
  cluster_options opts = with_timeout(3s);
  load l{*client, prepare(opts, "test.api/maybe_slow"), 8};
  std::this_thread::sleep_for(2s);
  l.stop();
  auto failures = l.failures();
  auto spent = l.count_errors("retry budget spent");
  CAF_MESSAGE(l.calls() << " calls, " << failures[sc::overloaded]
                        << " overloaded, of which " << spent << " with the budget spent");
  CAF_CHECK_GREATER(failures[sc::overloaded], 0u);
  CAF_CHECK_GREATER(spent, 0u);
}

CAF_TEST(callers pass over a server that sheds load while another has room) {
  // A has one worker and no queue: a call beyond the one running there is
  // answered `overloaded` at once; B has room (4 workers). Four callers call
  // `slow` (30 ms, not idempotent: a refusal is the caller's error) at
  // random. With the backoff off, a caller that drew A while it was busy
  // draws again at once: a refusal for about every other call B runs. With
  // it (250 ms here), each refusal keeps A out for the backoff: at most one
  // refusal per caller per backoff. On both paths of plain code's calls.
  auto& a = start(2000, {"--slacker.worker-threads=1", "--slacker.worker-queue=0"});
  auto& b = start();
  constexpr size_t callers = 4;
  constexpr auto backoff = 250ms;
  for (auto path : {"lane", "broker"}) {
    std::map<bool, size_t> refused;
    std::map<bool, size_t> ran;
    for (bool on : {false, true}) {
      own_client own{cluster, path, [&](slacker::config& cfg) {
                       cfg.set("slacker.overload-backoff",
                               caf::timespan{on ? backoff : 0ms});
                       // The status portal's parts (any port: read in-process).
                       cfg.set("slacker.metrics", "127.0.0.1:0");
                     }};
      for (auto& m : {&a, &b})
        SLACKER_REQUIRE(own.log->wait_member(m->addr, 15s),
                        m->addr << " is not a member for this client");
      cluster_options opts = with_timeout(3s);
      auto call = own.c.prepare(opts, {}, "test.api/slow", int64_t{30});
      SLACKER_REQUIRE(call, describe(call.error()));
      auto began = clock_type::now();
      load l{own.c, std::move(*call), callers};
      // Meanwhile the status portal says whom the callers pass over: A as
      // `shedding` (with the backoff) and never B, which has room.
      std::map<std::string, std::set<std::string>> shown; // addr -> states
      while (clock_type::now() - began < 1500ms) {
        portal_states(shown);
        std::this_thread::sleep_for(10ms); // a sample every 10 ms
      }
      l.stop();
      auto took = clock_type::now() - began;
      CAF_MESSAGE("  the portal showed A " << nlohmann::json(shown[a.addr]) << ", B "
                                           << nlohmann::json(shown[b.addr]));
      CAF_CHECK_EQUAL(shown[a.addr].count("shedding"), on ? 1u : 0u);
      CAF_CHECK_EQUAL(shown[b.addr].count("shedding"), 0u);
      if (on) { // and once the backoff passed with no call, routed again
        auto routed = [&] {
          std::map<std::string, std::set<std::string>> now;
          portal_states(now);
          return now[a.addr].count("routed") > 0 && now[a.addr].count("shedding") == 0;
        };
        auto until = clock_type::now() + backoff + 2s;
        while (!routed() && clock_type::now() < until)
          std::this_thread::sleep_for(10ms);
        CAF_CHECK(routed());
      }
      auto failures = l.failures();
      refused[on] = failures[sc::overloaded];
      ran[on] = l.calls() - l.failed();
      CAF_MESSAGE("  " << path << ", backoff " << (on ? "250 ms" : "off") << ": "
                       << ran[on] << " calls ran, " << refused[on] << " refused in "
                       << ms_of(took) << " ms");
      CAF_CHECK_EQUAL(l.failed(), refused[on]); // nothing else failed
      if (on) // each backoff starts at a refusal; one call per caller in it
        CAF_CHECK_LESS_OR_EQUAL(refused[on],
                                callers * static_cast<size_t>(took / backoff + 1));
    }
    CAF_CHECK_GREATER(refused[false], 3 * refused[true]);
    CAF_CHECK_GREATER(ran[true], 0u);
  }
}

CAF_TEST(a quorum of 2 of 3 answers as fast as the two healthy servers) {
  start(15000);
  start();
  start();
  cluster_options opts = with_timeout(3s);
  opts.grouping = grouping_kind::all;
  opts.results = results_kind::map;
  opts.exceptions = quorum{2};
  auto warm = client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
  SLACKER_REQUIRE(warm, describe(warm.error()));
  auto pid = members[0]->proc.pid();
  ::kill(pid, SIGSTOP);
  SLACKER_REQUIRE(slacker_test::wait_proc_state(pid, 'T', 5s), "the server did not stop");
  auto start_at = clock_type::now();
  auto res = client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
  auto took = clock_type::now() - start_at;
  ::kill(pid, SIGCONT);
  SLACKER_REQUIRE(res, describe(res.error()));
  CAF_MESSAGE("quorum 2 of 3 with one frozen: " << ms_of(took) << " ms");
  CAF_CHECK_EQUAL(res->size(), 2u);
  CAF_CHECK_EQUAL(res->count(members[0]->addr), 0u);
  CAF_CHECK_LESS(took, 500ms);
}

CAF_TEST(memory per call is released when the call ends not at its deadline) {
  start();
  start();
  auto rss = [] {
    return slacker_test::status_kib("self", "VmRSS:");
  };
  // Warm: connections, pools, allocator arenas of the callers.
  {
    load warm{*client, prepare(with_timeout(10s), "test.api/echo"), 4};
    std::this_thread::sleep_for(500ms);
  }
  auto before = rss();
  load l{*client, prepare(with_timeout(10s), "test.api/echo"), 4};
  std::this_thread::sleep_for(3s);
  l.stop();
  auto grown = rss() - before;
  // Kept until their 10 s deadlines, ~1.4 KiB per call would be tens of MiB.
  CAF_MESSAGE(l.calls() << " calls with a 10 s timeout in 3 s: resident memory grew by "
                        << grown << " KiB");
  CAF_CHECK_EQUAL(l.failed(), 0u);
  CAF_CHECK_LESS(grown, 16 * 1024);
}

CAF_TEST(members reports how old the view is while ZooKeeper is away) {
  zk_options zk;
  zk.zk = zk_address();
  zk.cluster = cluster;
  zk.session_timeout = 2s; // the link is found dead after ~2/3 of it
  cluster_client watcher{sys, zk};
  auto status_is = [&](registry_status want) {
    for (int i = 0; i < 200; ++i) { // bounded: 10 s
      auto v = watcher.members();
      if (v && v->state.status == want)
        return *v;
      std::this_thread::sleep_for(50ms);
    }
    CAF_FAIL("the client never saw status " << to_string(want));
    return membership_view{};
  };
  CAF_CHECK_EQUAL(status_is(registry_status::connected).state.view_age_ms, 0);
  membership_view first;
  membership_view later;
  {
    zk_frozen frozen;
    first = status_is(registry_status::suspended);
    std::this_thread::sleep_for(300ms);
    later = *watcher.members();
  }
  CAF_MESSAGE("view age " << first.state.view_age_ms << " ms, then "
                          << later.state.view_age_ms << " ms");
  CAF_CHECK_GREATER_OR_EQUAL(later.state.view_age_ms, first.state.view_age_ms + 300);
  CAF_CHECK_EQUAL(status_is(registry_status::connected).state.view_age_ms, 0);
}

CAF_TEST(slacker load reports counts that add up) {
  start();
  start();
  auto out =
      slacker_test::run({slacker_test::cli_path(), "load", "--zk=" + zk_address(),
                         "--cluster=" + cluster, "--duration=2", "--concurrency=2",
                         "--idempotent", "--hedge-after=50", "test.api/echo", "\"x\""});
  CAF_MESSAGE(out.output);
  CAF_CHECK_EQUAL(out.exit_code, 0);
  auto at = out.output.find("{\"calls\"");
  SLACKER_REQUIRE(at != std::string::npos, "no report");
  auto j = nlohmann::json::parse(out.output.substr(at), nullptr, false);
  SLACKER_REQUIRE(!j.is_discarded(), "not JSON: " << out.output.substr(at));
  for (auto key : {"calls", "ok", "errors", "calls_per_s", "p50_us", "p99_us", "p999_us",
                   "max_us", "servers"})
    CAF_CHECK(j.contains(key));
  auto calls = j["calls"].get<long>();
  long errors = 0;
  for (auto& [code, n] : j["errors"].items())
    errors += n.get<long>();
  long served = 0;
  for (auto& [addr, n] : j["servers"].items())
    served += n.get<long>();
  CAF_CHECK_GREATER(calls, 0);
  CAF_CHECK_EQUAL(j["ok"].get<long>() + errors, calls);
  CAF_CHECK_EQUAL(served, j["ok"].get<long>());
  CAF_CHECK_EQUAL(j["servers"].size(), 2u);
  CAF_CHECK(j["p50_us"].get<double>() <= j["p99_us"].get<double>());
  // Usage errors exit 2; a run with failed calls exits 1.
  CAF_CHECK_EQUAL(
      slacker_test::run({slacker_test::cli_path(), "load", "--zk=" + zk_address()})
          .exit_code,
      2);
  auto failing = slacker_test::run(
      {slacker_test::cli_path(), "load", "--zk=" + zk_address(), "--cluster=" + cluster,
       "--duration=1", "--rate=20", "test.api/fail", "\"boom\""});
  CAF_CHECK_EQUAL(failing.exit_code, 1);
  auto report = nlohmann::json::parse(
      failing.output.substr(failing.output.find("{\"calls\"")), nullptr, false);
  CAF_CHECK(!report.is_discarded() &&
            report["errors"].value("exception", 0) == report["calls"]);
  CAF_CHECK(!report.is_discarded() &&
            report["calls"].get<long>() <= 21); // --rate=20 for 1 s
}

CAF_TEST_FIXTURE_SCOPE_END()
