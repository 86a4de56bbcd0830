#define CAF_SUITE cluster
#include <caf/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/client.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/cluster_fixture.hpp"
#include "tests/event_log.hpp"
#include "tests/require.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::event_log;
using slacker_test::member;
using slacker_test::zk_address;

namespace {

struct fixture : slacker_test::cluster_fixture {
  fixture() : cluster_fixture("cluster") {}

  /// Starts a server (with the extra arguments `extra`) and waits until this
  /// client can route to it.
  member& start(const std::string& data = "{}",
                const std::vector<std::string>& extra = {}) {
    members.push_back(std::make_unique<member>(cluster, data, 2000, 0, false, extra));
    wait_routable(*members.back());
    return *members.back();
  }

  /// A cluster client of this cluster in an actor system of its own,
  /// configured with `settings` (key, value).
  struct separate_client {
    slacker::config cfg;
    std::unique_ptr<caf::actor_system> sys;
    std::unique_ptr<cluster_client> client;

    separate_client(const std::string& cluster,
                    const std::vector<std::pair<std::string, std::string>>& settings) {
      for (auto& [key, value] : settings)
        cfg.set(key, value);
      sys = std::make_unique<caf::actor_system>(cfg);
      zk_options zk;
      zk.zk = zk_address();
      zk.cluster = cluster;
      client = std::make_unique<cluster_client>(*sys, zk);
    }
  };

  std::set<std::string> addrs() const {
    std::set<std::string> result;
    for (auto& m : members)
      result.insert(m->addr);
    return result;
  }

