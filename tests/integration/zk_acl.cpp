#define CAF_SUITE zk_acl
#include <caf/test/unit_test.hpp>

// ZooKeeper ACLs from the apps (--zk-auth): a cluster owned by its identity,
// parents shared by every identity, squatted clusters refused. Real
// ZooKeeper, real sessions for the "attacker".

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "require.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/registry/zk_session.hpp"
#include "slacker/runtime/config.hpp"
#include "zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::zk_address;

namespace {

std::string unique_cluster(const char* what) {
  static int counter = 0;
  return std::string{"acl-"} + what + "-" + std::to_string(getpid()) + "-"
         + std::to_string(++counter);
}

/// A raw ZooKeeper session, connected (bounded wait), with optional auth.
std::unique_ptr<zk::session> raw_session(const std::string& digest = {}) {
  auto s = zk::session::open(zk_address(), 10s, [](const zk::event&) {},
                             zk::auth_options{digest, ""});
  SLACKER_REQUIRE(s, "cannot open a ZooKeeper session");
  for (int i = 0; i < 200; ++i) {
    if ((*s)->exists("/", false).code != zk::rc::connection_loss)
      return std::move(*s);
    std::this_thread::sleep_for(25ms);
  }
  CAF_FAIL("the ZooKeeper session did not connect");
}

/// A server of one namespace registered in `cluster` as `digest`.
struct owned_server {
  slacker::server srv;
  std::unique_ptr<registration> reg;
  std::string addr;

  owned_server(caf::actor_system& sys, const std::string& cluster, const std::string& digest)
    : srv(sys) {
    srv.add(ns("acl.api").def("ping", [] { return true; }));
    auto port = srv.publish(0, "127.0.0.1");
    SLACKER_REQUIRE(port, describe(port.error()));
    registration_options opts;
    opts.zk.zk = zk_address();
    opts.zk.cluster = cluster;
    opts.zk.session_timeout = 10s;
    opts.zk.auth.digest = digest;
    opts.node = "127.0.0.1";
    reg = std::make_unique<registration>(sys, srv, opts);
    addr = "127.0.0.1:" + std::to_string(*port);
  }
};

struct fixture {
  slacker::config cfg;
  caf::actor_system sys{cfg};

  fixture() {
    SLACKER_REQUIRE(!zk_address().empty(), "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(zk_acl_tests, fixture)

CAF_TEST(with zk auth others cannot delete overwrite or add nodes of the cluster) {
  auto cluster = unique_cluster("owned");
  owned_server s{sys, cluster, "alice:wonderland"};
  auto err = s.reg->wait_registered(15s);
  SLACKER_REQUIRE(!err, describe(err));
  auto base = "/slacker/cluster/" + cluster;
  auto server_node = base + "/servers/" + s.addr;
  for (auto digest : {"", "mallory:guess"}) {
    CAF_MESSAGE("as " << (*digest ? digest : "anonymous"));
    auto other = raw_session(digest);
    std::string data;
    CAF_CHECK(other->get(server_node, false, data)); // reading stays open
    CAF_CHECK(!other->remove(server_node));
    CAF_CHECK(!other->set(server_node, R"({"weight":1000})"));
    CAF_CHECK(!other->create(base + "/servers/10.6.6.6:666", "{}", zk::node_kind::ephemeral,
                             false));
    CAF_CHECK(!other->create(base + "/namespaces/acl.api/10.6.6.6:666", "",
                             zk::node_kind::ephemeral, false));
    CAF_CHECK(!other->set(base + "/namespaces/acl.api/_leader", "10.6.6.6:666"));
    CAF_CHECK(!other->remove(base + "/namespaces/acl.api/_leader"));
    CAF_CHECK(!other->set(base, "mine now"));
  }
  auto check = raw_session();
  std::string data;
  CAF_CHECK(check->get(server_node, false, data));
  zk::node_stat st;
  CAF_CHECK(!check->exists(base + "/servers/10.6.6.6:666", false, &st));
}

CAF_TEST(a squatted cluster is refused with a clear error naming the node) {
  auto cluster = unique_cluster("squatted");
  auto squatter = raw_session();
  auto base = "/slacker/cluster/" + cluster;
  SLACKER_REQUIRE(squatter->create(base + "/servers", "", zk::node_kind::persistent, true),
                  "the squatter could not create the cluster");
  owned_server s{sys, cluster, "alice:wonderland"};
  auto err = s.reg->wait_registered(15s);
  SLACKER_REQUIRE(err, "a squatted cluster was taken");
  CAF_MESSAGE(describe(err));
  CAF_CHECK_EQUAL(code_of(err), sc::forbidden);
  CAF_CHECK(describe(err).find(base) != std::string::npos);
  zk::node_stat st;
  CAF_CHECK(!squatter->exists(base + "/servers/" + s.addr, false, &st));
}

CAF_TEST(two identities can own two clusters) {
  auto a = unique_cluster("alice");
  auto b = unique_cluster("bob");
  owned_server alice{sys, a, "alice:wonderland"};
  owned_server bob{sys, b, "bob:builder"};
  auto ea = alice.reg->wait_registered(15s);
  auto eb = bob.reg->wait_registered(15s);
  SLACKER_REQUIRE(!ea, describe(ea));
  SLACKER_REQUIRE(!eb, describe(eb));
  // Neither can touch the other's cluster.
  auto as_bob = raw_session("bob:builder");
  CAF_CHECK(!as_bob->remove("/slacker/cluster/" + a + "/servers/" + alice.addr));
  // The shared parents take new clusters from anyone, and cannot be removed.
  auto anyone = raw_session();
  CAF_CHECK(anyone->create("/slacker/cluster/" + unique_cluster("open") + "/servers", "",
                           zk::node_kind::persistent, true));
  bool writable = true;
  CAF_CHECK(anyone->world_writable("/slacker/cluster/" + a, writable));
  CAF_CHECK(!writable);
}

CAF_TEST_FIXTURE_SCOPE_END()
