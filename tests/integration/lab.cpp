#define CAF_SUITE lab
#include <caf/test/unit_test.hpp>

// A cluster across hosts, as it is deployed (docs/deployment.md): the hosts
// are network namespaces on one switch (scripts/lab), each with its own
// address; a 3-node ZooKeeper ensemble on hosts 1-3, example servers on hosts
// 3-5 (host 3 carries a ZooKeeper node and a server), clients on host 6;
// mutual TLS everywhere and no --node: each server registers the address of
// its interface towards ZooKeeper. The scenarios run under two loads from
// host 6, one idempotent function (echo) and one that is not (inc-m), and
// print their figures (docs/reliability.md).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/support/certs.hpp"
#include "apps/support/process.hpp"
#include "tests/binaries.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"

using json = nlohmann::json;
using namespace std::chrono_literals;
using slacker_test::app_path;
using slacker_test::process;

namespace {

using strings = std::vector<std::string>;

const std::string lab_script = std::string{SLACKER_SOURCE_DIR} + "/scripts/lab";

strings operator+(strings xs, const strings& ys) {
  xs.insert(xs.end(), ys.begin(), ys.end());
  return xs;
}

/// The codes of a failed call that say whether it may have run
/// (docs/reliability.md): a call that is not idempotent may end with these.
const std::set<std::string> honest{"outcome_unknown", "timeout",  "unavailable",
                                   "overloaded",      "draining", "connection_broken",
                                   "canceled"};

std::string addr(int host) {
  return "10.77.0." + std::to_string(host);
}

/// A load from host 6 (`slacker load`), its progress and report on stdout.
struct lab_load {
  std::string fn;
  std::unique_ptr<process> proc;

  lab_load(const strings& argv, std::string name) : fn(std::move(name)) {
    proc = std::make_unique<process>(slacker_test::merging_stderr(argv));
  }

  /// Waits (bounded) until a progress line counts successful calls.
  void wait_flowing() {
    for (int i = 0; i < 200; ++i) { // progress lines among the client's log lines
      auto line = proc->wait_for("[", 5000);
      SLACKER_REQUIRE(line, "the load on " << fn << " did not start");
      // "N s] C calls, O ok, E errors"
      std::istringstream in{*line};
      std::string s, calls_word;
      long n = 0, calls = 0, ok = 0;
      in >> n >> s >> calls >> calls_word >> ok;
      if (ok > 0)
        return;
    }
    CAF_FAIL("no call of " << fn << " succeeded");
  }

  /// The report once the load ends.
  json report() {
    for (;;) {
      auto line = proc->read_line(60000);
      SLACKER_REQUIRE(line, "the load on " << fn << " gave no report");
      if (!line->empty() && line->front() == '{')
        return json::parse(*line);
    }
  }
};

/// The events of a `slacker watch` process until `enough` says they are
/// (bounded: 30 s without a line), then the process is stopped and the rest
/// of its lines read.
template <class F> std::vector<json> events_until(process& watch, F enough) {
  std::vector<json> out;
  auto next = [&] {
    auto line = watch.read_line(30000);
    if (line && line->rfind("{", 0) == 0)
      out.push_back(json::parse(*line));
    return line.has_value();
  };
  while (!enough(out) && next()) {
  }
  watch.signal(SIGTERM);
  while (next()) {
  }
  return out;
}

struct fixture {
  std::string name = "slklab-" + std::to_string(::getpid());
  std::string zk_dir = "/tmp/" + name + "-zk";
  std::string zk; // the ensemble's connection string
  slacker_test::test_certs certs;
  std::map<int, std::unique_ptr<process>> servers; // by host
  std::string server_ini;                          // every server's configuration

  fixture() {
    lab({"up", name, "7"});
    server_ini = write_server_ini();
    auto out = slacker_test::run({lab_script, "zookeeper", name, zk_dir, "1", "2", "3"});
    SLACKER_REQUIRE(out.exit_code == 0, out.output);
    zk = out.output.substr(0, out.output.find('\n'));
    // Host 3 first, leading every namespace before the others run for it
    // (the unplug scenario takes its host away).
    start_server(3);
    SLACKER_REQUIRE(leader(1) == addr(3) + ":2104", "host 3 does not lead");
    start_server(4);
    start_server(5);
  }

  /// The leader of slacker.example.api once `n` servers are registered: a
  /// new client's first view may list servers before it has read the
  /// election (bounded).
  std::string leader(size_t n) {
    for (int i = 0; i < 50; ++i) {
      auto at = members(n)["namespaces"]["slacker.example.api"]["leader"];
      if (at.is_string())
        return at;
    }
    return "(none)";
  }

