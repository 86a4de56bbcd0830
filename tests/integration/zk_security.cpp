#define CAF_SUITE zk_security
#include <caf/test/unit_test.hpp>

// The trust boundary where ZooKeeper is involved: ACLs from the apps
// (--zk-auth: a cluster owned by its identity, parents shared by every
// identity, squatted clusters refused), a cluster over mutual TLS, the real
// manager behind its token, plaintext servers refusing non-loopback
// addresses. Real ZooKeeper, real processes, real sessions for the "attacker".

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#ifndef THREADED
#define THREADED // the synchronous API of the multi-threaded client
#endif
#include <zookeeper/zookeeper.h>

#include "apps/support/certs.hpp"
#include "apps/support/process.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/registry/detail/zk_session.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/binaries.hpp"
#include "tests/event_log.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::zk_address;

namespace {

std::string unique_cluster(const char* what) {
  static int counter = 0;
  return std::string{"acl-"} + what + "-" + std::to_string(getpid()) + "-" +
         std::to_string(++counter);
}

/// A raw ZooKeeper session, connected (bounded wait), with optional auth.
std::unique_ptr<zk::session> raw_session(const std::string& digest = {}) {
  auto s = zk::session::open(
      zk_address(), 10s, [](const zk::event&) {}, zk::auth_options{digest, ""});
  SLACKER_REQUIRE(s, "cannot open a ZooKeeper session");
  for (int i = 0; i < 200; ++i) {
    if ((*s)->exists("/", false).code != zk::rc::connection_loss)
      return std::move(*s);
    std::this_thread::sleep_for(25ms);
  }
  CAF_FAIL("the ZooKeeper session did not connect");
}

/// An anonymous attacker with the C client itself: creates nodes with the
/// ACL it chooses (the project's session always uses its own).
struct attacker {
  zhandle_t* zh = nullptr;

  attacker() {
    zh = zookeeper_init(zk_address().c_str(), nullptr, 10000, nullptr, nullptr, 0);
    SLACKER_REQUIRE(zh, "zookeeper_init failed");
    for (int i = 0; i < 400 && zoo_state(zh) != ZOO_CONNECTED_STATE; ++i)
      std::this_thread::sleep_for(25ms);
    SLACKER_REQUIRE(zoo_state(zh) == ZOO_CONNECTED_STATE, "the attacker did not connect");
  }

  ~attacker() {
    zookeeper_close(zh);
  }

  /// Creates `path` (persistent) granting the world `perms`.
  void create(const std::string& path, int perms, const std::string& data = "") {
    std::string world = "world", anyone = "anyone";
    ACL entry{perms, Id{world.data(), anyone.data()}};
    ACL_vector acl{1, &entry};
    auto rc = zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                         &acl, 0, nullptr, 0);
    SLACKER_REQUIRE(rc == ZOK, "the attacker could not create " << path << ": " << rc);
  }
};

/// A server of one namespace registered in `cluster` as `digest`.
struct owned_server {
  slacker::server srv;
  std::unique_ptr<registration> reg;
  std::string addr;

