#define CAF_SUITE registry
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/support/process.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/detail/zk_session.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/event_log.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/tcp_proxy.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::event_log;
using slacker_test::member;
using slacker_test::zk_address;
using slacker_test::zk_dir;

namespace {

struct fixture {
  slacker_test::hang_report hang; // first: it watches the rest's end too
  slacker::config cfg;
  caf::actor_system sys{cfg};
  std::string cluster;
  std::unique_ptr<slacker::registry> reg;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor sub;

  fixture() {
    SLACKER_REQUIRE(!zk_address().empty(), "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
    static int counter = 0;
    cluster = "test-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    zk_options opts;
    opts.zk = zk_address();
    opts.cluster = cluster;
    opts.session_timeout = 10s;
    reg = std::make_unique<slacker::registry>(sys, opts);
    sub = sys.spawn(slacker_test::collector, log);
    caf::anon_send(reg->actor(), subscribe_atom::value, sub);
  }

  ~fixture() {
    reg.reset();
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  }

  bool wait_member_up(const std::string& addr, std::chrono::milliseconds t = 15s) {
    return log->next<member_up>([&](const member_up& x) { return x.addr == addr; }, t)
        .has_value();
  }

  std::optional<std::string> wait_leader(const std::string& ns,
                                         std::function<bool(const std::string&)> pred,
                                         std::chrono::milliseconds t = 15s) {
    auto ev = log->next<leader_changed>(
        [&](const leader_changed& x) { return x.ns == ns && pred(x.addr); }, t);
    if (!ev)
      return std::nullopt;
    return ev->addr;
  }
};

/// Waits until every member in `ms` is routable in `log` (its namespaces up).
void wait_up(event_log& log, const std::vector<member*>& ms) {
  for (auto m : ms)
    for (auto ns : {"test.api", "test.reflect"})
      SLACKER_REQUIRE(log.next<namespace_up>(
                          [&](auto& x) { return x.ns == ns && x.addr == m->addr; }, 15s),
                      "no namespace_up of " << ns << " for " << m->addr);
  for (auto m : ms) // written last: listed is routable
    SLACKER_REQUIRE(log.next<member_up>([&](auto& x) { return x.addr == m->addr; }, 15s),
                    "no member_up for " << m->addr);
}

/// Reads a node directly, to check the layout.
std::optional<std::string> read_node(const std::string& path) {
  auto zk = zk::session::open(zk_address(), 5s, [](const zk::event&) {});
  if (!zk)
    return std::nullopt;
  std::string data;
  for (int i = 0; i < 100; ++i) { // the session connects in the background
    auto res = (*zk)->get(path, false, data);
    if (res)
      return data;
    if (res.code == zk::rc::no_node)
      return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

/// Deletes `path` as another client would; false when it could not.
bool delete_node(const std::string& path) {
  auto zk = zk::session::open(zk_address(), 5s, [](const zk::event&) {});
  if (!zk)
    return false;
  for (int i = 0; i < 100; ++i) { // the session connects in the background
    auto res = (*zk)->remove(path);
    if (res)
      return true;
    if (res.code != zk::rc::connection_loss)
      return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

/// Creates the persistent node `path` (and its parents) as another client would.
bool create_node(const std::string& path) {
  auto zk = zk::session::open(zk_address(), 5s, [](const zk::event&) {});
  if (!zk)
    return false;
  for (int i = 0; i < 100; ++i) { // the session connects in the background
    auto res = (*zk)->create(path, "", zk::node_kind::persistent, true);
    if (res || res.code == zk::rc::node_exists)
      return true;
    if (res.code != zk::rc::connection_loss)
      return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

/// The name of `addr`'s candidate in `dir`, or empty.
std::string candidate_of(const std::string& dir, const std::string& addr) {
  for (auto& [name, data] : slacker_test::election_candidates(dir))
    if (data == addr)
      return name;
  return {};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(registry_tests, fixture)

CAF_TEST(a server registers itself in the documented layout) {
  member m{cluster, R"({"label":"example"})"};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up for " << m.addr);
  SLACKER_REQUIRE(wait_leader("test.api", [&](auto& a) { return a == m.addr; }),
                  "no leader");
  auto base = "/slacker/cluster/" + cluster;
  CAF_CHECK_EQUAL(read_node(base + "/servers/" + m.addr).value_or("missing"),
                  R"({"label":"example"})");
  CAF_CHECK(read_node(base + "/namespaces/test.api/" + m.addr).has_value());
  CAF_CHECK_EQUAL(read_node(base + "/namespaces/test.api/_leader").value_or("missing"),
                  m.addr);
  auto fn = read_node(base + "/functions/test.api/add");
  SLACKER_REQUIRE(fn, "no function metadata");
  CAF_CHECK(fn->find(R"("name":"add")") != std::string::npos);
  CAF_CHECK(fn->find(R"("doc":"a + b")") != std::string::npos);
  auto view = reg->view();
  SLACKER_REQUIRE(view, describe(view.error()));
  CAF_CHECK_EQUAL(view->servers[m.addr], R"({"label":"example"})");
  CAF_CHECK(view->namespaces["test.api"] == (std::set<std::string>{m.addr}));
  CAF_CHECK_EQUAL(view->leaders["test.api"], m.addr);
  CAF_CHECK(view->state.status == registry_status::connected);
}

CAF_TEST(a chroot in the connection string holds the cluster and a missing one is named) {
  auto chroot = "/" + cluster + "-chroot";
  // stderr merged: the registry's log lines are read below.
  slacker_test::process p{slacker_test::merging_stderr(
      {slacker_test::binary_path("test-server"), "--zk=" + zk_address() + chroot,
       "--cluster=" + cluster, "--port=0"})};
  std::optional<std::string> port, named;
  for (int i = 0; i < 200 && !named; ++i) {
    auto line = p.read_line(10000);
    SLACKER_REQUIRE(line, "the server said nothing of the missing chroot");
    if (line->rfind("port ", 0) == 0)
      port = line->substr(5);
    if (line->find("chroot " + chroot + " does not exist") != std::string::npos)
      named = line;
  }
  CAF_MESSAGE(*named);
  SLACKER_REQUIRE(port, "no port line");
  // Created by someone: the server registers below it on its next attempt.
  SLACKER_REQUIRE(create_node(chroot), "could not create " << chroot);
  auto below = chroot + "/slacker/cluster/" + cluster + "/servers/127.0.0.1:" + *port;
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) { // bounded: 5 s and more
    listed = read_node(below).has_value();
    if (!listed)
      std::this_thread::sleep_for(50ms);
  }
  CAF_CHECK(listed);
  CAF_CHECK(!read_node("/slacker/cluster/" + cluster + "/servers/127.0.0.1:" + *port));
}

CAF_TEST(a server data update reaches subscribers) {
  member m{cluster};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  m.command(R"(data {"weight":2})");
  auto ev = log->next<server_data_changed>(
      [&](auto& x) { return x.addr == m.addr && x.data == R"({"weight":2})"; }, 10s);
  CAF_CHECK(ev.has_value());
}

CAF_TEST(a namespace unpublished and published again is seen both ways) {
  member m{cluster};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  SLACKER_REQUIRE(
      log->next<namespace_up>(
          [&](auto& x) { return x.ns == "test.api" && x.addr == m.addr; }, 10s),
      "no namespace_up");
  m.command("unpublish test.api");
  CAF_CHECK(log->next<namespace_down>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == m.addr; }, 10s));
  m.command("publish test.api");
  CAF_CHECK(log->next<namespace_up>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == m.addr; }, 10s));
}

CAF_TEST(killing the leader elects the next candidate) {
  std::map<std::string, std::unique_ptr<member>> members;
  for (int i = 0; i < 3; ++i) {
    auto m = std::make_unique<member>(cluster);
    auto addr = m->addr;
    members.emplace(addr, std::move(m));
  }
  for (auto& kvp : members)
    SLACKER_REQUIRE(
        log->next<namespace_up>(
            [&](auto& x) { return x.ns == "test.api" && x.addr == kvp.first; }, 15s),
        "no namespace_up for " << kvp.first);
  auto elected = wait_leader("test.api", [](auto& a) { return !a.empty(); });
  SLACKER_REQUIRE(elected, "no leader");
  auto leader = *elected;
  SLACKER_REQUIRE(members.count(leader) == 1, "the leader " << leader << " is no member");
  auto start = std::chrono::steady_clock::now();
  members[leader]->proc.kill();
  auto next = wait_leader("test.api", [&](auto& a) { return !a.empty() && a != leader; });
  SLACKER_REQUIRE(next, "no new leader");
  CAF_CHECK(members.count(*next) == 1);
  CAF_CHECK(std::chrono::steady_clock::now() - start <
            2s + 2s); // session timeout + margin
  // The new leader also wrote _leader.
  auto path = "/slacker/cluster/" + cluster + "/namespaces/test.api/_leader";
  for (int i = 0; i < 100 && read_node(path) != next; ++i)
    std::this_thread::sleep_for(20ms);
  CAF_CHECK_EQUAL(read_node(path).value_or("missing"), *next);
}

CAF_TEST(a killed server is reported down within the session timeout plus one second) {
  member m{cluster};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  auto start = std::chrono::steady_clock::now();
  m.proc.kill();
  auto down = log->next<member_down>([&](auto& x) { return x.addr == m.addr; }, 10s);
  auto took = std::chrono::steady_clock::now() - start;
  SLACKER_REQUIRE(down, "no member_down");
  CAF_CHECK(took < 2s + 1s);
}

CAF_TEST(
    an idle server stopped gracefully is seen leaving then down without a connection) {
  // The fixture's registry has no connection to the server: it learns of the
  // leaving from ZooKeeper alone (leaving/ADDR), which the server must keep
  // long enough to be read although no call holds its drain.
  member m{cluster};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  m.proc.signal(SIGTERM);
  auto is_it = [&](auto& x) {
    return x.addr == m.addr;
  };
  CAF_CHECK(log->next<member_leaving>(is_it, 5s));
  CAF_CHECK(log->next<member_down>(is_it, 5s));
  CAF_CHECK(m.proc.wait_for("stopped", 5000));
}

CAF_TEST(a server whose session expired registers again) {
  member m{cluster};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  // Freeze it longer than its session timeout: ZooKeeper expires the session
  // and drops its nodes (member_down); thawed, it registers again.
  m.proc.signal(SIGSTOP);
  auto down = log->next<member_down>([&](auto& x) { return x.addr == m.addr; }, 10s);
  m.proc.signal(SIGCONT);
  SLACKER_REQUIRE(down, "the frozen server's session did not expire");
  CAF_CHECK(wait_member_up(m.addr, 15s));
  CAF_CHECK(log->next<namespace_up>([&](auto& x) { return x.addr == m.addr; }, 15s));
}

CAF_TEST(a quickly restarted server replaces the node of its old session) {
  auto first = std::make_unique<member>(cluster, R"({"run":1})");
  SLACKER_REQUIRE(wait_member_up(first->addr), "no member_up");
  auto addr = first->addr;
  auto port = static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
  first->proc.kill(); // its ephemeral nodes stay until its session expires
  member second{cluster, R"({"run":2})", 2000, port};
  CAF_CHECK(log->next<server_data_changed>(
      [&](auto& x) { return x.addr == addr && x.data == R"({"run":2})"; }, 10s));
  // The old session's expiry (2 s) must not take the new registration away.
  auto down = log->next<member_down>([&](auto& x) { return x.addr == addr; }, 4s);
  CAF_CHECK(!down.has_value());
  CAF_CHECK_EQUAL(
      read_node("/slacker/cluster/" + cluster + "/servers/" + addr).value_or("missing"),
      R"({"run":2})");
}

CAF_TEST(after a ZooKeeper restart the views recover) {
  member m{cluster, "{}", 15000};
  SLACKER_REQUIRE(wait_member_up(m.addr), "no member_up");
  auto before = log->mark();
  auto rc = std::system(("'" + std::string{SLACKER_SOURCE_DIR} +
                         "/scripts/zookeeper' restart '" + zk_dir() + "' > /dev/null")
                            .c_str());
  SLACKER_REQUIRE(rc == 0, "restarting ZooKeeper failed");
  CAF_CHECK(log->next<registry_state>(
      [](auto& x) { return x.status == registry_status::suspended; }, 20s, before));
  CAF_CHECK(log->next<registry_state>(
      [](auto& x) { return x.status == registry_status::connected; }, 30s, before));
  // Watches work again: a change after the restart is seen.
  m.command(R"(data {"after":"restart"})");
  CAF_CHECK(log->next<server_data_changed>(
      [&](auto& x) { return x.addr == m.addr && x.data == R"({"after":"restart"})"; },
      20s));
  auto view = reg->view();
  SLACKER_REQUIRE(view, "no view");
  CAF_CHECK_EQUAL(view->servers.count(m.addr), 1u);
}

CAF_TEST(digest authentication makes nodes writable by their owner only) {
  auto connected = [](zk::session& z) { // the session connects in the background
    zk::status st;
    for (int i = 0; i < 100; ++i) {
      st = z.exists("/", false);
      if (st.code != zk::rc::connection_loss)
        break;
      std::this_thread::sleep_for(50ms);
    }
    return static_cast<bool>(st);
  };
  auto owner = zk::session::open(
      zk_address(), 5s, [](const zk::event&) {}, zk::auth_options{"slacker:secret", ""});
  auto other = zk::session::open(zk_address(), 5s, [](const zk::event&) {});
  SLACKER_REQUIRE(owner && other, "cannot open sessions");
  SLACKER_REQUIRE(connected(**owner) && connected(**other), "sessions did not connect");
  auto path = "/slacker-auth-test/" + cluster;
  SLACKER_REQUIRE((*owner)->create(path, "mine", zk::node_kind::persistent, true),
                  "create failed");
  std::string data;
  CAF_CHECK((*other)->get(path, false, data)); // readable by anyone
  CAF_CHECK_EQUAL(data, "mine");
  auto denied = (*other)->set(path, "theirs");
  CAF_CHECK(!denied);
  CAF_CHECK((*owner)->set(path, "still mine"));
  CAF_CHECK((*owner)->remove(path));
}

CAF_TEST(an unreachable ZooKeeper neither crashes nor blocks the registry) {
  zk_options opts;
  opts.zk = "127.0.0.1:1";
  opts.cluster = cluster;
  opts.connect_timeout = 200ms;
  slacker::registry nowhere{sys, opts};
  auto view = nowhere.view();
  SLACKER_REQUIRE(view, describe(view.error()));
  CAF_CHECK(view->state.status == registry_status::connecting);
  CAF_CHECK(view->servers.empty());
}

CAF_TEST(a registry whose zookeeper stops answering keeps view and wait until in time) {
  // The proxy passes ZooKeeper's first answer on each connection (the
  // session) and nothing after: the registry connects, and its first read
  // of the tree waits unanswered, until the client's receive timeout (two
  // thirds of the 6 s session), with its actor inside that call.
  slacker_test::tcp_proxy proxy{slacker_test::port_of(zk_address())};
  proxy.answer_once();
  zk_options opts;
  opts.zk = proxy.address();
  opts.cluster = cluster;
  opts.session_timeout = 6000ms;
  slacker::registry stalled{sys, opts};
  // It answers at once while it connects; then its actor is in the read.
  auto until = std::chrono::steady_clock::now() + 5s;
  caf::expected<membership_view> v{caf::no_error};
  do
    v = stalled.view(100ms);
  while (v && std::chrono::steady_clock::now() < until);
  SLACKER_REQUIRE(!v && v.error() == caf::sec::request_timeout,
                  "the registry never got inside a read");
  auto t0 = std::chrono::steady_clock::now();
  auto w = stalled.wait_until(
      [](const membership_view& x) {
        return x.state.status == registry_status::connected;
      },
      300ms);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_MESSAGE("wait_until(300 ms) returned after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms: " << (w ? std::string{"a view"} : describe(w.error())));
  SLACKER_REQUIRE(!w, "a view while ZooKeeper does not answer");
  CAF_CHECK_EQUAL(code_of(w.error()), sc::timeout);
  CAF_CHECK_LESS(took, 1s);
}

CAF_TEST(
    a join costs each client the same few ZooKeeper requests whatever the cluster size) {
  std::vector<std::unique_ptr<member>> ms;
  int marks = 0;
  // The client's requests once it has read everything before a marker: a
  // server-data change, whose event ZooKeeper delivers after every earlier
  // change (watch events come in order), and which costs two reads itself
  // (the servers folder's data naming the server, then its node).
  auto settled = [&](member& m) {
    auto data = "{\"mark\":" + std::to_string(++marks) + "}";
    m.command("data " + data);
    SLACKER_REQUIRE(log->next<server_data_changed>(
                        [&](auto& x) { return x.addr == m.addr && x.data == data; }, 15s),
                    "no marker from " << m.addr);
    auto n = reg->zk_requests();
    SLACKER_REQUIRE(n, describe(n.error()));
    return n->reads + n->writes;
  };
  auto join_cost = [&] {
    auto before = settled(*ms.back());
    ms.push_back(std::make_unique<member>(cluster));
    wait_up(*log, {ms.back().get()});
    return settled(*ms.back()) - before - 4; // the two markers' reads
  };
  auto up = [&](size_t n) {
    std::vector<member*> added;
    for (size_t i = 0; i < n; ++i) {
      ms.push_back(std::make_unique<member>(cluster));
      added.push_back(ms.back().get());
    }
    wait_up(*log, added);
  };
  // Two joins at each size, the cheaper counted: a connection blip on a
  // loaded machine re-reads everything once, and watch events that fire
  // close together can merge into one read; neither depends on the size.
  auto cheaper = [&] {
    auto a = join_cost();
    auto b = join_cost();
    return std::min(a, b);
  };
  up(2);
  auto small = cheaper(); // at 3 and 4 servers
  up(4);
  auto large = cheaper(); // at 9 and 10 servers
  CAF_MESSAGE("ZooKeeper requests of one client per join: "
              << small << " at 3-4 servers, " << large << " at 9-10");
  // Reading the whole view would cost at least one more read per server.
  CAF_CHECK_LESS_OR_EQUAL(large, small + 2);
  CAF_CHECK_LESS_OR_EQUAL(large, 12u);
}

CAF_TEST(registration writes nothing when the function metadata is unchanged) {
  auto counts = [](member& m) {
    m.proc.write_line("zk-requests");
    auto line = m.proc.wait_for("", 10000);
    SLACKER_REQUIRE(line && *line != "failed", "no counts from " << m.addr);
    auto space = line->find(' ');
    return std::make_pair(std::stoull(line->substr(0, space)),
                          std::stoull(line->substr(space + 1)));
  };
  // A registrar answers once it has registered (it handles one message at a
  // time): the first's metadata is written before the second starts.
  member first{cluster};
  auto [reads1, writes1] = counts(first);
  member second{cluster};
  auto [reads2, writes2] = counts(second);
  // The second owns: its server node, and per namespace (test.api,
  // test.admin, test.reflect) a namespace node and an election candidate.
  size_t owned = 1 + 2 * 3;
  CAF_MESSAGE("registration: first "
              << reads1 << " reads, " << writes1 << " writes; second " << reads2
              << " reads, " << writes2 << " writes (owns " << owned << " nodes)");
  CAF_CHECK_EQUAL(writes2, owned);     // metadata and parents: already there
  CAF_CHECK_GREATER(writes1, writes2); // the first wrote the metadata
}

CAF_TEST(servers that start together pay what one joining alone pays) {
  // Eight test servers of a new cluster, all started before any is waited
  // for: they race to create the cluster's folders and function nodes.
  constexpr size_t n = 8;
  std::vector<std::unique_ptr<slacker_test::process>> procs;
  for (size_t i = 0; i < n; ++i)
    procs.push_back(std::make_unique<slacker_test::process>(
        member::args(cluster, "{}", 2000, 0, false, {})));
  // Each owns its server node and, per namespace (test.api, test.admin,
  // test.reflect), a namespace node and an election candidate: 7 writes.
  // A namespace's leader writes the leader node (3 in all). Everything else
  // is shared: made in one transaction by whoever is first; one that loses
  // the race pays a failed transaction and reads again.
  const uint64_t owned = 1 + 2 * 3;
  const uint64_t leaders = 3;
  uint64_t total = 0;
  uint64_t most = 0;
  for (auto& p : procs) {
    SLACKER_REQUIRE(p->wait_for("port ", 15000), "test-server did not start");
    p->write_line("zk-requests");
    auto line = p->wait_for("", 15000);
    SLACKER_REQUIRE(line && *line != "failed", "a server did not register");
    uint64_t writes = std::stoull(line->substr(line->find(' ') + 1));
    total += writes;
    most = std::max(most, writes);
  }
  CAF_MESSAGE(n << " servers started together: " << total << " writes, at most " << most
                << " by one (" << owned << " of its own)");
  // Before: each lost create of a shared node cost a failed create and a
  // set, 28-46 writes per server against 8 for one alone.
  CAF_CHECK_LESS_OR_EQUAL(most, owned + leaders + 2);
  // (+2: a connection lost and found again re-claims a node.)
  CAF_CHECK_LESS_OR_EQUAL(total, n * (owned + 1) + leaders + 2);
}

CAF_TEST(a server node deleted by another client is back within a second) {
  member m{cluster};
  wait_up(*log, {&m});
  auto base = "/slacker/cluster/" + cluster;
  // Healed so fast that subscribers may never see it missing: what counts is
  // that the node is there again, soon after it was deleted.
  auto back_after = [&](const std::string& path) {
    auto start = std::chrono::steady_clock::now();
    SLACKER_REQUIRE(delete_node(path), "could not delete " << path);
    for (int i = 0; i < 100 && !read_node(path); ++i) // bounded: 5 s and more
      std::this_thread::sleep_for(50ms);
    CAF_CHECK(read_node(path));
    return std::chrono::steady_clock::now() - start;
  };
  auto server = back_after(base + "/servers/" + m.addr);
  auto entry = back_after(base + "/namespaces/test.api/" + m.addr);
  CAF_MESSAGE("server node back after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(server).count()
              << " ms, namespace entry after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(entry).count()
              << " ms");
  CAF_CHECK_LESS(server, 1s);
  CAF_CHECK_LESS(entry, 1s);
}

CAF_TEST(a deleted election candidate runs again and its leader steps down) {
  member a{cluster};
  wait_up(*log, {&a});
  SLACKER_REQUIRE(wait_leader("test.api", [&](auto& x) { return x == a.addr; }),
                  "a never led");
  member b{cluster};
  wait_up(*log, {&b});
  auto dir = "/slacker/cluster/" + cluster + "/namespaces/test.api/_election";
  auto mine = candidate_of(dir, a.addr);
  SLACKER_REQUIRE(!mine.empty(), "no candidate of " << a.addr);
  // Healing its server node is no new election: the candidate stays.
  auto server = "/slacker/cluster/" + cluster + "/servers/" + a.addr;
  SLACKER_REQUIRE(delete_node(server), "could not delete " << server);
  for (int i = 0; i < 100 && !read_node(server); ++i) // bounded: 5 s
    std::this_thread::sleep_for(50ms);
  CAF_CHECK(read_node(server));
  CAF_CHECK_EQUAL(candidate_of(dir, a.addr), mine);
  // Its candidate deleted: the next one leads, and it runs again behind.
  auto start = std::chrono::steady_clock::now();
  SLACKER_REQUIRE(delete_node(dir + "/" + mine), "could not delete the candidate");
  auto next = wait_leader(
      "test.api", [&](auto& x) { return x == b.addr; }, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  std::string again;
  for (int i = 0; i < 100 && (again.empty() || again == mine); ++i) { // bounded: 5 s
    again = candidate_of(dir, a.addr);
    if (again.empty() || again == mine)
      std::this_thread::sleep_for(50ms);
  }
  CAF_MESSAGE("the next candidate led "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms after the deletion; the old leader runs again as " << again);
  CAF_CHECK(next);
  CAF_CHECK_LESS(took, 1s);
  CAF_CHECK(!again.empty() && again != mine);
  a.proc.write_line("leading"); // what it leads now, by its own account
  auto led = a.proc.wait_for("leading", 10000);
  CAF_CHECK(led && led->find("test.api=") == std::string::npos);
}

CAF_TEST(a ZooKeeper restarted with empty data gets every server back) {
  member a{cluster}; // sessions of 2 s
  member b{cluster};
  wait_up(*log, {&a, &b});
  // The fencing token of whoever leads test.api, {incarnation, sequence}
  // (test_server's `leading NS=INCARNATION:SEQUENCE`), once one does.
  using token = std::pair<int64_t, uint64_t>;
  auto leader_token = [&]() -> std::optional<token> {
    for (int i = 0; i < 200; ++i) { // bounded: 10 s and more
      for (auto* m : {&a, &b}) {
        m->proc.write_line("leading");
        auto line = m->proc.wait_for("leading", 10000);
        auto at = line ? line->find("test.api=") : std::string::npos;
        if (at == std::string::npos)
          continue;
        auto text = line->substr(at + 9);
        text = text.substr(0, text.find(' '));
        auto colon = text.find(':');
        return token{std::stoll(text.substr(0, colon)),
                     std::stoull(text.substr(colon + 1))};
      }
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  };
  auto before = leader_token();
  SLACKER_REQUIRE(before, "nobody led test.api");
  std::string port;
  std::ifstream{zk_dir() + "/port"} >> port;
  auto script = std::string{SLACKER_SOURCE_DIR} + "/scripts/zookeeper";
  SLACKER_REQUIRE(slacker_test::run({script, "stop", zk_dir()}).exit_code == 0,
                  "no stop");
  std::filesystem::remove_all(zk_dir() + "/data"); // a new ensemble at the same address
  SLACKER_REQUIRE(slacker_test::run({script, "start", zk_dir(), port}).exit_code == 0,
                  "ZooKeeper did not start again");
  auto serving = std::chrono::steady_clock::now();
  auto base = "/slacker/cluster/" + cluster + "/servers/";
  for (int i = 0; i < 200 && !(read_node(base + a.addr) && read_node(base + b.addr)); ++i)
    std::this_thread::sleep_for(50ms); // bounded: 10 s and more
  auto took = std::chrono::steady_clock::now() - serving;
  CAF_MESSAGE("both servers registered again "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms after the empty ZooKeeper served");
  CAF_CHECK(read_node(base + a.addr) && read_node(base + b.addr));
  CAF_CHECK_LESS(took, 4s); // session timeout (2 s) + 2 s
  // The election started again from sequence 0, in a new incarnation: the
  // new leader's token is larger all the same.
  auto after = leader_token();
  SLACKER_REQUIRE(after, "nobody led test.api after the restart");
  CAF_MESSAGE("fencing token before the wipe " << before->first << ":" << before->second
                                               << ", after " << after->first << ":"
                                               << after->second);
  CAF_CHECK(*before < *after);
}

CAF_TEST_FIXTURE_SCOPE_END()
