#pragma once

// A cluster client in a cluster of its own on the test ZooKeeper, with its
// membership events logged, and the test-server members a test starts.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "event_log.hpp"
#include "require.hpp"
#include "run_support.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "zk_support.hpp"

namespace slacker_test {

struct cluster_fixture {
  hang_report hang; // first: stacks before the watchdog, the fixture's end too
  slacker::config cfg;
  caf::actor_system sys{cfg};
  std::string cluster;
  std::unique_ptr<slacker::cluster_client> client;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor sub;
  std::vector<std::unique_ptr<member>> members;

  /// A cluster named `prefix-PID-N`, fresh for each test, on the test
  /// ZooKeeper or on `zk_addr` (an ensemble).
  explicit cluster_fixture(const std::string& prefix, const std::string& zk_addr = "") {
    SLACKER_REQUIRE(!zk_addr.empty() || !zk_address().empty(),
                    "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
    static int counter = 0;
    cluster = prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    slacker::zk_options zk;
    zk.zk = zk_addr.empty() ? zk_address() : zk_addr;
    zk.cluster = cluster;
    client = std::make_unique<slacker::cluster_client>(sys, zk);
    sub = sys.spawn(collector, log);
    caf::anon_send(client->registry_actor(), slacker::subscribe_atom::value, sub);
  }

  ~cluster_fixture() {
    client.reset();
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  }

  /// Waits until this client can route to `m` (its namespaces are up).
  void wait_routable(const member& m) {
    using namespace std::chrono_literals;
    for (auto ns : {"test.api", "test.reflect"})
      SLACKER_REQUIRE(log->next<slacker::namespace_up>(
                          [&](auto& x) { return x.ns == ns && x.addr == m.addr; }, 15s),
                      "no namespace_up of " << ns << " for " << m.addr);
    // A server's own node is written last (docs/registry.md): listed, it
    // is routable.
    SLACKER_REQUIRE(
        log->next<slacker::member_up>([&](auto& x) { return x.addr == m.addr; }, 15s),
        "no member_up for " << m.addr);
    // The registry told the client's dispatcher first, but this log may hear
    // it before the dispatcher took it in and published its routes (a call
    // then went to the servers before it: `all` over 2 of 3, once in CI).
    // The dispatcher answers in order: once it answers, it took the change.
    auto seen = client->members();
    SLACKER_REQUIRE(seen && seen->servers.count(m.addr) > 0,
                    "the client's dispatcher does not list " << m.addr);
  }
};

} // namespace slacker_test
