#define CAF_SUITE coordination
#include <caf/test/unit_test.hpp>

// ZooKeeper's bad days (docs/reliability.md), on the single test node: a
// ZooKeeper frozen past every session timeout, and one process's link cut by
// a TCP proxy between it and ZooKeeper. Each test prints its figure.

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "tests/call_load.hpp"
#include "tests/cluster_fixture.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/tcp_proxy.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::clock_type;
using slacker_test::load;
using slacker_test::member;
using slacker_test::ms_of;
using slacker_test::port_of;
using slacker_test::zk_address;

namespace {

struct fixture : slacker_test::cluster_fixture {
  fixture() : cluster_fixture("coordination") {}

  /// A server (sessions of 2 s) on the test ZooKeeper or on `zk`; this
  /// fixture's client can route to it once this returns.
  member& start(const std::string& zk = "") {
    members.push_back(std::make_unique<member>(cluster, "{}", 2000, uint16_t{0}, false,
                                               std::vector<std::string>{}, zk));
    wait_routable(*members.back());
    return *members.back();
  }

  /// A cluster client of its own (sessions of 2 s) on `zk`, once it routes
  /// to every member of the fixture.
  std::unique_ptr<cluster_client> client_on(const std::string& zk) {
    zk_options opts;
    opts.zk = zk;
    opts.cluster = cluster;
    opts.session_timeout = 2s;
    auto c = std::make_unique<cluster_client>(sys, opts);
    for (int i = 0; i < 300; ++i) { // bounded: 15 s
      auto v = c->members();
      if (v && v->namespaces["test.api"].size() == members.size())
        return c;
      std::this_thread::sleep_for(50ms);
    }
    CAF_FAIL("the client never saw all " << members.size() << " servers");
    return c;
  }

  cluster_call echo_call(cluster_client& c) {
    auto call = c.prepare(cluster_options{}, {}, "test.api/echo", std::string{"x"});
    SLACKER_REQUIRE(call, describe(call.error()));
    return std::move(*call);
  }

  /// What `m` leads now: namespace -> fencing token (`INCARNATION:SEQUENCE`).
  std::map<std::string, std::string> leading(member& m) {
    m.proc.write_line("leading");
    auto line = m.proc.wait_for("leading", 10000);
    SLACKER_REQUIRE(line, m.addr << " did not answer");
    std::map<std::string, std::string> out;
    std::istringstream in{*line};
    std::string item;
    while (in >> item)
      if (auto eq = item.find('='); eq != std::string::npos)
        out[item.substr(0, eq)] = item.substr(eq + 1);
    return out;
  }