  ~fixture() {
    servers.clear();
    slacker_test::run({lab_script, "zookeeper-stop", zk_dir});
    slacker_test::run({lab_script, "down", name});
    std::error_code ec;
    std::filesystem::remove_all(zk_dir, ec);
  }

  void lab(const strings& args) {
    auto out = slacker_test::run(strings{lab_script} + args);
    SLACKER_REQUIRE(out.exit_code == 0, "scripts/lab failed: " << out.output);
  }

  /// `argv` run on host `host`.
  strings on(int host, const strings& argv) {
    return strings{lab_script, "exec", name, std::to_string(host)} + argv;
  }

  strings tls() {
    return {"--tls-cert=" + certs.path("node.pem"), "--tls-key=" + certs.path("node.key"),
            "--tls-ca=" + certs.path("ca.pem")};
  }

  strings cluster() {
    return {"--zk=" + zk, "--cluster=lab"};
  }

  /// What the `slacker` tool's cluster commands take here: the cluster, TLS,
  /// and 15 s for a ZooKeeper session (the tool gives up after 3 s by
  /// default). The suite starts this ensemble beside the other test's three
  /// JVMs on two vCPUs: on a machine that has just booted, a session took
  /// longer than 3 s to open while all three nodes took connections.
  strings tool() {
    return cluster() + tls() + strings{"--zk-timeout=15000"};
  }

  /// The servers' configuration file, as docs/deployment.md writes it.
  std::string write_server_ini() {
    auto path = certs.path("server.ini");
    std::ofstream out{path};
    out << "[slacker]\nlog-calls=false\n"
        << "[slacker.tls]\ncertificate=\"" << certs.path("node.pem") << "\"\nkey=\""
        << certs.path("node.key") << "\"\nca=\"" << certs.path("ca.pem") << "\"\n";
    return path;
  }

  /// An example server on `host` (no --node), once it is registered.
  void start_server(int host) {
    servers[host] = std::make_unique<process>(on(
        host, strings{app_path("example-server"), "2104", "--config-file=" + server_ini} +
                  cluster()));
    SLACKER_REQUIRE(servers[host]->wait_for("registered in cluster", 30000),
                    "the server on host " << host << " did not register");
  }

  /// `slacker members` from host 6 once `n` servers are registered.
  json members(size_t n) {
    auto out = slacker_test::run(
        on(6, strings{app_path("slacker"), "members", "--wait=" + std::to_string(n),
                      "--timeout=30000"} +
                  tool()));
    SLACKER_REQUIRE(out.exit_code == 0, out.output);
    return json::parse(out.output.substr(out.output.find('{')));
  }

  /// A load of `seconds` from host 6 on `fn`, idempotent or not.
  std::unique_ptr<lab_load> load(const std::string& fn, const std::string& arg,
                                 bool idempotent, int seconds) {
    auto argv = on(6, strings{app_path("slacker"), "load",
                              "--duration=" + std::to_string(seconds), "--concurrency=4",
                              "--rate=300", "--timeout=3000", "--progress"} +
                          tool());
    if (idempotent)
      argv.push_back("--idempotent");
    argv.push_back(fn);
    argv.push_back(arg);
    return std::make_unique<lab_load>(argv, fn);
  }

  /// The echo and inc-m loads, both calling once this returns.
  std::pair<std::unique_ptr<lab_load>, std::unique_ptr<lab_load>> loads(int seconds) {
    auto echo = load("slacker.example.api/echo", "\"x\"", true, seconds);
    auto inc = load("slacker.example.api/inc-m", "1", false, seconds);
    echo->wait_flowing();
    inc->wait_flowing();
    return {std::move(echo), std::move(inc)};
  }