  /// `fn(args...)` under `opts`, requested from an actor (`request`) as `R`.
  template <class R, class... Ts>
  caf::expected<R> from_actor(const cluster_options& opts, const std::string& fn,
                              const Ts&... args) {
    auto call = client->prepare(opts, cluster_options{}, fn, args...);
    if (!call)
      return std::move(call.error());
    auto out = std::make_shared<std::promise<caf::expected<R>>>();
    sys.spawn([this, out, c = std::move(*call)](caf::event_based_actor* self) mutable {
      client->request<R>(self, std::move(c),
                         [out](caf::expected<R> r) { out->set_value(std::move(r)); });
    });
    auto res = out->get_future();
    SLACKER_REQUIRE(res.wait_for(10s) == std::future_status::ready,
                    "the actor's call of " << fn << " was not answered");
    return res.get();
  }
};

cluster_options with_grouping(grouping_policy g) {
  cluster_options opts;
  opts.grouping = std::move(g);
  return opts;
}

/// Calls `test.api/echo` until `c` chooses the servers of `test.api` itself:
/// its dispatcher publishes a namespace's routes after its first call, in
/// its own time (at most 2 s here). The last call's outcome.
caf::expected<std::string> until_routes(cluster_client& c) {
  auto warm = c.call<std::string>("test.api/echo", "warm"); // teaches it the namespace
  for (int i = 0; i < 200 && !c.chooses_servers("test.api"); ++i) {
    std::this_thread::sleep_for(10ms); // the routes follow
    warm = c.call<std::string>("test.api/echo", "warm");
  }
  return warm;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_tests, fixture)

CAF_TEST(all with map has one entry per server keyed host port) {
  for (int i = 0; i < 3; ++i)
    start();
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  auto res = client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
  SLACKER_REQUIRE(res, describe(res.error()));
  std::set<std::string> keys;
  for (auto& kvp : *res) {
    keys.insert(kvp.first);
    CAF_CHECK_EQUAL(kvp.first, kvp.second); // each server answered for itself
  }
  CAF_CHECK(keys == addrs());
  opts.results = results_kind::vector;
  auto each = client->call<std::vector<std::string>>(opts, "test.api/whoami");
  SLACKER_REQUIRE(each, describe(each.error()));
  CAF_CHECK_EQUAL(each->size(), 3u);
}

CAF_TEST(random spreads calls over every server) {
  for (int i = 0; i < 3; ++i)
    start();
  std::map<std::string, int> seen;
  for (int i = 0; i < 90; ++i) {
    auto who = client->call<std::string>("test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    ++seen[*who];
  }
  CAF_CHECK_EQUAL(seen.size(), 3u);
}

CAF_TEST(least in flight avoids the server that is busy) {
  auto& busy = start();
  start();
  start();
  // One slow call pinned to `busy` by a user grouping, then a second request
  // from the same sender: its answer proves the dispatcher has the slow call
  // in flight (one sender's messages arrive in order).
  auto pin = with_grouping(grouping_fn{[&](const grouping_call&) -> grouping_choice {
    return busy.addr;
  }});
  auto slow_call =
      client->prepare(pin, cluster_options{}, "test.api/slow", int64_t{1500});
  SLACKER_REQUIRE(slow_call, describe(slow_call.error()));
  caf::scoped_actor self{sys};
  auto slow = self->request(client->dispatcher(), caf::infinite, std::move(*slow_call));
  self->request(client->dispatcher(), 5s, server_data_atom::value, busy.addr)
      .receive([](std::string&) {}, [](caf::error& err) { CAF_FAIL(describe(err)); });
  auto lif = with_grouping(grouping_kind::least_in_flight);
  for (int i = 0; i < 20; ++i) {
    auto who = client->call<std::string>(lif, "test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    CAF_CHECK_NOT_EQUAL(*who, busy.addr);
  }
  slow.receive(
      [&](cluster_reply& rep) {
        CAF_CHECK(rep.addrs == std::vector<std::string>{busy.addr});
      },
      [](caf::error& err) { CAF_FAIL(describe(err)); });
}

namespace {

/// A grouping that takes the first candidate and counts what it hears.
class outcome_counter final : public grouping::policy {
public:
  static inline int ok = 0;
  static inline int failed = 0;
  static inline std::set<std::string> servers;

  addresses select(const grouping_call& call) override {
    return grouping::first(call.view);
  }
  void feedback(const call_feedback& fb) override {
    (fb.ok ? ok : failed)++;
    servers.insert(fb.addr);
    CAF_CHECK_EQUAL(fb.ns, "test.api");
  }
  bool wants_feedback() const override {
    return true;
  }
};

} // namespace

CAF_TEST(a registered grouping selects by name and hears the outcome of each call) {
  auto& a = start();
  auto& b = start();
  grouping::add("test-outcomes", [] { return std::make_unique<outcome_counter>(); });
  auto opts = with_grouping(grouping_name{"test-outcomes"});
  auto first = std::min(a.addr, b.addr);
  for (int i = 0; i < 10; ++i) {
    auto who = client->call<std::string>(opts, "test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    CAF_CHECK_EQUAL(*who, first);
  }
  auto failing = client->call<int32_t>(opts, "test.api/fail", std::string{"no"});
  CAF_CHECK(!failing);
  // The brokers tell the dispatcher before they answer: once it answers a
  // later request, it has heard every outcome.
  caf::scoped_actor self{sys};
  self->request(client->dispatcher(), 5s, view_atom::value)
      .receive([](membership_view&) {}, [](caf::error& err) { CAF_FAIL(describe(err)); });
  CAF_CHECK_EQUAL(outcome_counter::ok, 10);
  CAF_CHECK_EQUAL(outcome_counter::failed, 1);
  CAF_CHECK(outcome_counter::servers == std::set<std::string>{first});
  auto unknown = client->call<std::string>(with_grouping(grouping_name{"nobody-knows"}),
                                           "test.api/whoami");
  CAF_REQUIRE(!unknown);
  CAF_CHECK(code_of(unknown.error()) == sc::invalid_request);
}

CAF_TEST(slacker.grouping is the default grouping of the cluster clients of a process) {
  auto& a = start();
  auto& b = start();
  slacker::config other_cfg;
  other_cfg.set("slacker.grouping", "first");
  caf::actor_system other{other_cfg};
  {
    cluster_client c{other, cluster, zk_address()};
    // random would pick both servers in ten calls but for 2 in 1024 runs
    for (int i = 0; i < 10; ++i) {
      auto who = c.call<std::string>("test.api/whoami");
      SLACKER_REQUIRE(who, describe(who.error()));
      CAF_CHECK_EQUAL(*who, std::min(a.addr, b.addr));
    }
  }
}

CAF_TEST(weighted never picks a server of weight zero) {
  auto& zero = start(R"({"weight":0})");
  auto& one = start(R"({"weight":1})");
  auto opts = with_grouping(grouping_kind::weighted);
  for (int i = 0; i < 40; ++i) {
    auto who = client->call<std::string>(opts, "test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    CAF_CHECK_EQUAL(*who, one.addr);
  }
  auto data = client->server_data(zero.addr);
  SLACKER_REQUIRE(data, describe(data.error()));
  CAF_CHECK_EQUAL(*data, R"({"weight":0})");
}

CAF_TEST(leader goes to the elected leader and follows a change) {
  for (int i = 0; i < 3; ++i)
    start();
  auto elected = log->next<leader_changed>(
      [](auto& x) { return x.ns == "test.api" && !x.addr.empty(); }, 15s);
  SLACKER_REQUIRE(elected, "no leader");
  auto opts = with_grouping(grouping_kind::leader);
  for (int i = 0; i < 5; ++i) {
    auto who = client->call<std::string>(opts, "test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    CAF_CHECK_EQUAL(*who, elected->addr);
  }
  for (auto& m : members)
    if (m->addr == elected->addr)
      m->proc.kill();
  auto next = log->next<leader_changed>(
      [&](auto& x) {
        return x.ns == "test.api" && !x.addr.empty() && x.addr != elected->addr;
      },
      15s);
  SLACKER_REQUIRE(next, "no new leader");
  auto who = client->call<std::string>(opts, "test.api/whoami");
  SLACKER_REQUIRE(who, describe(who.error()));
  CAF_CHECK_EQUAL(*who, next->addr);
}

CAF_TEST(a server killed under load fails only its in flight calls) {
  for (int i = 0; i < 3; ++i)
    start();
  using clock = std::chrono::steady_clock;
  struct outcome {
    clock::time_point start;
    clock::duration took;
    sc code;
  };
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<outcome> outcomes;
  std::atomic<clock::time_point> killed_at{clock::time_point::max()};
  cluster_options opts;
  opts.timeout = 2000ms;
  auto worker = [&] {
    for (int i = 0; i < 40; ++i) {
      auto t0 = clock::now();
      auto r = client->call<int64_t>(opts, "test.api/slow", int64_t{20});
      auto took = clock::now() - t0;
      std::lock_guard<std::mutex> guard{mtx};
      outcomes.push_back({t0, took, r ? sc::none : code_of(r.error())});
      cv.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i)
    workers.emplace_back(worker);
  {
    // Kill one server once the loop is well under way.
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [&] { return outcomes.size() >= 40; });
  }
  killed_at = clock::now();
  members[1]->proc.kill();
  for (auto& w : workers)
    w.join();
  size_t failures = 0;
  for (auto& o : outcomes) {
    CAF_CHECK(o.took < 2000ms + 1s); // nothing hangs past its timeout
    if (o.code != sc::none) {
      ++failures;
      CAF_CHECK_EQUAL(o.code, sc::outcome_unknown); // in flight: it may have run
      CAF_CHECK(o.start + o.took >= killed_at.load());
    }
    // Once the death is known (well within 500 ms), calls avoid the server.
    if (o.start > killed_at.load() + 500ms)
      CAF_CHECK_EQUAL(o.code, sc::none);
  }
  CAF_CHECK_EQUAL(outcomes.size(), 160u);
  CAF_CHECK(failures <= 8u); // at most the calls in flight on it, per worker
}

CAF_TEST(a server going away leaves routing at once without ZooKeeper and loses no call) {
  auto& leaving = start();
  auto& staying = start();
  // Connections to both, so that the going-away reaches this client.
  std::set<std::string> seen;
  for (int i = 0; i < 200 && seen.size() < 2; ++i) {
    auto who = client->call<std::string>("test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    seen.insert(*who);
  }
  CAF_REQUIRE_EQUAL(seen.size(), 2u);
  // A direct connection made before the drain.
  slacker::client held{sys, leaving.addr};
  caf::scoped_actor self{sys};
  auto note = [&] {
    caf::expected<call_reply> out{caf::error{}};
    self->request(held.actor(), 5s,
                  *make_call(call_options{}, "test.api/note", std::string{"x"}))
        .receive([&](call_reply& rep) { out = std::move(rep); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  };
  SLACKER_REQUIRE(note(), "no note before the drain");
  // Still registered in ZooKeeper: only the wire says it is going away.
  leaving.command("going-away");
  // What still arrives on that connection is answered `draining`, not run.
  auto drained = note();
  CAF_REQUIRE(!drained);
  CAF_CHECK_EQUAL(code_of(drained.error()), sc::draining);
  int failures = 0;
  int on_staying_in_a_row = 0;
  auto until = std::chrono::steady_clock::now() + 2s;
  while (on_staying_in_a_row < 50 && std::chrono::steady_clock::now() < until) {
    auto who = client->call<std::string>("test.api/whoami");
    if (!who) {
      CAF_MESSAGE("failed: " << describe(who.error()));
      ++failures;
      continue;
    }
    on_staying_in_a_row = *who == staying.addr ? on_staying_in_a_row + 1 : 0;
  }
  CAF_CHECK_EQUAL(failures, 0);
  CAF_CHECK_EQUAL(on_staying_in_a_row, 50);
  // It accepts no new connection.
  slacker::client direct{sys, leaving.addr};
  auto refused = direct.call<std::string>("test.api/whoami");
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(code_of(refused.error()), sc::connection_broken);
}

CAF_TEST(a server that joins is used within two seconds) {
  start();
  auto before = client->call<std::string>("test.api/whoami");
  SLACKER_REQUIRE(before, describe(before.error()));
  members.push_back(std::make_unique<member>(cluster));
  auto& fresh = *members.back();
  auto start_time = std::chrono::steady_clock::now();
  SLACKER_REQUIRE(
      log->next<namespace_up>(
          [&](auto& x) { return x.ns == "test.api" && x.addr == fresh.addr; }, 15s),
      "no namespace_up");
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  // Callers route on what the dispatcher published: it may publish the
  // server a moment after this test heard of it.
  caf::expected<std::map<std::string, std::string>> res{caf::error{}};
  do {
    res = client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
    SLACKER_REQUIRE(res, describe(res.error()));
  } while (res->count(fresh.addr) == 0 &&
           std::chrono::steady_clock::now() - start_time < 2s);
  CAF_CHECK_EQUAL(res->count(fresh.addr), 1u);
  CAF_CHECK(std::chrono::steady_clock::now() - start_time < 2s);
}

CAF_TEST(unavailable value or a clear unavailable error) {
  start();
  cluster_options opts;
  opts.unavailable = fallback(int64_t{-1});
  auto value = client->call<int64_t>(opts, "no.such.ns/fn");
  SLACKER_REQUIRE(value, describe(value.error()));
  CAF_CHECK_EQUAL(*value, -1);
  auto err = client->call<int64_t>("no.such.ns/fn");
  SLACKER_REQUIRE(!err, "a call without servers succeeded");
  CAF_CHECK_EQUAL(code_of(err.error()), sc::unavailable);
  CAF_CHECK_EQUAL(describe(err.error()),
                  "unavailable: no server provides no.such.ns/fn in cluster " + cluster);
}

CAF_TEST(remote functions and per call options resolve in order) {
  start();
  start();
  cluster_options client_default;
  client_default.grouping = grouping_kind::first;
  zk_options zk;
  zk.zk = zk_address();
  zk.cluster = cluster;
  cluster_client first_client{sys, zk, client_default};
  cluster_options all_vector;
  all_vector.grouping = grouping_kind::all;
  all_vector.results = results_kind::vector;
  remote_fn<std::vector<std::string>()> everyone{first_client, "test.api/whoami",
                                                 all_vector};
  auto many = everyone();
  SLACKER_REQUIRE(many, describe(many.error()));
  CAF_CHECK_EQUAL(many->size(), 2u);
  // Per call wins over the function's options.
  cluster_options single;
  single.grouping = grouping_kind::first;
  single.results = results_kind::vector;
  auto one = everyone.with(single);
  SLACKER_REQUIRE(one, describe(one.error()));
  CAF_CHECK_EQUAL(one->size(), 1u);
  // The client's default (first) applies when nothing else is set.
  remote_fn<std::string()> whoami{first_client, "test.api/whoami"};
  auto a = whoami();
  auto b = whoami();
  SLACKER_REQUIRE(a && b, "whoami failed");
  CAF_CHECK_EQUAL(*a, *b);
  CAF_CHECK_EQUAL(*a, *addrs().begin());
}

CAF_TEST(exceptions all keeps successes and any fails on one failure) {
  start();
  start();
  // fail throws on every server: all fails, naming both causes.
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::vector;
  auto both = client->call<std::vector<int32_t>>(opts, "test.api/fail", "boom");
  SLACKER_REQUIRE(!both, "fail succeeded");
  CAF_CHECK_EQUAL(code_of(both.error()), sc::exception);
  auto text = describe(both.error());
  CAF_CHECK(text.find("test.api/fail failed on 2 of 2 server(s)") != std::string::npos);
  for (auto& addr : addrs())
    CAF_CHECK(text.find(addr) != std::string::npos);
  // A user grouping sends one copy to a server and one to an unknown address:
  // the unknown one is dropped, the call succeeds.
  auto one_known =
      with_grouping(grouping_fn{[&](const grouping_call& c) -> grouping_choice {
        return addresses{c.view.servers.front().addr, "10.255.255.1:1"};
      }});
  auto res = client->call<std::string>(one_known, "test.api/echo", "x");
  CAF_CHECK(res && *res == "x");
}

CAF_TEST(a partial map or vector names the servers missing from it and why) {
  start();
  start();
  auto& frozen = start();
  frozen.proc.signal(SIGSTOP); // answers nothing: a timeout there
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  opts.timeout = 500ms;
  auto m =
      client->call<partial<std::map<std::string, std::string>>>(opts, "test.api/whoami");
  // A quorum of 2 of 3 decides at its second success: the third is missing.
  opts.results = results_kind::vector;
  opts.exceptions = quorum{2};
  auto v = client->call<partial<std::vector<std::string>>>(opts, "test.api/whoami");
  frozen.proc.signal(SIGCONT);
  SLACKER_REQUIRE(m, describe(m.error()));
  CAF_CHECK_EQUAL(m->value.size(), 2u);
  CAF_CHECK_EQUAL(m->value.count(frozen.addr), 0u);
  SLACKER_REQUIRE(m->missing.size() == 1u, m->missing.size() << " missing");
  CAF_CHECK_EQUAL(m->missing[0].addr, frozen.addr);
  CAF_CHECK_EQUAL(code_of(m->missing[0].error), sc::timeout);
  SLACKER_REQUIRE(v, describe(v.error()));
  CAF_CHECK_EQUAL(v->value.size(), 2u);
  for (auto& x : v->value)
    CAF_CHECK_NOT_EQUAL(x, frozen.addr);
  SLACKER_REQUIRE(v->missing.size() == 1u, v->missing.size() << " missing");
  CAF_CHECK_EQUAL(v->missing[0].addr, frozen.addr);
  // Nothing missing: an empty part.
  opts.exceptions = exceptions_kind::all;
  opts.timeout = 5s;
  auto whole = client->call<partial<std::vector<std::string>>>(opts, "test.api/whoami");
  SLACKER_REQUIRE(whole, describe(whole.error()));
  CAF_CHECK_EQUAL(whole->value.size(), 3u);
  CAF_CHECK(whole->missing.empty());
}

CAF_TEST(
    a blocking fan out after its servers closed the idle connections connects again) {
  // A blocking fan-out checks the pooled connections it takes with one poll;
  // one the server closed is left for a new one, the call never written to
  // it (there it would fail unsent and go again: a round trip lost). The
  // caller sees every answer either way.
  for (int i = 0; i < 3; ++i)
    start("{}", {"--slacker.idle-timeout=1s"});
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  auto first = client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
  SLACKER_REQUIRE(first, describe(first.error()));
  CAF_CHECK_EQUAL(first->size(), 3u);
  caf::scoped_actor self{sys};
  self->receive(caf::after(1500ms) >> [] {}); // past the servers' 1 s idle limit
  for (int round = 0; round < 2; ++round) {   // new connections, then pooled ones
    auto again =
        client->call<std::map<std::string, std::string>>(opts, "test.api/whoami");
    SLACKER_REQUIRE(again, describe(again.error()));
    std::set<std::string> keys;
    for (auto& kvp : *again)
      keys.insert(kvp.first);
    CAF_CHECK(keys == addrs());
  }
}

CAF_TEST(an actor fan out is aggregated on the network thread with its missing servers) {
  // The first server's broker hands the others their parts and answers the
  // actor once: here with the frozen server's part missing, whether its
  // broker timed it out or gave its silent connection up first
  // (outcome_unknown: it may have run).
  start();
  start();
  auto& frozen = start();
  frozen.proc.signal(SIGSTOP);
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  opts.timeout = 500ms;
  using partial_map = partial<std::map<std::string, std::string>>;
  auto from_actor = std::make_shared<std::promise<caf::expected<partial_map>>>();
  auto prepared = client->prepare(opts, cluster_options{}, "test.api/whoami");
  SLACKER_REQUIRE(prepared, "prepare failed");
  sys.spawn([this, from_actor,
             call = std::move(*prepared)](caf::event_based_actor* self) mutable {
    client->request<partial_map>(self, std::move(call),
                                 [from_actor](caf::expected<partial_map> r) {
                                   from_actor->set_value(std::move(r));
                                 });
  });
  auto answered = from_actor->get_future();
  auto in_time = answered.wait_for(5s) == std::future_status::ready;
  frozen.proc.signal(SIGCONT);
  SLACKER_REQUIRE(in_time, "the actor's fan-out was not answered");
  auto a = answered.get();
  SLACKER_REQUIRE(a, describe(a.error()));
  CAF_CHECK_EQUAL(a->value.size(), 2u);
  for (auto& kvp : a->value)
    CAF_CHECK_EQUAL(kvp.first, kvp.second); // each server answered for itself
  CAF_CHECK_EQUAL(a->value.count(frozen.addr), 0u);
  SLACKER_REQUIRE(a->missing.size() == 1u, a->missing.size() << " missing");
  CAF_CHECK_EQUAL(a->missing[0].addr, frozen.addr);
  auto why = code_of(a->missing[0].error);
  CAF_CHECK(why == sc::timeout || why == sc::outcome_unknown);
}

CAF_TEST(async calls callbacks fire and forget and server data handlers) {
  auto& m = start();
  std::promise<caf::expected<std::string>> done;
  client->call_async<std::string>(
      cluster_options{}, "test.api/echo",
      [&](caf::expected<std::string> r) { done.set_value(r); }, "cb");
  auto r = done.get_future().get();
  CAF_CHECK(r && *r == "cb");
  CAF_CHECK(!client->send("test.api/echo", "dropped"));
  std::promise<std::pair<std::string, std::string>> changed;
  std::atomic<bool> once{false};
  client->on_server_data_change([&](const std::string& addr, const std::string& data) {
    if (!once.exchange(true))
      changed.set_value({addr, data});
  });
  m.command(R"(data {"weight":3})");
  auto fut = changed.get_future();
  SLACKER_REQUIRE(fut.wait_for(10s) == std::future_status::ready, "no change seen");
  auto got = fut.get();
  CAF_CHECK_EQUAL(got.first, m.addr);
  CAF_CHECK_EQUAL(got.second, R"({"weight":3})");
  auto data = client->server_data(m.addr);
  CAF_CHECK(data && *data == R"({"weight":3})");
}

CAF_TEST(typed messages to user actors go through the same policies) {
  start();
  start();
  start();
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  auto by_addr =
      client->ask<std::map<std::string, int32_t>>(opts, "test.reflect", int32_t{21});
  SLACKER_REQUIRE(by_addr, describe(by_addr.error()));
  std::set<std::string> keys;
  for (auto& kvp : *by_addr) {
    keys.insert(kvp.first);
    CAF_CHECK_EQUAL(kvp.second, 42);
  }
  CAF_CHECK(keys == addrs());
  opts.results = results_kind::vector;
  auto each = client->ask<std::vector<int32_t>>(opts, "test.reflect", int32_t{1});
  SLACKER_REQUIRE(each, describe(each.error()));
  CAF_CHECK(*each == (std::vector<int32_t>{2, 2, 2}));
  auto one = client->ask<int32_t>(cluster_options{}, "test.reflect", int32_t{5});
  SLACKER_REQUIRE(one, describe(one.error()));
  CAF_CHECK_EQUAL(*one, 10);
  auto none = client->ask<int32_t>(cluster_options{}, "no.such.actor", int32_t{5});
  CAF_CHECK_EQUAL(code_of(none.error()), sc::unavailable);
  // From an actor, without blocking: one typed result, on that actor.
  using by_server = std::map<std::string, int32_t>;
  opts.results = results_kind::map;
  std::promise<caf::expected<by_server>> done;
  auto answered = done.get_future();
  sys.spawn([&](caf::event_based_actor* self) {
    client->ask<by_server>(
        self, opts, "test.reflect",
        [&done](caf::expected<by_server> x) { done.set_value(std::move(x)); },
        int32_t{4});
  });
  SLACKER_REQUIRE(answered.wait_for(10s) == std::future_status::ready, "no answer");
  auto async = answered.get();
  SLACKER_REQUIRE(async, describe(async.error()));
  CAF_CHECK(async->size() == 3u);
  for (auto& kvp : *async)
    CAF_CHECK_EQUAL(kvp.second, 8);
}

CAF_TEST(a dispatcher and gathers on the network thread route the same way) {
  for (int i = 0; i < 3; ++i)
    start();
  separate_client other{cluster,
                        {{"slacker.dispatcher-hot-path", "network"},
                         {"slacker.gather-hot-path", "network"}}};
  auto& broker_client = *other.client;
  auto opts = with_grouping(grouping_kind::all);
  opts.results = results_kind::map;
  caf::expected<std::map<std::string, std::string>> res{caf::error{}};
  for (int i = 0; i < 100; ++i) { // until this new client has seen all three
    res = broker_client.call<std::map<std::string, std::string>>(opts, "test.api/whoami");
    if (res && res->size() == 3)
      break;
    std::this_thread::sleep_for(50ms);
  }
  SLACKER_REQUIRE(res, describe(res.error()));
  CAF_CHECK_EQUAL(res->size(), 3u);
  std::set<std::string> seen;
  for (int i = 0; i < 60; ++i) {
    auto who = broker_client.call<std::string>("test.api/whoami");
    SLACKER_REQUIRE(who, describe(who.error()));
    seen.insert(*who);
  }
  CAF_CHECK(seen == addrs());
  auto slow = broker_client.call<int64_t>("test.api/slow", int64_t{10});
  CAF_CHECK(slow && *slow == 10);
}

CAF_TEST(callers choose their servers themselves and go on while the dispatcher is held) {
  auto& a = start();
  start();
  // A client whose dispatcher runs on CAF's scheduler: holding it holds
  // nothing else (on the network thread, it would hold the brokers too).
  separate_client other{cluster, {{"slacker.dispatcher-hot-path", "scheduled"}}};
  auto& c2 = *other.client;
  auto& sys2 = *other.sys;
  auto warm = until_routes(c2);
  SLACKER_REQUIRE(warm && *warm == "warm", "the first call failed");
  SLACKER_REQUIRE(c2.chooses_servers("test.api"), "no routes published");
  auto two = [&] {
    auto v = c2.members();
    return v && v->namespaces["test.api"].size() == 2;
  };
  for (int i = 0; i < 200 && !two(); ++i)
    std::this_thread::sleep_for(10ms);
  // Actors send a call to one server straight to its connection broker; a
  // user grouping is the dispatcher's to run.
  auto dispatcher = caf::actor_cast<caf::actor>(c2.dispatcher());
  auto call = c2.prepare(cluster_options{}, cluster_options{}, "test.api/echo", "x");
  SLACKER_REQUIRE(call, "prepare failed");
  CAF_CHECK(c2.destination(*call) != dispatcher);
  auto first = with_grouping(grouping_fn{[](const grouping_call& c) {
    return grouping_choice{c.view.servers.front().addr};
  }});
  auto own = c2.prepare(first, cluster_options{}, "test.api/echo", "x");
  SLACKER_REQUIRE(own, "prepare failed");
  CAF_CHECK(c2.destination(*own) == dispatcher);
  // The dispatcher runs server-data handlers: one that waits holds it. Its
  // state outlives this test's body (the handler may run after it).
  struct hold {
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> once{false};
    std::atomic<bool> let_go{false};
  };
  auto h = std::make_shared<hold>();
  c2.on_server_data_change([h](const std::string&, const std::string&) {
    if (h->once.exchange(true))
      return;
    h->entered.set_value();
    h->released.wait_for(10s); // let go by the test, or after 10 s at worst
    h->let_go = true;
  });
  auto let_go = [h] {
    if (!h->let_go.exchange(true))
      h->release.set_value();
  };
  a.command(R"(data {"weight":2})");
  SLACKER_REQUIRE(h->entered.get_future().wait_for(10s) == std::future_status::ready,
                  "the handler never ran");
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    auto who = c2.call<std::string>("test.api/whoami");
    if (!who)
      let_go();
    SLACKER_REQUIRE(who, describe(who.error()));
    seen.insert(*who);
  }
  auto all = with_grouping(grouping_kind::all);
  all.results = results_kind::map;
  auto each = c2.call<std::map<std::string, std::string>>(all, "test.api/whoami");
  // From an actor: one server through its broker, a fan-out aggregated in
  // the actor.
  using by_server = std::map<std::string, std::string>;
  auto one = std::make_shared<std::promise<caf::expected<std::string>>>();
  auto fanned = std::make_shared<std::promise<caf::expected<by_server>>>();
  auto one_call = c2.prepare(cluster_options{}, cluster_options{}, "test.api/echo", "a");
  auto fan_call = c2.prepare(all, cluster_options{}, "test.api/whoami");
  SLACKER_REQUIRE(one_call && fan_call, "prepare failed");
  sys2.spawn([&c2, one, fanned, c1 = std::move(*one_call),
              cn = std::move(*fan_call)](caf::event_based_actor* self) mutable {
    c2.request<std::string>(self, std::move(c1), [one](caf::expected<std::string> r) {
      one->set_value(std::move(r));
    });
    c2.request<by_server>(self, std::move(cn), [fanned](caf::expected<by_server> r) {
      fanned->set_value(std::move(r));
    });
  });
  auto one_res = one->get_future();
  auto fan_res = fanned->get_future();
  auto both = one_res.wait_for(5s) == std::future_status::ready &&
              fan_res.wait_for(5s) == std::future_status::ready;
  // Done while the dispatcher was still held: none of it passed there.
  CAF_CHECK(!h->let_go);
  let_go();
  SLACKER_REQUIRE(both, "an actor's call waited for the dispatcher");
  CAF_CHECK(seen == addrs());
  SLACKER_REQUIRE(each, describe(each.error()));
  CAF_CHECK_EQUAL(each->size(), 2u);
  auto one_value = one_res.get();
  CAF_CHECK(one_value && *one_value == "a");
  auto fan_value = fan_res.get();
  SLACKER_REQUIRE(fan_value, describe(fan_value.error()));
  CAF_CHECK_EQUAL(fan_value->size(), 2u);
  for (auto& kvp : *fan_value)
    CAF_CHECK_EQUAL(kvp.first, kvp.second); // each server answered for itself
  // The dispatcher answers again once let go.
  auto again = c2.call<std::string>(first, "test.api/echo", "z");
  CAF_CHECK(again && *again == "z");
}

CAF_TEST(a call from an actor to one server answers what a blocking call answers) {
  // From an actor, a success whose policies leave nothing to decide comes
  // back from the broker as the server's answer and is shaped in the actor
  // (cluster_call::raw_success); the rest as a cluster_reply. Either way
  // the typed result is the blocking call's, under each policy, for result
  // types that fit the shape and for those that do not.
  auto& m = start();
  auto warm = until_routes(*client);
  SLACKER_REQUIRE(warm && *warm == "warm", "the first call failed");
  SLACKER_REQUIRE(client->chooses_servers("test.api"), "the routes are not published");
  auto outcome = [](const auto& x) {
    return x ? std::string{"ok"} : describe(x.error());
  };
  cluster_options opts;
  auto same = [&](auto type, const std::string& fn, const std::string& arg) {
    using R = typename decltype(type)::type;
    auto actor = from_actor<R>(opts, fn, arg);
    auto blocking = client->call<R>(opts, fn, arg);
    CAF_CHECK_EQUAL(outcome(actor), outcome(blocking));
    return std::make_pair(std::move(actor), std::move(blocking));
  };
  using by_server = std::map<std::string, std::string>;
  using list = std::vector<std::string>;
  for (auto res : {results_kind::single, results_kind::vector, results_kind::map,
                   results_kind::nil}) {
    CAF_MESSAGE("results " << to_string(res));
    opts.results = res;
    opts.exceptions = exceptions_kind::all;
    if (auto [a, b] = same(detail::as_type<std::string>{}, "test.api/echo", "a"); a && b)
      CAF_CHECK_EQUAL(*a, *b);
    if (auto [a, b] = same(detail::as_type<list>{}, "test.api/echo", "a"); a && b)
      CAF_CHECK(*a == *b);
    if (auto [a, b] = same(detail::as_type<by_server>{}, "test.api/echo", "a"); a && b)
      CAF_CHECK(*a == *b);
    if (auto [a, b] = same(detail::as_type<partial<list>>{}, "test.api/echo", "a");
        a && b) {
      CAF_CHECK(a->value == b->value);
      CAF_CHECK(a->missing.empty());
    }
    // An answer of another type than asked for: the same decode error (nil
    // decodes nothing).
    auto wrong = same(detail::as_type<int64_t>{}, "test.api/echo", "a");
    CAF_CHECK_EQUAL(!wrong.first, res != results_kind::nil);
    // The function throws: the exceptions policy's error, the same message.
    for (auto ex : {exceptions_kind::all, exceptions_kind::any}) {
      opts.exceptions = ex;
      auto failed = same(detail::as_type<int32_t>{}, "test.api/fail", "boom");
      SLACKER_REQUIRE(!failed.first, "fail succeeded");
      CAF_CHECK_EQUAL(code_of(failed.first.error()), sc::exception);
    }
  }
  // The shapes themselves, from the actor.
  opts.exceptions = exceptions_kind::all;
  opts.results = results_kind::single;
  auto one = from_actor<std::string>(opts, "test.api/echo", "b");
  CAF_CHECK(one && *one == "b");
  opts.results = results_kind::vector;
  auto v = from_actor<list>(opts, "test.api/echo", "b");
  CAF_CHECK(v && *v == list{"b"});
  auto pv = from_actor<partial<list>>(opts, "test.api/echo", "b");
  CAF_CHECK(pv && pv->value == list{"b"} && pv->missing.empty());
  opts.results = results_kind::map;
  auto mp = from_actor<by_server>(opts, "test.api/echo", "b");
  CAF_CHECK(mp && mp->size() == 1u && mp->count(m.addr) == 1u);
  opts.results = results_kind::nil;
  auto none = from_actor<std::string>(opts, "test.api/echo", "b");
  CAF_CHECK(none && none->empty());
}

CAF_TEST(
    a broker answers a raw success call with its answer and a failure as a cluster call) {
  // The contract `request` relies on: `raw_success` set, a success is the
  // server's call_reply; a failure is what any cluster call gets; unset, a
  // success is a cluster_reply.
  start();
  CAF_REQUIRE(client->call<std::string>("test.api/echo", "warm"));
  enum class got { call_reply, cluster_reply, error, nothing };
  auto ask = [&](const std::string& fn, bool raw) {
    auto call = client->prepare(cluster_options{}, cluster_options{}, fn, "x");
    SLACKER_REQUIRE(call, "prepare failed");
    call->raw_success = raw;
    auto to = client->destination(*call);
    auto out = std::make_shared<std::promise<got>>();
    sys.spawn([to, out, c = std::move(*call)](caf::event_based_actor* self) mutable {
      auto sent = self->request(to, caf::infinite, std::move(c));
      self->add_multiplexed_response_handler(
          sent.id(),
          caf::behavior{[out](call_reply&) { out->set_value(got::call_reply); },
                        [out](cluster_reply&) { out->set_value(got::cluster_reply); },
                        [out](caf::error&) {
                          out->set_value(got::error);
                        }});
    });
    auto res = out->get_future();
    return res.wait_for(10s) == std::future_status::ready ? res.get() : got::nothing;
  };
  CAF_CHECK(ask("test.api/echo", true) == got::call_reply);
  CAF_CHECK(ask("test.api/echo", false) == got::cluster_reply);
  CAF_CHECK(ask("test.api/fail", true) == got::error);
  CAF_CHECK(ask("test.api/fail", false) == got::error);
}

CAF_TEST_FIXTURE_SCOPE_END()
