#define CAF_SUITE zookeeper
#include <algorithm>
#include <caf/test/dsl.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slacker/actors/detail/dispatcher.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/registry/detail/registrar.hpp"
#include "slacker/registry/detail/registry_actor.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/unit/dispatcher_support.hpp"
#include "tests/unit/fake_zookeeper.hpp"

// The registry actor, the registrar and a dispatcher on a fake ZooKeeper, with
// simulated time: what the integration tests show with real processes, here
// step by step and with faults placed exactly.

using namespace slacker;
using namespace std::chrono_literals;

namespace {

using slacker_test::unit_config;

using log_ptr = std::shared_ptr<std::vector<std::string>>;

std::string line(const membership_view& v) {
  return "view " + std::to_string(v.servers.size());
}
std::string line(const member_up& x) {
  return "up " + x.addr + " " + x.data;
}
std::string line(const member_down& x) {
  return "down " + x.addr;
}
std::string line(const member_leaving& x) {
  return "leaving " + x.addr;
}
std::string line(const member_unreachable& x) {
  return "unreachable " + x.addr + " " + x.reason;
}
std::string line(const member_reachable& x) {
  return "reachable " + x.addr;
}
std::string line(const server_data_changed& x) {
  return "data " + x.addr + " " + x.data;
}
std::string line(const namespace_up& x) {
  return "ns up " + x.ns + " " + x.addr;
}
std::string line(const namespace_down& x) {
  return "ns down " + x.ns + " " + x.addr;
}
std::string line(const leader_changed& x) {
  return "leader " + x.ns + " " + x.addr;
}
std::string line(const registry_state& x) {
  return std::string{"status "} + to_string(x.status);
}

/// Writes each membership event it gets as one line.
caf::behavior listener(caf::event_based_actor*, log_ptr log) {
  return on_membership([log](auto& x) { log->push_back(line(x)); });
}

std::vector<function_info> functions(std::string name) {
  std::vector<function_info> fns(1);
  fns[0].name = std::move(name);
  return fns;
}

struct fixture : test_coordinator_fixture<unit_config> {
  slacker_test::fake_zookeeper zookeeper;
  zk_options opts;
  log_ptr log = std::make_shared<std::vector<std::string>>();
  std::vector<caf::actor> actors;

  fixture() {
    opts.zk = "fake:2181";
    opts.cluster = "c";
    opts.session_timeout = 2000ms;
  }