  /// The members that claim to lead `ns`, asked one after the other.
  std::vector<size_t> claims(const std::string& ns) {
    std::vector<size_t> out;
    for (size_t i = 0; i < members.size(); ++i)
      if (leading(*members[i]).count(ns) > 0)
        out.push_back(i);
    return out;
  }
};

uint64_t sequence_of(const std::string& token) {
  return std::stoull(token.substr(token.find(':') + 1));
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(coordination_tests, fixture)

CAF_TEST(ZooKeeper frozen past every session timeout fails no call) {
  for (int i = 0; i < 3; ++i)
    start();
  auto client2 = client_on(zk_address()); // sessions of 2 s, like the servers
  load l{*client2, echo_call(*client2), 4};
  std::this_thread::sleep_for(1s); // a baseline of calls before the fault
  clock_type::time_point thawed;
  {
    slacker_test::zk_frozen frozen; // every session expires in ZooKeeper's eyes
    std::this_thread::sleep_for(5s);
  }
  thawed = clock_type::now();
  // The client and every server open new sessions; the client reads the tree
  // while the servers register again. Calls go on until it has settled.
  bool settled = false;
  for (int i = 0; i < 200 && !settled; ++i) { // bounded: 10 s
    auto v = client2->members();
    settled = v && v->state.status == registry_status::connected &&
              v->namespaces["test.api"].size() == 3;
    if (!settled)
      std::this_thread::sleep_for(50ms);
  }
  auto took = clock_type::now() - thawed;
  std::this_thread::sleep_for(3s); // past the client's grace (one session timeout)
  l.stop();
  CAF_MESSAGE(l.calls() << " calls, " << l.failed()
                        << " failed; the client connected with "
                        << "all servers " << ms_of(took) << " ms after the thaw");
  for (auto& text : l.first_errors())
    CAF_MESSAGE("  " << text);
  CAF_CHECK(settled);
  CAF_CHECK_EQUAL(l.failed(), 0u);
  auto v = client2->members();
  SLACKER_REQUIRE(v, "no view");
  CAF_CHECK_EQUAL(v->servers.size(), 3u);
}

CAF_TEST(the client link cut past its session timeout fails no call) {
  for (int i = 0; i < 3; ++i)
    start();
  slacker_test::tcp_proxy proxy{port_of(zk_address())};
  auto client2 = client_on(proxy.address());
  load l{*client2, echo_call(*client2), 4};
  std::this_thread::sleep_for(1s);
  proxy.cut();
  std::this_thread::sleep_for(4s); // twice the session timeout: ZooKeeper expires it
  auto during = client2->members();
  proxy.restore();
  auto restored = clock_type::now();
  bool back = false;
  for (int i = 0; i < 200 && !back; ++i) { // bounded: 10 s
    auto v = client2->members();
    back = v && v->state.status == registry_status::connected;
    if (!back)
      std::this_thread::sleep_for(50ms);
  }
  auto took = clock_type::now() - restored;
  std::this_thread::sleep_for(3s); // past the grace of its new session
  l.stop();
  CAF_MESSAGE(l.calls() << " calls, " << l.failed() << " failed; status during the cut: "
                        << (during ? to_string(during->state.status) : "?")
                        << "; connected again " << ms_of(took)
                        << " ms after the restore");
  for (auto& text : l.first_errors())
    CAF_MESSAGE("  " << text);
  CAF_CHECK(during && during->state.status != registry_status::connected);
  CAF_CHECK(back);
  CAF_CHECK_EQUAL(l.failed(), 0u);
  auto v = client2->members();
  SLACKER_REQUIRE(v, "no view");
  CAF_CHECK_EQUAL(v->namespaces["test.api"].size(), 3u);
}

CAF_TEST(a leader cut off from ZooKeeper steps down before another is elected) {
  slacker_test::tcp_proxy proxy{port_of(zk_address())};
  auto& a = start(proxy.address()); // first: it leads
  std::string old_token;
  for (int i = 0; i < 200 && old_token.empty(); ++i) { // bounded: 10 s
    auto led = leading(a);
    if (led.count("test.api"))
      old_token = led["test.api"];
    else
      std::this_thread::sleep_for(50ms);
  }
  SLACKER_REQUIRE(!old_token.empty(), "the first server never led");
  start();
  start();
  // Sampled every 50 ms on every server: never two claims at once.
  size_t most = 0;
  size_t samples = 0;
  auto sample = [&] {
    auto c = claims("test.api");
    most = std::max(most, c.size());
    ++samples;
    return c;
  };
  proxy.cut();
  auto cut = clock_type::now();
  clock_type::duration stepped_down{0};
  clock_type::duration elected{0};
  size_t new_leader = 0;
  while (clock_type::now() - cut < 8s) { // bounded
    auto c = sample();
    if (stepped_down.count() == 0 && std::find(c.begin(), c.end(), 0u) == c.end())
      stepped_down = clock_type::now() - cut;
    if (elected.count() == 0 && !c.empty() && c.front() != 0) {
      elected = clock_type::now() - cut;
      new_leader = c.front();
    }
    if (elected.count() > 0 && clock_type::now() - cut > elected + 1s)
      break;
    std::this_thread::sleep_for(50ms);
  }
  proxy.restore();
  // The old leader comes back as a candidate: its session expired, so it
  // registers again and runs in the election behind the new leader.
  auto restored = clock_type::now();
  bool candidate_again = false;
  auto dir = "/slacker/cluster/" + cluster + "/namespaces/test.api/_election";
  while (!candidate_again && clock_type::now() - restored < 10s) { // bounded
    sample();
    for (auto& [name, data] : slacker_test::election_candidates(dir))
      if (data == a.addr)
        candidate_again = true;
    if (!candidate_again)
      std::this_thread::sleep_for(50ms);
  }
  for (int i = 0; i < 10; ++i) { // a second more of samples after its return
    sample();
    std::this_thread::sleep_for(50ms);
  }
  std::string new_token;
  if (new_leader > 0)
    new_token = leading(*members[new_leader])["test.api"];
  CAF_MESSAGE(
      samples << " samples, at most " << most << " leader(s) at once; the old one "
              << "stepped down " << ms_of(stepped_down) << " ms after the cut, a new "
              << "one led after " << ms_of(elected) << " ms; fencing tokens " << old_token
              << " -> " << new_token);
  CAF_CHECK_EQUAL(most, 1u);
  CAF_CHECK_GREATER(elected.count(), 0);
  CAF_CHECK_LESS(stepped_down, elected);
  CAF_CHECK(candidate_again);
  CAF_CHECK(leading(a).count("test.api") == 0);
  SLACKER_REQUIRE(!new_token.empty(), "the new leader has no token");
  CAF_CHECK_GREATER(sequence_of(new_token), sequence_of(old_token));
}

CAF_TEST_FIXTURE_SCOPE_END()
