#define CAF_SUITE ensemble
#include <caf/test/unit_test.hpp>

// A cluster on a 3-node ZooKeeper ensemble (the ctest fixture starts it with
// `scripts/zookeeper ensemble-start`; SLACKER_TEST_ENSEMBLE_DIR): the
// ensemble's own faults under a steady call load from a long-lived cluster
// client. Each test prints its figure.

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/server.hpp"
#include "slacker/cluster/registration.hpp"

#include "tests/call_load.hpp"
#include "tests/cluster_fixture.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::clock_type;
using slacker_test::load;
using slacker_test::member;
using slacker_test::ms_of;

namespace {

std::string ensemble_dir() {
  auto dir = std::getenv("SLACKER_TEST_ENSEMBLE_DIR");
  return dir ? dir : "";
}

std::string ensemble_address() {
  std::ifstream in{ensemble_dir() + "/address"};
  std::string addr;
  in >> addr;
  return addr;
}

/// `scripts/zookeeper CMD DIR`; its output.
std::string zookeeper(const std::string& cmd, const std::string& dir) {
  auto script = std::string{SLACKER_SOURCE_DIR} + "/scripts/zookeeper";
  auto res = slacker_test::run({script, cmd, dir});
  SLACKER_REQUIRE(res.exit_code == 0,
                  "zookeeper " << cmd << " " << dir << ": " << res.output);
  return res.output;
}

std::string node_dir(int n) {
  return ensemble_dir() + "/" + std::to_string(n);
}

/// The node that leads the ensemble now (0: none yet).
int ensemble_leader() {
  for (int n = 1; n <= 3; ++n)
    if (zookeeper("mode", node_dir(n)).find("leader") != std::string::npos)
      return n;
  return 0;
}

/// Waits until the ensemble has a leader again; which node it is.
int wait_ensemble_leader() {
  for (int i = 0; i < 150; ++i) { // bounded: 30 s and more
    if (auto n = ensemble_leader())
      return n;
    std::this_thread::sleep_for(200ms);
  }
  SLACKER_REQUIRE(false, "the ensemble elected no leader");
  return 0;
}

/// One server leading a namespace of its own cluster, with the leadership
/// policy `share` (`zk_options::leader_step_down`), and how long it did not
/// lead after `from` (its leadership events, kept by an actor: asking the
/// registrar would wait while it waits on ZooKeeper).
struct leader_probe {
  slacker::server srv;
  std::unique_ptr<registration> reg;
  caf::actor watcher;
  std::mutex mtx;
  std::vector<std::pair<clock_type::time_point, bool>> changes;

  leader_probe(caf::actor_system& sys, const std::string& cluster, double share)
    : srv(sys) {
    srv.add(ns("gap.api").def("ping", [] { return true; }));
    auto port = srv.publish(0, "127.0.0.1");
    SLACKER_REQUIRE(port, describe(port.error()));
    registration_options opts;
    opts.zk.zk = ensemble_address();
    opts.zk.cluster = cluster;
    opts.zk.session_timeout = 12s;
    opts.zk.leader_step_down = share;
    opts.node = "127.0.0.1";
    reg = std::make_unique<registration>(sys, srv, opts);
    watcher = sys.spawn([this](caf::event_based_actor*) -> caf::behavior {
      return {[this](leadership& x) {
        std::lock_guard<std::mutex> guard{mtx};
        changes.emplace_back(clock_type::now(), x.leading);
      }};
    });
    reg->subscribe(watcher);
  }

  ~leader_probe() {
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  }

  bool leading() {
    std::lock_guard<std::mutex> guard{mtx};
    return !changes.empty() && changes.back().second;
  }

  /// Time without leading between `from` and `to`.
  clock_type::duration gap(clock_type::time_point from, clock_type::time_point to) {
    std::lock_guard<std::mutex> guard{mtx};
    clock_type::duration out{0};
    std::optional<clock_type::time_point> lost;
    for (auto& [at, lead] : changes) {
      if (at < from)
        continue;
      if (!lead && !lost)
        lost = at;
      else if (lead && lost) {
        out += at - *lost;
        lost.reset();
      }
    }
    if (lost)
      out += to - *lost;
    return out;
  }
};

struct fixture : slacker_test::cluster_fixture {
  fixture() : cluster_fixture("ensemble", ensemble_address()) {
    for (int i = 0; i < 3; ++i) {
      members.push_back(std::make_unique<member>(cluster, "{}", 2000, uint16_t{0}, false,
                                                 std::vector<std::string>{},
                                                 ensemble_address()));
      wait_routable(*members.back());
    }
  }

  cluster_call echo_call() {
    auto call = client->prepare(cluster_options{}, {}, "test.api/echo", std::string{"x"});
    SLACKER_REQUIRE(call, describe(call.error()));
    return std::move(*call);
  }