  /// Checks the two reports: no idempotent call failed; every failed call
  /// that is not idempotent said whether it may have run.
  void check(const std::string& scenario, json echo, json inc) {
    CAF_MESSAGE(scenario << ": echo (idempotent) " << echo["errors"].dump() << " of "
                         << echo["calls"] << " failed, longest " << echo["max_us"]
                         << " us; inc-m (not idempotent) " << inc["errors"].dump()
                         << " of " << inc["calls"] << " failed, longest " << inc["max_us"]
                         << " us");
    CAF_CHECK(echo["errors"].empty());
    // No call waits past its timeout (3 s, the 100 ms of grace a deadline
    // has on the client, and a margin for this shared machine; a connect to a
    // host that is gone included).
    CAF_CHECK_LESS_OR_EQUAL(echo["max_us"].get<long>(), 3300000);
    CAF_CHECK_LESS_OR_EQUAL(inc["max_us"].get<long>(), 3300000);
    CAF_CHECK_GREATER(echo["calls"].get<long>(), 0);
    CAF_CHECK_GREATER(inc["calls"].get<long>(), 0);
    for (auto& [code, n] : inc["errors"].items())
      if (honest.count(code) == 0)
        CAF_FAIL("a call that is not idempotent failed with " << code << " (" << n
                                                              << " times)");
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(lab_tests, fixture)

CAF_TEST(servers on their hosts register the address they are reached at over TLS) {
  auto m = members(3);
  CAF_MESSAGE(m.dump());
  for (int h : {3, 4, 5})
    CAF_CHECK(m["servers"].contains(addr(h) + ":2104"));
  CAF_CHECK_EQUAL(leader(3), addr(3) + ":2104");
  // Each answers, through the cluster from host 6, the address it is listed at.
  auto out = slacker_test::run(
      on(6, strings{app_path("slacker"), "call", "--grouping=all", "--results=map"} +
                tool() + strings{"slacker.example.api/whoami"}));
  CAF_REQUIRE_EQUAL(out.exit_code, 0);
  auto who = json::parse(out.output.substr(out.output.find('{')));
  CAF_CHECK_EQUAL(who.size(), 3u);
  for (auto& [listed, says] : who.items())
    CAF_CHECK_EQUAL(says.get<std::string>(), listed);
}

CAF_TEST(a host with two interfaces towards ZooKeeper does not guess its address) {
  // Host 7 reaches ZooKeeper node 1 on the first network and node 2 on a
  // second one: two local addresses, and the one clients use is not known.
  lab({"second", name, "2"});
  lab({"second", name, "7"});
  auto zk_two_ways = "--zk=" + addr(1) + ":2181,10.78.0.2:2181";
  auto refused = slacker_test::run(
      on(7, strings{app_path("example-server"), "2104", zk_two_ways, "--cluster=lab"} +
                tls()));
  CAF_MESSAGE(refused.output);
  CAF_CHECK_EQUAL(refused.exit_code, 1);
  CAF_CHECK(refused.output.find("10.77.0.7") != std::string::npos);
  CAF_CHECK(refused.output.find("10.78.0.7") != std::string::npos);
  CAF_CHECK(refused.output.find("--node") != std::string::npos);
  // Told which: it registers that address and answers there.
  process told{on(7, strings{app_path("example-server"), "2104", zk_two_ways,
                             "--cluster=lab", "--node=10.78.0.7", "--log-calls=false"} +
                         tls())};
  CAF_REQUIRE(told.wait_for("registered in cluster", 30000));
  auto m = members(4);
  CAF_CHECK(m["servers"].contains("10.78.0.7:2104"));
  auto who = slacker_test::run(
      on(2, strings{app_path("slacker"), "call", "--server=10.78.0.7:2104"} + tls() +
                strings{"slacker.example.api/whoami"}));
  CAF_CHECK_EQUAL(who.exit_code, 0);
  CAF_CHECK(who.output.find("\"10.78.0.7:2104\"") != std::string::npos);
}

CAF_TEST(a host unplugged with a server and a ZooKeeper node loses no idempotent call) {
  CAF_REQUIRE_EQUAL(leader(3), addr(3) + ":2104");
  process watch{on(6, strings{app_path("slacker"), "watch"} + tool())};
  CAF_REQUIRE(watch.wait_for("{", 30000)); // its snapshot
  auto [echo, inc] = loads(20);
  lab({"link", name, "3", "down"});
  // The outage: long enough for the server's session (5 s) to expire even
  // when the ZooKeeper node of host 3 led the ensemble, whose new leader
  // starts every session's timeout afresh once elected (a few seconds). A
  // shorter one ends with the same leader: it stepped down while cut off and
  // leads again under the same token once its session is back.
  std::this_thread::sleep_for(13s);
  lab({"link", name, "3", "up"});
  auto e = echo->report();
  auto i = inc->report();
  check("host 3 unplugged for 13 s", e, i);
  // Healed: the server of host 3 is back, under the leader that replaced it.
  CAF_CHECK(members(3)["servers"].contains(addr(3) + ":2104"));
  auto now = leader(3);
  CAF_CHECK_NOT_EQUAL(now, addr(3) + ":2104");
  std::vector<std::string> leaders; // slacker.example.api's, as host 6 saw them
  for (auto& ev : events_until(watch, [](auto&) { return true; }))
    if (ev["event"] == "leader_changed" && ev["ns"] == "slacker.example.api" &&
        !ev["addr"].get<std::string>().empty())
      leaders.push_back(ev["addr"]);
  CAF_MESSAGE("leaders of slacker.example.api after the snapshot: " << json(leaders));
  CAF_REQUIRE_EQUAL(leaders.size(), 1u); // replaced once, not handed back
  CAF_CHECK_EQUAL(leaders.front(), now);
}

CAF_TEST(a client host cut from ZooKeeper keeps calling the servers it reaches) {
  process watch{on(6, strings{app_path("slacker"), "watch"} + tool())};
  CAF_REQUIRE(watch.wait_for("{", 30000)); // its snapshot
  auto [echo, inc] = loads(14);
  // Host 6 loses ZooKeeper (hosts 1-3; with host 3 the server there too),
  // for longer than its session; the servers of hosts 4 and 5 stay in reach.
  for (auto h : {"1", "2", "3"})
    lab({"cut", name, "6", h});
  std::this_thread::sleep_for(7s);
  for (auto h : {"1", "2", "3"})
    lab({"mend", name, "6", h});
  check("host 6 cut from ZooKeeper for 7 s", echo->report(), inc->report());
  // Healed: a client that lived through the cut has its ZooKeeper view back.
  std::vector<std::string> states;
  events_until(watch, [&](const std::vector<json>& evs) {
    states.clear();
    for (auto& ev : evs)
      if (ev["event"] == "registry_state")
        states.push_back(ev["status"]);
    auto noticed = std::any_of(states.begin(), states.end(),
                               [](auto& x) { return x != "connected"; });
    return noticed && states.back() == "connected";
  });
  CAF_MESSAGE("the watching client's ZooKeeper states: " << json(states));
  CAF_REQUIRE(!states.empty());
  CAF_CHECK(std::any_of(states.begin(), states.end(),
                        [](auto& x) { return x != "connected"; })); // it noticed the cut
  CAF_CHECK_EQUAL(states.back(), "connected");
}

CAF_TEST(a client host cut from servers but not from ZooKeeper routes around them) {
  // A client that follows reachability (its failure detector's events).
  process watch{on(6, strings{app_path("slacker"), "watch", "--detect"} + tool())};
  CAF_REQUIRE(watch.wait_for("{", 30000)); // its snapshot
  auto [echo, inc] = loads(12);
  // ZooKeeper still lists the servers of hosts 4 and 5; host 6 cannot reach them.
  for (auto h : {"4", "5"})
    lab({"cut", name, "6", h});
  std::this_thread::sleep_for(6s);
  for (auto h : {"4", "5"})
    lab({"mend", name, "6", h});
  auto e = echo->report();
  check("host 6 cut from the servers of hosts 4 and 5 for 6 s", e, inc->report());
  // Healed: both were unreachable during the cut and reachable after it.
  std::map<std::string, std::string> last; // server -> its last reachability event
  std::set<std::string> lost;
  events_until(watch, [&](const std::vector<json>& evs) {
    last.clear();
    lost.clear();
    for (auto& ev : evs) {
      auto kind = ev["event"].get<std::string>();
      if (kind == "member_unreachable")
        lost.insert(ev["addr"].get<std::string>());
      if (kind == "member_unreachable" || kind == "member_reachable")
        last[ev["addr"].get<std::string>()] = kind;
    }
    return lost.size() >= 2 && last[addr(4) + ":2104"] == "member_reachable" &&
           last[addr(5) + ":2104"] == "member_reachable";
  });
  CAF_MESSAGE("unreachable during the cut: " << json(lost)
                                             << "; last events: " << json(last));
  for (int h : {4, 5}) {
    CAF_CHECK(lost.count(addr(h) + ":2104") == 1);
    CAF_CHECK_EQUAL(last[addr(h) + ":2104"], "member_reachable");
  }
  CAF_CHECK(lost.count(addr(3) + ":2104") == 0);
}

CAF_TEST(a rolling restart across hosts loses no call) {
  auto [echo, inc] = loads(16);
  for (int h : {3, 4, 5}) {
    servers[h]->signal(SIGTERM);
    CAF_CHECK_EQUAL(servers[h]->stop(), 0);
    start_server(h);
  }
  auto e = echo->report();
  auto i = inc->report();
  check("rolling restart of hosts 3, 4, 5", e, i);
  CAF_CHECK(i["errors"].empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