  owned_server(caf::actor_system& sys, const std::string& cluster,
               const std::string& digest)
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

CAF_TEST_FIXTURE_SCOPE(zk_security_tests, fixture)

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
    CAF_CHECK(!other->create(base + "/servers/10.6.6.6:666", "{}",
                             zk::node_kind::ephemeral, false));
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
  SLACKER_REQUIRE(
      squatter->create(base + "/servers", "", zk::node_kind::persistent, true),
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

CAF_TEST(a cluster squatted anywhere in its subtree is refused naming the node) {
  // The issue's reproduction: the cluster and its children with world
  // CREATE|READ (no world WRITE/DELETE/ADMIN: the old check let them pass),
  // the namespace with world ALL, a fake server with a large weight.
  auto cluster = unique_cluster("deep");
  auto base = "/slacker/cluster/" + cluster;
  // The shared parents, as any first cluster makes them.
  raw_session()->create("/slacker/cluster/" + unique_cluster("first"), "",
                        zk::node_kind::persistent, true);
  {
    attacker mallory;
    auto create_read = ZOO_PERM_CREATE | ZOO_PERM_READ;
    mallory.create(base, create_read);
    for (auto child : {"/servers", "/namespaces", "/functions"})
      mallory.create(base + child, create_read);
    mallory.create(base + "/namespaces/acl.api", ZOO_PERM_ALL);
    mallory.create(base + "/servers/127.0.0.1:2199", create_read, R"({"weight":1000})");
  }
  owned_server s{sys, cluster, "alice:wonderland"};
  auto err = s.reg->wait_registered(15s);
  SLACKER_REQUIRE(err, "a squatted cluster was taken");
  CAF_MESSAGE(describe(err));
  CAF_CHECK_EQUAL(code_of(err), sc::forbidden);
  CAF_CHECK(describe(err).find("cluster node " + base) != std::string::npos);
  CAF_CHECK(describe(err).find("world:anyone") != std::string::npos);
  auto check = raw_session();
  zk::node_stat st;
  CAF_CHECK(!check->exists(base + "/servers/" + s.addr, false, &st));
  // A node nobody may write (world READ only) is not this identity's either.
  auto frozen = unique_cluster("readonly");
  attacker{}.create("/slacker/cluster/" + frozen, ZOO_PERM_READ);
  owned_server late{sys, frozen, "alice:wonderland"};
  auto not_ours = late.reg->wait_registered(15s);
  SLACKER_REQUIRE(not_ours, "a read-only cluster node was taken");
  CAF_CHECK(describe(not_ours).find("is not owned by this server's identity") !=
            std::string::npos);
  // Nodes another identity owns, even with a proper-looking ACL, are refused
  // too: a server of one identity never joins another's cluster.
  auto other = unique_cluster("other");
  owned_server bob{sys, other, "bob:builder"};
  SLACKER_REQUIRE(!bob.reg->wait_registered(15s), "bob's server did not register");
  owned_server alice{sys, other, "alice:wonderland"};
  auto refused = alice.reg->wait_registered(15s);
  SLACKER_REQUIRE(refused, "alice joined bob's cluster");
  CAF_MESSAGE(describe(refused));
  CAF_CHECK(describe(refused).find("lets digest:bob do more than read it") !=
            std::string::npos);
  CAF_CHECK(
      !check->exists("/slacker/cluster/" + other + "/servers/" + alice.addr, false, &st));
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
  std::vector<zk::acl_entry> acl;
  CAF_CHECK(anyone->acl("/slacker/cluster/" + a, acl));
  bool writable = false; // by the world: write, delete or administer
  for (auto& e : acl)
    if (e.scheme == "world" &&
        (e.perms & (ZOO_PERM_WRITE | ZOO_PERM_DELETE | ZOO_PERM_ADMIN)) != 0)
      writable = true;
  CAF_CHECK(!acl.empty() && !writable);
}

CAF_TEST(a cluster client calls servers over mutual TLS and a plaintext one cannot) {
  slacker_test::test_certs certs;
  auto cluster = unique_cluster("tls");
  slacker_test::member a{cluster, "{}", 2000, 0, false, certs.options()};
  slacker_test::member b{cluster, "{}", 2000, 0, false, certs.options()};
  slacker_test::client_system tls_client{certs.options()};
  auto& tls_sys = *tls_client.sys;
  // Both servers in a client's view: its registry told the dispatcher first.
  auto wait_both = [&](cluster_client& c, caf::actor_system& on) {
    auto log = std::make_shared<slacker_test::event_log>();
    auto sub = on.spawn(slacker_test::collector, log);
    caf::anon_send(c.registry_actor(), subscribe_atom::value, sub);
    for (auto* m : {&a, &b})
      SLACKER_REQUIRE(
          log->next<namespace_up>(
              [&](auto& x) { return x.ns == "test.api" && x.addr == m->addr; }, 15s),
          "no namespace_up for " << m->addr);
    for (auto* m : {&a, &b}) // written last: listed is routable
      SLACKER_REQUIRE(
          log->next<slacker::member_up>([&](auto& x) { return x.addr == m->addr; }, 15s),
          "no member_up for " << m->addr);
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  };
  cluster_client client{tls_sys, cluster, zk_address()};
  wait_both(client, tls_sys);
  cluster_options all;
  all.grouping = grouping_kind::all;
  all.results = results_kind::map;
  auto res = client.call<std::map<std::string, std::string>>(all, "test.api/whoami");
  SLACKER_REQUIRE(res, describe(res.error()));
  CAF_CHECK_EQUAL(res->size(), 2u);
  CAF_CHECK_EQUAL(res->count(a.addr), 1u);
  CAF_CHECK_EQUAL(res->count(b.addr), 1u);
  // Without certificates the same cluster cannot be called.
  cluster_client plain{sys, cluster, zk_address()};
  wait_both(plain, sys);
  cluster_options one;
  one.timeout = 3s;
  auto p = plain.call<std::string>(one, "test.api/whoami");
  SLACKER_REQUIRE(!p, "a plaintext client was served by TLS servers");
  CAF_MESSAGE(describe(p.error()));
  CAF_CHECK(describe(p.error()).find("requires TLS") != std::string::npos);
  CAF_CHECK_EQUAL(code_of(p.error()), sc::connection_broken); // refused: it did not run
}

CAF_TEST(the manager refuses writes without its token and takes them with it) {
  auto cluster = unique_cluster("manager");
  slacker_test::member m{cluster, "{}", 2000, 0, true, {"--slacker.manager.token=tok3n"}};
  auto cli = slacker_test::cli_path();
  auto [denied_rc, denied] = slacker_test::run({cli, "offline", m.addr});
  CAF_MESSAGE(denied);
  CAF_CHECK_EQUAL(denied_rc, 1);
  CAF_CHECK(denied.find("error: forbidden") != std::string::npos);
  auto [wrong_rc, wrong] =
      slacker_test::run({cli, "shutdown", m.addr, "--manager-token=nope"});
  CAF_CHECK_EQUAL(wrong_rc, 1);
  CAF_CHECK(wrong.find("error: forbidden") != std::string::npos);
  auto [read_rc, read] = slacker_test::run(
      {cli, "call", "--server=" + m.addr, "slacker.cluster.manager/server-data"});
  CAF_CHECK_EQUAL(read_rc, 0); // reads stay open
  auto [ok_rc, ok] = slacker_test::run({cli, "offline", m.addr, "--manager-token=tok3n"});
  CAF_CHECK_EQUAL(ok_rc, 0);
  CAF_CHECK(ok.find("\"routed\":[]") != std::string::npos); // the new state: all offline
}

CAF_TEST(a plaintext server refuses a non loopback node unless insecure) {
  auto cluster = unique_cluster("node");
  auto server = slacker_test::binary_path("../apps/example-server");
  auto [rc, out] = slacker_test::run({server, "--port=0", "--zk=" + zk_address(),
                                      "--cluster=" + cluster, "--node=10.9.9.9"});
  CAF_MESSAGE(out);
  CAF_CHECK_EQUAL(rc, 1);
  CAF_CHECK(out.find("--node 10.9.9.9 is not on loopback") != std::string::npos);
  // In-process: the registration says why.
  slacker::server srv{sys};
  srv.add(ns("acl.api").def("ping", [] { return true; }));
  SLACKER_REQUIRE(srv.publish(0, "127.0.0.1"), "cannot publish");
  registration_options opts;
  opts.zk.zk = zk_address();
  opts.zk.cluster = cluster;
  opts.node = "10.9.9.9";
  registration reg{sys, srv, opts};
  auto err = reg.wait_registered(5s);
  CAF_CHECK_EQUAL(code_of(err), sc::forbidden);
}

CAF_TEST_FIXTURE_SCOPE_END()