  /// Waits until this client is connected and routes to all three servers.
  bool settled(clock_type::duration max) {
    auto until = clock_type::now() + max;
    while (clock_type::now() < until) {
      auto v = client->members();
      if (v && v->state.status == registry_status::connected &&
          v->namespaces["test.api"].size() == 3)
        return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  void report(load& l, const std::string& what) {
    CAF_MESSAGE(what << ": " << l.calls() << " calls, " << l.failed()
                     << " failed, longest " << ms_of(l.longest()) << " ms");
    for (auto& text : l.first_errors())
      CAF_MESSAGE("  " << text);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(ensemble_tests, fixture)

CAF_TEST(the ensemble leader killed and then a follower killed fail no call) {
  load l{*client, echo_call(), 4};
  std::this_thread::sleep_for(1s);
  auto leader = wait_ensemble_leader();
  zookeeper("kill", node_dir(leader));
  auto killed = clock_type::now();
  auto next = wait_ensemble_leader();
  auto elected = clock_type::now() - killed;
  CAF_CHECK_NOT_EQUAL(next, leader);
  CAF_CHECK(settled(15s));
  zookeeper("restart", node_dir(leader)); // back as a follower, with its data
  int follower = 0;
  for (int n = 1; n <= 3 && follower == 0; ++n)
    if (n != next && zookeeper("mode", node_dir(n)).find("follower") != std::string::npos)
      follower = n;
  SLACKER_REQUIRE(follower > 0, "no follower");
  zookeeper("kill", node_dir(follower));
  std::this_thread::sleep_for(2s); // calls go on while clients of that node move
  CAF_CHECK(settled(15s));
  zookeeper("restart", node_dir(follower));
  l.stop();
  report(l, "leader node " + std::to_string(leader) + " killed (node " +
                std::to_string(next) + " led " + std::to_string(ms_of(elected)) +
                " ms later), then follower node " + std::to_string(follower));
  CAF_CHECK_EQUAL(l.failed(), 0u);
}

CAF_TEST(the leadership policy decides the gap at an ensemble failover) {
  // Curator's two policies: step down as soon as the link is seen down (the
  // default share, 2/3 of the session timeout counted from when the C client
  // would notice a silent link) or only when the session would be lost
  // (share 1.0). The ensemble's leader killed drops every client link until
  // a new one is elected.
  static int n = 0;
  auto name = [&](const char* what) {
    return "gap-" + std::string{what} + "-" + std::to_string(getpid()) + "-" +
           std::to_string(++n);
  };
  leader_probe suspended{sys, name("suspended"), 2.0 / 3};
  leader_probe lost{sys, name("lost"), 1.0};
  for (int i = 0; i < 200 && !(suspended.leading() && lost.leading()); ++i)
    std::this_thread::sleep_for(50ms);
  SLACKER_REQUIRE(suspended.leading() && lost.leading(), "the probes do not lead");
  auto leader = wait_ensemble_leader();
  auto from = clock_type::now();
  zookeeper("kill", node_dir(leader));
  wait_ensemble_leader();
  auto elected = clock_type::now() - from;
  // Both lead again (bounded), then the gaps since the kill.
  for (int i = 0; i < 300 && !(suspended.leading() && lost.leading()); ++i)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(500ms);
  auto to = clock_type::now();
  zookeeper("restart", node_dir(leader));
  auto on_suspend = suspended.gap(from, to);
  auto on_loss = lost.gap(from, to);
  CAF_MESSAGE("ensemble leader killed, another elected after "
              << ms_of(elected) << " ms: without a leader " << ms_of(on_suspend)
              << " ms (default), " << ms_of(on_loss) << " ms (share 1.0)");
  CAF_CHECK(suspended.leading() && lost.leading());
  CAF_CHECK_GREATER(on_suspend, clock_type::duration{0}); // it stepped down
  CAF_CHECK_EQUAL(ms_of(on_loss), 0);                     // the session held
  CAF_CHECK(settled(15s));
}

CAF_TEST(the whole ensemble down 30 s and back with its data fails no call) {
  load l{*client, echo_call(), 4, 90s};
  std::this_thread::sleep_for(1s);
  zookeeper("ensemble-stop", ensemble_dir());
  std::this_thread::sleep_for(30s); // the outage the test is about: calls go on
  auto during = client->members();
  zookeeper("ensemble-restart", ensemble_dir());
  auto back = clock_type::now();
  auto ok = settled(20s);
  auto took = clock_type::now() - back;
  // Past the grace of the client's new session (its timeout), then stop.
  std::this_thread::sleep_for(10s - std::min<clock_type::duration>(took, 10s));
  l.stop();
  report(l, "ensemble down 30 s; the client routed to all servers again " +
                std::to_string(ms_of(took)) + " ms after it served");
  CAF_CHECK(during && during->state.status != registry_status::connected);
  CAF_CHECK(ok);
  CAF_CHECK_EQUAL(l.failed(), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