  ~fixture() override {
    for (auto& a : actors)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// A registrar for server 127.0.0.1:`port` serving `ns` (function "fn").
  registrar_actor_type registrar(uint16_t port, std::string ns = "ns",
                                 std::string data = "{}") {
    std::map<std::string, std::vector<function_info>> nss;
    nss[ns] = functions("fn");
    auto r = sys.spawn(registrar_actor, opts, std::string{"127.0.0.1"}, port,
                       std::move(data), std::move(nss), false, zookeeper.connector());
    actors.push_back(caf::actor_cast<caf::actor>(r));
    sched.run();
    return r;
  }

  /// A registry actor with a listener subscribed to it.
  registry_actor_type mirror() {
    auto m = sys.spawn(registry_actor, opts, nullptr, zookeeper.connector());
    auto l = sys.spawn(listener, log);
    actors.push_back(caf::actor_cast<caf::actor>(m));
    actors.push_back(l);
    self->send(m, subscribe_atom::value, l);
    sched.run();
    return m;
  }

  std::set<std::string> leading(const registrar_actor_type& r) {
    return deref<registrar_internal_type::stateful_base<registrar_state>>(r)
        .state.leading;
  }

  /// The session of a registrar or registry actor.
  int64_t session_of(const registrar_actor_type& a) {
    return deref<registrar_internal_type::stateful_base<registrar_state>>(a)
        .state.link.zk->id();
  }
  int64_t session_of(const registry_actor_type& a) {
    return deref<registry_mirror_type::stateful_base<mirror_state>>(a)
        .state.link.zk->id();
  }

  /// Advances simulated time by `d`, running what becomes due.
  void advance(caf::timespan d) {
    sched.run();
    sched.advance_time(d);
    sched.run();
  }

  bool logged(const std::string& line) const {
    return std::find(log->begin(), log->end(), line) != log->end();
  }

  std::string base = "/slacker/cluster/c";
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(zookeeper_tests, fixture)

CAF_TEST(the timers of a registry and a registrar hold the actor system until they end) {
  // Both wait for their connect timer (10 s) on a helper actor each. The
  // actor system counts the helpers, so that it waits for them before it
  // stops its scheduler: they end with their owner, and the owner's down
  // message, which names it, is taken while the scheduler runs (had it been
  // left in a helper's mailbox, the owner, a detached actor, could never be
  // destroyed and the actor system would wait for its thread forever).
  auto before = sys.registry().running();
  auto m = mirror();
  auto a = registrar(1000);
  // The registry, its listener, the registrar, and at least their timers.
  CAF_CHECK_GREATER_OR_EQUAL(sys.registry().running(), before + 5);
  self->send_exit(m, caf::exit_reason::user_shutdown);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(sys.registry().running(), before + 1); // the listener
}

CAF_TEST(a registrar writes the server its namespaces functions and election) {
  registrar(1000, "ns", R"({"w":1})");
  CAF_CHECK_EQUAL(zookeeper.data(base + "/servers/127.0.0.1:1000"), R"({"w":1})");
  CAF_CHECK(zookeeper.contains(base + "/namespaces/ns/127.0.0.1:1000"));
  CAF_CHECK(zookeeper.contains(base + "/functions/ns/fn"));
  CAF_CHECK_EQUAL(zookeeper.children(base + "/namespaces/ns/_election").size(), 1u);
  CAF_CHECK_EQUAL(zookeeper.data(base + "/namespaces/ns/_leader"), "127.0.0.1:1000");
}

CAF_TEST(the registry actor reports servers as they register change and leave) {
  auto a = registrar(1000);
  mirror();
  CAF_CHECK(logged("up 127.0.0.1:1000 {}"));
  auto b = registrar(1001);
  CAF_CHECK(logged("up 127.0.0.1:1001 {}"));
  CAF_CHECK(logged("ns up ns 127.0.0.1:1001"));
  self->send(b, set_data_atom::value, std::string{R"({"w":2})"});
  sched.run();
  CAF_CHECK(logged(R"(data 127.0.0.1:1001 {"w":2})"));
  self->send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(logged("ns down ns 127.0.0.1:1001"));
  CAF_CHECK(logged("down 127.0.0.1:1001"));
  CAF_CHECK(!logged("down 127.0.0.1:1000"));
}

CAF_TEST(a registry says connected only after a read of the tree that the link survived) {
  registrar(1000);
  auto m = mirror();
  auto connected = [&] {
    return std::count(log->begin(), log->end(), "status connected");
  };
  CAF_CHECK_EQUAL(connected(), 1);
  auto id = session_of(m);
  zookeeper.disconnect(id);
  sched.run();
  CAF_CHECK_EQUAL(log->back(), "status suspended");
  // Back, and gone again during the first read: the reads failed, so the
  // view is not known current (it was said connected before).
  zookeeper.reconnect_briefly(id);
  sched.run();
  CAF_CHECK_EQUAL(connected(), 1);
  CAF_CHECK_NOT_EQUAL(log->back(), "status connected");
  zookeeper.reconnect(id);
  sched.run();
  CAF_CHECK_EQUAL(connected(), 2);
  CAF_CHECK_EQUAL(log->back(), "status connected");
  registrar(1001); // and it follows the tree again
  CAF_CHECK(logged("up 127.0.0.1:1001 {}"));
}

CAF_TEST(a client holds the same watches for 2 servers or 12 and hears every data change) {
  std::vector<registrar_actor_type> rs;
  for (uint16_t port = 1000; port < 1002; ++port)
    rs.push_back(registrar(port));
  auto m = mirror();
  auto id = session_of(m);
  auto with_two = zookeeper.watches_of(id);
  for (uint16_t port = 1002; port < 1012; ++port)
    rs.push_back(registrar(port));
  CAF_CHECK(logged("up 127.0.0.1:1011 {}"));
  CAF_CHECK_EQUAL(zookeeper.watches_of(id), with_two);
  auto reads = [&] {
    return deref<registry_mirror_type::stateful_base<mirror_state>>(m)
        .state.link.requests()
        .reads;
  };
  // One change: the folder's data names the server, and only it is read.
  auto before = reads();
  self->send(rs[5], set_data_atom::value, std::string{R"({"w":5})"});
  sched.run();
  CAF_CHECK(logged(R"(data 127.0.0.1:1005 {"w":5})"));
  CAF_CHECK_EQUAL(reads() - before, 2u);
  // Two changes before the client reads: both are told (everything read).
  self->send(rs[3], set_data_atom::value, std::string{R"({"w":3})"});
  self->send(rs[7], set_data_atom::value, std::string{R"({"w":7})"});
  sched.run();
  CAF_CHECK(logged(R"(data 127.0.0.1:1003 {"w":3})"));
  CAF_CHECK(logged(R"(data 127.0.0.1:1007 {"w":7})"));
  CAF_CHECK_EQUAL(zookeeper.watches_of(id), with_two);
}

CAF_TEST(a leaving server is out of routing and told leaving until it is down) {
  auto a = registrar(1000);
  auto b = registrar(1001);
  mirror();
  CAF_CHECK_EQUAL(leading(a).count("ns"), 1u);
  self->send(a, leave_atom::value);
  sched.run();
  // Its namespace and leadership go at once; it stays a member, leaving.
  CAF_CHECK(logged("ns down ns 127.0.0.1:1000"));
  CAF_CHECK(logged("leaving 127.0.0.1:1000"));
  CAF_CHECK(!logged("down 127.0.0.1:1000"));
  CAF_CHECK_EQUAL(leading(a).count("ns"), 0u);
  CAF_CHECK_EQUAL(leading(b).count("ns"), 1u);
  CAF_CHECK(zookeeper.contains(base + "/servers/127.0.0.1:1000"));
  CAF_CHECK(zookeeper.contains(base + "/leaving/127.0.0.1:1000"));
  CAF_CHECK(!zookeeper.contains(base + "/namespaces/ns/127.0.0.1:1000"));
  // A subscriber that comes now sees it leaving in the view.
  auto m2 = sys.spawn(registry_actor, opts, nullptr, zookeeper.connector());
  actors.push_back(caf::actor_cast<caf::actor>(m2));
  sched.run();
  CAF_CHECK_EQUAL(
      deref<registry_mirror_type::stateful_base<mirror_state>>(m2).state.view.leaving,
      std::set<std::string>{"127.0.0.1:1000"});
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(logged("down 127.0.0.1:1000"));
  CAF_CHECK(!zookeeper.contains(base + "/leaving/127.0.0.1:1000"));
  CAF_CHECK_EQUAL(std::count(log->begin(), log->end(), "leaving 127.0.0.1:1000"), 1);
}

CAF_TEST(the first candidate leads and the next one leads when it leaves) {
  auto a = registrar(1000);
  auto b = registrar(1001);
  mirror();
  CAF_CHECK_EQUAL(leading(a).count("ns"), 1u);
  CAF_CHECK_EQUAL(leading(b).count("ns"), 0u);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(leading(b).count("ns"), 1u);
  CAF_CHECK_EQUAL(zookeeper.data(base + "/namespaces/ns/_leader"), "127.0.0.1:1001");
  CAF_CHECK(logged("leader ns 127.0.0.1:1001"));
}

CAF_TEST(clients see each leader with the fencing token its registrar holds) {
  auto a = registrar(1000);
  auto b = registrar(1001);
  auto m = mirror();
  auto token_of = [&](const registrar_actor_type& r) {
    std::vector<leadership> held;
    self->send(r, leaders_atom::value);
    sched.run();
    self->receive([&](std::vector<leadership>& x) { held = std::move(x); },
                  caf::after(0s) >> [] { CAF_FAIL("the registrar did not answer"); });
    CAF_REQUIRE_EQUAL(held.size(), 1u);
    return held[0].token;
  };
  auto view_token = [&] {
    membership_view v;
    self->send(m, view_atom::value);
    sched.run();
    self->receive([&](membership_view& x) { v = std::move(x); },
                  caf::after(0s) >> [] { CAF_FAIL("the registry did not answer"); });
    CAF_REQUIRE_EQUAL(v.tokens.count("ns"), 1u);
    return v.tokens["ns"];
  };
  auto held = token_of(a);
  auto seen = view_token();
  CAF_CHECK_EQUAL(seen.session, held.session);
  CAF_CHECK_EQUAL(seen.sequence, held.sequence);
  CAF_CHECK_EQUAL(seen.incarnation, held.incarnation);
  CAF_CHECK_NOT_EQUAL(seen.incarnation, 0);
  // The next leader's token is larger, as clients see it too.
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  auto next = view_token();
  auto held_b = token_of(b);
  CAF_CHECK_EQUAL(next.session, held_b.session);
  CAF_CHECK_EQUAL(next.sequence, held_b.sequence);
  CAF_CHECK(seen < next);
}

CAF_TEST(a leader steps down as soon as it sees its link down by default) {
  auto a = registrar(1000);
  auto sa = session_of(a);
  zookeeper.disconnect(sa);
  sched.run();
  // The client noticed after 2/3 of the session timeout: that is the share.
  CAF_CHECK_EQUAL(leading(a).count("ns"), 0u);
  zookeeper.reconnect(sa);
  sched.run();
  CAF_CHECK_EQUAL(leading(a).count("ns"), 1u); // the same session: still first
}

CAF_TEST(a leader with a larger share steps down once that share of the timeout passed) {
  opts.leader_step_down = 0.9; // 1800 ms of 2000, 1333 of them before it noticed
  auto a = registrar(1000);
  auto b = registrar(1001);
  zookeeper.disconnect(session_of(a));
  sched.run();
  advance(400ms);
  CAF_CHECK_EQUAL(leading(a).count("ns"), 1u);
  advance(100ms);
  CAF_CHECK_EQUAL(leading(a).count("ns"), 0u);
  CAF_CHECK_EQUAL(leading(b).count("ns"), 0u); // ZooKeeper has not expired it yet
}

CAF_TEST(after an expiry the leader runs again behind the new leader) {
  auto a = registrar(1000);
  auto b = registrar(1001);
  zookeeper.expire(session_of(a));
  sched.run();
  CAF_CHECK_EQUAL(leading(b).count("ns"), 1u);
  CAF_CHECK_EQUAL(leading(a).count("ns"), 0u);
  // Registered again on a new session: a candidate behind b.
  CAF_CHECK(zookeeper.contains(base + "/servers/127.0.0.1:1000"));
  CAF_CHECK_EQUAL(zookeeper.children(base + "/namespaces/ns/_election").size(), 2u);
}

CAF_TEST(a resync after an empty restart drops no server that registers again) {
  auto a = registrar(1000);
  auto m = mirror();
  // ZooKeeper comes back empty: every link drops, then every session has
  // expired and every node is gone.
  auto sm = session_of(m);
  auto sa = session_of(a);
  zookeeper.disconnect(sm);
  zookeeper.disconnect(sa);
  sched.run();
  zookeeper.expire(sm);
  zookeeper.expire(sa);
  sched.run();
  advance(3000ms); // past the mirror's grace
  CAF_CHECK(zookeeper.contains(base + "/servers/127.0.0.1:1000"));
  CAF_CHECK(!logged("down 127.0.0.1:1000"));
  CAF_CHECK(!logged("ns down ns 127.0.0.1:1000"));
}

CAF_TEST(after a new session a server still missing at the end of the grace is gone) {
  auto a = registrar(1000);
  auto m = mirror();
  auto sm = session_of(m);
  // The server dies while the mirror's session is expiring.
  self->send_exit(a, caf::exit_reason::user_shutdown);
  zookeeper.disconnect(sm);
  sched.run();
  zookeeper.expire(sm);
  sched.run();
  CAF_CHECK(!logged("down 127.0.0.1:1000")); // within the grace: kept
  advance(2500ms);
  CAF_CHECK(logged("down 127.0.0.1:1000"));
}

CAF_TEST(a dispatcher routes to servers as the registry sees them join and leave) {
  // Connection brokers stand-ins: each answers a call with its server's address.
  link_factory connect = [](caf::actor_system& sys, const std::string& addr, link_hooks) {
    return sys.spawn([addr](caf::event_based_actor*) -> caf::behavior {
      return {
          [addr](cluster_call& call) { return slacker_test::address_reply(addr, call); },
          [](inspect_atom, std::string&) { return functions("fn"); },
          [](caf::connect_atom) { return true; },
          [](retire_atom) {},
      };
    });
  };
  auto d = sys.spawn(dispatcher_actor, std::string{"c"}, caf::actor{}, connect,
                     std::shared_ptr<route_board>{});
  actors.push_back(caf::actor_cast<caf::actor>(d));
  auto m = sys.spawn(registry_actor, opts, nullptr, zookeeper.connector());
  actors.push_back(caf::actor_cast<caf::actor>(m));
  self->send(m, subscribe_atom::value, caf::actor_cast<caf::actor>(d));
  sched.run();
  auto call = [&]() -> caf::expected<std::string> {
    cluster_call c;
    c.req.ns = "ns";
    c.req.fn = "fn";
    c.req.deadline_ns = (std::chrono::system_clock::now() + 10s).time_since_epoch() / 1ns;
    c.policies = std::make_shared<call_policies>();
    self->send(d, c);
    sched.run();
    caf::expected<std::string> out{make_error(sc::timeout, "no answer")};
    self->receive(
        [&](cluster_reply& rep) {
          out = decode_value<std::string>(codec_id::caf_binary, rep.replies.at(0).result);
        },
        [&](caf::error& err) { out = std::move(err); }, caf::after(0s) >> [] {});
    return out;
  };
  auto before = call();
  CAF_CHECK(!before && code_of(before.error()) == sc::unavailable);
  auto a = registrar(1000);
  CAF_CHECK_EQUAL(call(), std::string{"127.0.0.1:1000"});
  auto b = registrar(1001, "other");
  CAF_CHECK_EQUAL(call(), std::string{"127.0.0.1:1000"}); // b does not serve ns
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  auto after = call();
  CAF_CHECK(!after && code_of(after.error()) == sc::unavailable);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(
    the detected address of a server is the one its host sends from towards ZooKeeper) {
  // Loopback however it is named (localhost may be ::1 first): 127.0.0.1.
  auto one = zk::local_address_towards("127.0.0.1:2181,localhost:2182/chroot");
  CAF_REQUIRE(one);
  CAF_CHECK_EQUAL(*one, "127.0.0.1");
  // No route at all: a clear error, not a guess. (Two interfaces towards
  // different servers: the lab's test, integration/lab.cpp.)
  auto none = zk::local_address_towards("no-such-host.invalid:2181");
  CAF_REQUIRE(!none);
  CAF_CHECK_EQUAL(code_of(none.error()), sc::unavailable);
  CAF_CHECK(describe(none.error()).find("set the node address") != std::string::npos);
}
