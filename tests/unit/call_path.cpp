#define CAF_SUITE call_path
#include <caf/test/dsl.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/dispatcher.hpp"
#include "slacker/actors/detail/ledger.hpp"
#include "slacker/actors/routed_calls.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/aggregator.hpp"
#include "slacker/policy/detail/retry_budget.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "tests/require.hpp"
#include "tests/unit/dispatcher_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;

namespace {

using tp = std::chrono::steady_clock::time_point;

tp at(int ms) {
  return tp{} + std::chrono::milliseconds{ms};
}

call_reply value_reply(int64_t x) {
  call_reply rep;
  rep.result = *encode_value(codec_id::caf_binary, x);
  return rep;
}

call_reply error_reply(sc code) {
  call_reply rep;
  rep.err = make_error(code, "cause");
  return rep;
}

std::shared_ptr<const call_policies> policies(results_policy r, exceptions_policy e) {
  auto p = std::make_shared<call_policies>();
  p->results = std::move(r);
  p->exceptions = std::move(e);
  p->timeout = 250ms;
  return p;
}

} // namespace

// -- the ledger ----------------------------------------------------------------

CAF_TEST(a ledger gives every call one exit) {
  call_ledger<std::string> ledger;
  auto a = ledger.add("a", at(300));
  auto b = ledger.add("b", at(100));
  auto c = ledger.add("c", at(200));
  CAF_CHECK(a != b && b != c && a != 0);
  CAF_CHECK(ledger.earliest() == at(100));
  auto got = ledger.take(c);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(*got, "c");
  CAF_CHECK(!ledger.take(c)); // answered once
  std::vector<std::string> expired;
  ledger.expire(at(150), [&](uint64_t, std::string& x) { expired.push_back(x); });
  CAF_CHECK(expired == std::vector<std::string>{"b"});
  CAF_CHECK(!ledger.take(b)); // a reply after the deadline finds nothing
  CAF_CHECK(ledger.earliest() == at(300));
  std::vector<std::string> drained;
  ledger.drain([&](uint64_t, std::string& x) { drained.push_back(x); });
  CAF_CHECK(drained == std::vector<std::string>{"a"});
  CAF_CHECK(ledger.empty());
  CAF_CHECK(!ledger.earliest());
}

CAF_TEST(a ledger expires in deadline order and arms one timer for the earliest) {
  call_ledger<int> ledger;
  for (int i : {5, 1, 4, 2, 3})
    ledger.add(i, at(i * 10));
  CAF_CHECK(ledger.arm(at(50)));
  CAF_CHECK(!ledger.arm(at(50))); // the same time: armed already
  CAF_CHECK(!ledger.arm(at(60))); // later: the armed timer comes first
  CAF_CHECK(ledger.arm(at(10)));  // earlier: needs its own
  ledger.fired();
  std::vector<int> order;
  ledger.expire(at(35), [&](uint64_t, int& x) { order.push_back(x); });
  CAF_CHECK(order == (std::vector<int>{1, 2, 3}));
  CAF_CHECK_EQUAL(ledger.size(), 2u);
  CAF_CHECK(ledger.arm(*ledger.earliest())); // after firing, re-arming works
}

// -- the aggregator ------------------------------------------------------------

CAF_TEST(single under all decides at the first success) {
  aggregator agg{
      "ns/fn", policies(results_kind::single, exceptions_kind::all), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("a", error_reply(sc::exception)));
  CAF_CHECK(agg.add("c", value_reply(3)));
  auto out = agg.result();
  CAF_REQUIRE(out);
  CAF_CHECK(out->shape == reply_shape::single);
  CAF_CHECK(out->addrs == std::vector<std::string>{"c"});
  auto x = decode_cluster<int64_t>(*out, "ns/fn");
  CAF_CHECK(x && *x == 3);
}

CAF_TEST(nil under all decides at the first success and keeps nothing) {
  aggregator agg{"ns/fn", policies(results_kind::nil, exceptions_kind::all), {"a", "b"}};
  CAF_CHECK(agg.add("b", value_reply(1)));
  auto out = agg.result();
  CAF_REQUIRE(out);
  CAF_CHECK(out->shape == reply_shape::nil);
  CAF_CHECK(out->replies.empty());
}

CAF_TEST(any decides at the first failure) {
  aggregator agg{
      "ns/fn", policies(results_kind::vector, exceptions_kind::any), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(agg.fail("b", make_error(sc::connection_broken, "gone")));
  auto out = agg.result();
  CAF_REQUIRE(!out);
  CAF_CHECK_EQUAL(code_of(out.error()), sc::connection_broken);
}

CAF_TEST(vector and a user exceptions function wait for every server) {
  exceptions_fn quorum =
      [](const std::vector<server_result>& oks,
         const std::vector<server_failure>&) -> std::optional<caf::error> {
    if (oks.size() >= 2)
      return std::nullopt;
    return make_error(sc::exception, "no quorum");
  };
  aggregator agg{"ns/fn", policies(results_kind::vector, quorum), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(!agg.add("b", value_reply(2)));
  CAF_CHECK(!agg.add("b", value_reply(9))); // a second answer of b is ignored
  CAF_CHECK(agg.fail("c", make_error(sc::timeout, "late")));
  auto out = agg.result();
  CAF_REQUIRE(out);
  CAF_CHECK(out->shape == reply_shape::vector);
  CAF_CHECK(*decode_cluster<std::vector<int64_t>>(*out, "ns/fn") ==
            (std::vector<int64_t>{1, 2}));
}

CAF_TEST(at the deadline missing servers count as timeouts) {
  aggregator agg{"ns/fn", policies(results_kind::map, exceptions_kind::all), {"a", "b"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(agg.expire());
  auto out = agg.result();
  CAF_REQUIRE(out); // all: a partial result
  CAF_CHECK(*decode_cluster<std::map<std::string, int64_t>>(*out, "ns/fn") ==
            (std::map<std::string, int64_t>{{"a", 1}}));
  aggregator none{"ns/fn", policies(results_kind::single, exceptions_kind::all), {"a"}};
  none.expire();
  auto err = none.result();
  CAF_REQUIRE(!err);
  CAF_CHECK_EQUAL(code_of(err.error()), sc::timeout);
  CAF_CHECK_EQUAL(describe(err.error()), "timeout: ns/fn on a: no reply within 250 ms");
}

CAF_TEST(a call no server can run is unavailable or the unavailable value) {
  call_policies p;
  auto err = aggregator::none("ns/fn", "cluster c", p, {});
  CAF_REQUIRE(!err);
  CAF_CHECK_EQUAL(code_of(err.error()), sc::unavailable);
  p.unavailable = fallback(int64_t{-1});
  auto value = aggregator::none("ns/fn", "cluster c", p, {});
  CAF_REQUIRE(value);
  CAF_CHECK(value->shape == reply_shape::whole);
  // A whole value decodes as the result whatever the type asked for.
  auto x = decode_cluster<int64_t>(*value, "ns/fn");
  CAF_CHECK(x && *x == -1);
}

CAF_TEST(a quorum decides at its kth success with results from those k) {
  aggregator agg{"ns/fn", policies(results_kind::vector, quorum{2}), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(!agg.fail("b", make_error(sc::exception, "boom")));
  CAF_CHECK(agg.add("c", value_reply(3))); // b failed, c frozen: decided without it
  auto out = agg.result();
  CAF_REQUIRE(out);
  CAF_CHECK(*decode_cluster<std::vector<int64_t>>(*out, "ns/fn") ==
            (std::vector<int64_t>{1, 3}));
  CAF_CHECK(out->failed == std::vector<std::string>{"b"}); // partial: who failed, and why
  CAF_REQUIRE_EQUAL(out->errors.size(), 1u);
  CAF_CHECK_EQUAL(code_of(out->errors[0]), sc::exception);
}

CAF_TEST(a quorum fails as soon as k successes are out of reach) {
  aggregator agg{"ns/fn", policies(results_kind::vector, quorum{2}), {"a", "b", "c"}};
  CAF_CHECK(!agg.fail("a", make_error(sc::exception, "boom")));
  CAF_CHECK(
      agg.fail("b", make_error(sc::connection_broken, "gone"))); // c alone cannot make 2
  auto out = agg.result();
  CAF_REQUIRE(!out);
  CAF_CHECK_EQUAL(code_of(out.error()), sc::exception);
  CAF_CHECK(describe(out.error()).find("quorum of 2 not reached: 0 of 2") !=
            std::string::npos);
}

CAF_TEST(
    a deciding user function is consulted after each answer with the pending servers) {
  std::vector<size_t> pending_seen;
  decide_fn first_two = [&](const std::vector<server_result>& oks,
                            const std::vector<server_failure>& fails,
                            const std::vector<std::string>& pending) {
    pending_seen.push_back(pending.size());
    if (!fails.empty())
      return verdict::fail(make_error(sc::exception, "no failure allowed"));
    return oks.size() >= 2 ? verdict::succeed() : verdict::wait();
  };
  aggregator agg{"ns/fn", policies(results_kind::vector, first_two), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("b", value_reply(2)));
  CAF_CHECK(agg.add("a", value_reply(1)));
  CAF_CHECK(pending_seen == (std::vector<size_t>{2, 1}));
  auto out = agg.result();
  CAF_REQUIRE(out);
  CAF_CHECK(*decode_cluster<std::vector<int64_t>>(*out, "ns/fn") ==
            (std::vector<int64_t>{2, 1}));
  aggregator failing{"ns/fn", policies(results_kind::vector, first_two), {"a", "b"}};
  CAF_CHECK(failing.fail("a", make_error(sc::timeout, "late")));
  CAF_REQUIRE(!failing.result());
  CAF_CHECK_EQUAL(code_of(failing.result().error()), sc::exception);
}

CAF_TEST(a server answering draining is left out of a fan out) {
  aggregator agg{
      "ns/fn", policies(results_kind::vector, exceptions_kind::any), {"a", "b"}};
  CAF_CHECK(!agg.add("a", error_reply(sc::draining)));
  CAF_CHECK(agg.add("b", value_reply(2)));
  auto out = agg.result();
  CAF_REQUIRE(out); // `any`, yet the stopping server is no failure
  CAF_CHECK(out->addrs == std::vector<std::string>{"b"});
  CAF_CHECK(out->failed.empty());
  aggregator stopping{
      "ns/fn", policies(results_kind::vector, exceptions_kind::all), {"a"}};
  CAF_CHECK(stopping.add("a", error_reply(sc::draining)));
  CAF_REQUIRE(!stopping.result());
  CAF_CHECK_EQUAL(code_of(stopping.result().error()), sc::unavailable);
}

// -- the retry budget -------------------------------------------------------------

CAF_TEST(the retry budget allows a share of recent calls plus a floor) {
  retry_budget budget{0.2, 1}; // 20 % of the calls, plus 1 a second over 10 s
  auto t = at(0);
  int allowed = 0;
  while (budget.withdraw(t))
    ++allowed;
  CAF_CHECK_EQUAL(allowed, 10); // no calls: the floor alone
  for (int i = 0; i < 100; ++i)
    budget.deposit(t);
  allowed = 0;
  while (budget.withdraw(t))
    ++allowed;
  CAF_CHECK_EQUAL(allowed, 20); // 20 % of 100 more
  CAF_CHECK(budget.describe(t).find("30 retries for 100 calls") != std::string::npos);
  t += std::chrono::seconds{11}; // the window moved on: all forgotten
  CAF_CHECK(budget.withdraw(t));
}

// -- the dispatcher, with fake connection brokers --------------------------------

namespace {

using slacker_test::unit_config;

/// How a stand-in broker answers one-server cluster calls.
enum class mode { ok, draining, broken, silent };

/// A connection broker stand-in: answers a one-server cluster call with its
/// own address as the result (or as its `mode` says), and a fan-out
/// call_request with its address. Namespace "ns" declares "idem" idempotent.
/// Counts answered calls out of `in_flight`, as a broker does.
caf::behavior fake_link(caf::event_based_actor* self, std::string addr,
                        caf::actor observer,
                        std::shared_ptr<std::map<std::string, int>> seen,
                        std::shared_ptr<std::map<std::string, mode>> modes,
                        std::shared_ptr<in_flight_count> in_flight) {
  auto out = [in_flight] {
    if (in_flight->load() > 0)
      in_flight->fetch_sub(1);
  };
  return {
      [=](cluster_call& call) -> caf::result<cluster_reply> {
        ++(*seen)[addr];
        auto m = (*modes)[addr];
        if (m == mode::silent)
          return self->make_response_promise<cluster_reply>(); // never answered
        out();
        if (m != mode::ok) {
          // What the real broker does with a call that failed there.
          bool draining = m == mode::draining;
          if (draining || call.idempotent) {
            call.tried.push_back(addr);
            auto rp = self->make_response_promise();
            auto err = make_error(draining ? sc::draining : sc::connection_broken, addr);
            rp.delegate(observer, resend_atom::value, std::move(call), std::move(err),
                        !draining, call.idempotent);
            return caf::delegated<cluster_reply>{};
          }
          return make_error(sc::connection_broken, addr);
        }
        return slacker_test::address_reply(addr, call);
      },
      [=](call_request& req) -> call_reply {
        ++(*seen)[addr];
        out();
        call_reply rep;
        rep.id = req.id;
        rep.result = *encode_value(codec_id::caf_binary, addr);
        return rep;
      },
      [](inspect_atom, std::string& ns) {
        std::vector<function_info> fns;
        if (ns == "ns") {
          fns.resize(2);
          fns[0].name = "fn";
          fns[1].name = "idem";
          fns[1].idempotent = true;
        }
        return fns;
      },
      [](caf::connect_atom) { return true; },
      [](retire_atom) {},
  };
}

struct fixture : test_coordinator_fixture<unit_config> {
  dispatcher_internal_type dispatcher;
  std::shared_ptr<std::map<std::string, int>> seen =
      std::make_shared<std::map<std::string, int>>();
  std::shared_ptr<std::map<std::string, mode>> modes =
      std::make_shared<std::map<std::string, mode>>();
  std::map<std::string, caf::actor> links;
  std::map<std::string, std::shared_ptr<accrual::health>> health;    // per link
  std::map<std::string, std::shared_ptr<in_flight_count>> in_flight; // per link

  fixture() {
    link_factory connect = [this](caf::actor_system& sys, const std::string& addr,
                                  link_hooks hooks) {
      auto link =
          sys.spawn(fake_link, addr, hooks.observer, seen, modes, hooks.in_flight);
      links[addr] = link;
      health[addr] = hooks.health;
      in_flight[addr] = hooks.in_flight;
      return link;
    };
    dispatcher = sys.spawn(dispatcher_actor, std::string{"c"}, caf::actor{}, connect,
                           std::shared_ptr<route_board>{});
    membership_view view;
    view.servers = {{"a:1", "{}"}, {"b:1", "{}"}, {"c:1", R"({"weight":0})"}};
    view.namespaces = {{"ns", {"a:1", "b:1"}}};
    view.state.status = registry_status::connected;
    self->send(dispatcher, view);
    sched.run(); // messages only: the dispatcher's sweep timer re-arms itself
  }

  ~fixture() override {
    self->send_exit(dispatcher, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Runs a call of `ns`/fn under `grouping` and `results`; its reply.
  caf::expected<cluster_reply> call(grouping_policy grouping,
                                    results_kind results = results_kind::vector,
                                    std::string ns = "ns", std::string fn = "fn",
                                    bool idempotent = false) {
    auto p = std::make_shared<call_policies>();
    p->grouping = std::move(grouping);
    p->results = results;
    p->idempotent = idempotent;
    cluster_call c;
    c.req.ns = std::move(ns);
    c.req.fn = std::move(fn);
    c.req.deadline_ns = (std::chrono::system_clock::now() + 10s).time_since_epoch() / 1ns;
    c.policies = p;
    self->send(dispatcher, c);
    sched.run();
    caf::expected<cluster_reply> out{make_error(sc::timeout, "no answer")};
    self->receive([&](cluster_reply& rep) { out = std::move(rep); },
                  [&](caf::error& err) { out = std::move(err); },
                  caf::after(0s) >> [] {});
    return out;
  }

  /// A connection broker stand-in for `addr`, outside the dispatcher.
  caf::actor link(const std::string& addr) {
    return sys.spawn(fake_link, addr, caf::actor{}, seen, modes,
                     std::make_shared<in_flight_count>());
  }

  /// An actor's fan-out of ns/fn under `p` to `servers` (address, broker).
  std::shared_ptr<fan_out_call>
  fan_of(std::shared_ptr<const call_policies> p,
         std::vector<std::pair<std::string, caf::actor>> servers) {
    std::vector<std::shared_ptr<route_server>> routes;
    for (auto& [addr, conn] : servers) {
      auto s = std::make_shared<route_server>();
      s->addr = addr;
      s->conn = caf::actor_cast<connection_actor_type>(conn);
      s->in_flight = std::make_shared<in_flight_count>();
      s->health = std::make_shared<accrual::health>();
      routes.push_back(std::move(s));
    }
    cluster_call c;
    c.req.ns = "ns";
    c.req.fn = "fn";
    c.req.deadline_ns = (std::chrono::system_clock::now() + 10s).time_since_epoch() / 1ns;
    c.policies = std::move(p);
    return std::make_shared<fan_out_call>(std::move(c), std::move(routes));
  }

  /// An actor running `fan` (`fan_out`), spawned, and where its outcome goes.
  struct fan_caller {
    caf::actor actor;
    std::shared_ptr<caf::expected<cluster_reply>> out;
  };

  fan_caller start_fan_out(const std::shared_ptr<fan_out_call>& fan) {
    auto out = std::make_shared<caf::expected<cluster_reply>>(
        make_error(sc::timeout, "no answer"));
    using done_fn = std::function<void(caf::expected<cluster_reply>)>;
    auto done = std::make_shared<done_fn>(
        [out](caf::expected<cluster_reply> r) { *out = std::move(r); });
    auto actor =
        sys.spawn([fan, done](caf::event_based_actor* c) { fan_out(c, fan, done); });
    return {actor, out};
  }

  /// Runs `fan` from an actor until nothing is left to do; its outcome.
  caf::expected<cluster_reply> run_fan_out(const std::shared_ptr<fan_out_call>& fan) {
    auto caller = start_fan_out(fan);
    sched.run();
    return *caller.out;
  }

  std::vector<std::string> servers_of(const caf::expected<cluster_reply>& rep) {
    std::vector<std::string> out;
    if (rep)
      for (auto& r : rep->replies)
        out.push_back(*decode_value<std::string>(r.codec, r.result));
    std::sort(out.begin(), out.end());
    return out;
  }
};

} // namespace

CAF_TEST(a refusal neither clears failure accrual nor counts in latency) {
  // Two timeouts in a row, then refusals (its queue is full; the deadline
  // passed while the call waited): the third timeout still makes it
  // suspect, and no answer was counted for its latency.
  accrual::health h;
  CAF_CHECK(!accrual::timed_out(h, 3));
  CAF_CHECK(!accrual::timed_out(h, 3));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::overloaded));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::canceled));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::draining));
  CAF_CHECK_EQUAL(h.answers.load(), 0u);
  CAF_CHECK(accrual::timed_out(h, 3));
  // The function ran and threw: an answer, which clears the count.
  accrual::health ran;
  CAF_CHECK(!accrual::timed_out(ran, 3));
  CAF_CHECK(!accrual::timed_out(ran, 3));
  CAF_CHECK(!accrual::answered(ran, 3, false, 1ms, sc::exception));
  CAF_CHECK_EQUAL(ran.answers.load(), 1u);
  CAF_CHECK(!accrual::timed_out(ran, 3));
}

CAF_TEST_FIXTURE_SCOPE(dispatcher_tests, fixture)

CAF_TEST(a call to one server goes to its broker and is answered from there) {
  CAF_REQUIRE(call(grouping_kind::first)); // the first call also learns "ns"
  auto p = std::make_shared<call_policies>();
  p->grouping = grouping_kind::first;
  cluster_call c;
  c.req.ns = "ns";
  c.req.fn = "fn";
  c.policies = p;
  self->send(dispatcher, c);
  expect((cluster_call), from(self).to(dispatcher));
  // Delegated: the broker answers the caller itself, with no gather between.
  expect((cluster_call), from(self).to(links.at("a:1")));
  expect((cluster_reply), from(links.at("a:1")).to(self));
  CAF_CHECK(!sched.has_job());
}

CAF_TEST(an actor fan out whose first broker is gone is aggregated by the actor) {
  // Routes read before the first server left: its broker is gone. The actor
  // sends each server its part itself; the gone one counts as failed.
  auto live = link("b:1");
  auto gone = link("a:1");
  self->send_exit(gone, caf::exit_reason::user_shutdown);
  sched.run();
  auto fan = fan_of(policies(results_kind::vector, exceptions_kind::all),
                    {{"a:1", gone}, {"b:1", live}});
  auto out = run_fan_out(fan);
  CAF_CHECK(!fan->taken());
  CAF_CHECK_EQUAL((*seen)["b:1"], 1);
  SLACKER_REQUIRE(out, describe(out.error()));
  CAF_CHECK(servers_of(out) == (std::vector<std::string>{"b:1"}));
  CAF_CHECK(out->failed == (std::vector<std::string>{"a:1"}));
}

CAF_TEST(an actor fan out whose policies run user code is aggregated in the actor) {
  // A results function stays off the network thread: the actor sends the
  // parts to the brokers itself (call_request, no fan_out_atom to a broker).
  auto a = link("a:1");
  auto b = link("b:1");
  results_fn count = [](codec_id c, const std::vector<server_result>& xs) {
    return encode_value(c, static_cast<int64_t>(xs.size()));
  };
  auto fan = fan_of(policies(count, exceptions_kind::all), {{"a:1", a}, {"b:1", b}});
  CAF_CHECK(fan->runs_user_code());
  sched.run(); // the stand-ins started
  auto caller = start_fan_out(fan);
  sched.run_once();
  expect((call_request), from(caller.actor).to(a));
  expect((call_request), from(caller.actor).to(b));
  sched.run();
  CAF_CHECK(!fan->taken());
  auto& out = *caller.out;
  SLACKER_REQUIRE(out, describe(out.error()));
  CAF_REQUIRE_EQUAL(out->replies.size(), 1u);
  auto& r = out->replies[0];
  auto counted = decode_value<int64_t>(r.codec, r.result);
  CAF_REQUIRE(counted);
  CAF_CHECK_EQUAL(*counted, int64_t{2});
}

CAF_TEST(a call to several servers gets one gather that the brokers answer) {
  auto rep = call(grouping_kind::all);
  CAF_REQUIRE(rep);
  CAF_CHECK(rep->shape == reply_shape::vector);
  CAF_CHECK(servers_of(rep) == (std::vector<std::string>{"a:1", "b:1"}));
}

CAF_TEST(candidates follow membership and connection events) {
  CAF_CHECK(servers_of(call(grouping_kind::all)) ==
            (std::vector<std::string>{"a:1", "b:1"}));
  self->send(dispatcher, namespace_up{"ns", "c:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) ==
            (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  // Weight 0 (server-data) is never chosen while others weigh more.
  for (int i = 0; i < 20; ++i)
    CAF_CHECK(servers_of(call(grouping_kind::weighted)) !=
              std::vector<std::string>{"c:1"});
  self->send(dispatcher, server_data_changed{"c:1", R"({"weight":5})"});
  self->send(dispatcher, server_data_changed{"a:1", R"({"weight":0})"});
  self->send(dispatcher, server_data_changed{"b:1", R"({"weight":0})"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::weighted, results_kind::single)) ==
            std::vector<std::string>{"c:1"});
  self->send(dispatcher, member_down{"b:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) ==
            (std::vector<std::string>{"a:1", "c:1"}));
  self->send(dispatcher, conn_down_atom::value, std::string{"a:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"c:1"});
  self->send(dispatcher, conn_up_atom::value, std::string{"a:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) ==
            (std::vector<std::string>{"a:1", "c:1"}));
  self->send(dispatcher, namespace_down{"ns", "c:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"a:1"});
}

CAF_TEST(the leader grouping follows leader events) {
  auto none = call(grouping_kind::leader);
  CAF_REQUIRE(!none);
  CAF_CHECK_EQUAL(code_of(none.error()), sc::unavailable);
  self->send(dispatcher, leader_changed{"ns", "b:1", {}});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::leader, results_kind::single)) ==
            std::vector<std::string>{"b:1"});
  self->send(dispatcher, leader_changed{"ns", "", {}});
  sched.run();
  CAF_CHECK(!call(grouping_kind::leader));
}

CAF_TEST(a namespace no server provides is unavailable at once) {
  auto rep = call(grouping_kind::random, results_kind::single, "other");
  CAF_REQUIRE(!rep);
  CAF_CHECK_EQUAL(code_of(rep.error()), sc::unavailable);
  CAF_CHECK(seen->empty());
}

CAF_TEST(while the view is rebuilt a call with no provider waits for one) {
  self->send(dispatcher, registry_state{registry_status::expired, 0});
  sched.run();
  // A namespace with servers: at once, as always.
  CAF_CHECK(call(grouping_kind::first, results_kind::single));
  // None provides "other" yet: no answer until one does.
  auto rep = call(grouping_kind::first, results_kind::single, "other");
  CAF_REQUIRE(!rep);
  CAF_CHECK_EQUAL(code_of(rep.error()), sc::timeout); // the fixture's "no answer"
  self->send(dispatcher, namespace_up{"other", "b:1"});
  sched.run();
  caf::expected<cluster_reply> late{make_error(sc::timeout, "no answer")};
  self->receive([&](cluster_reply& r) { late = std::move(r); },
                [&](caf::error& err) { late = std::move(err); }, caf::after(0s) >> [] {});
  CAF_REQUIRE(late);
  CAF_CHECK(servers_of(late) == std::vector<std::string>{"b:1"});
  // Connected again: a namespace nobody provides is unavailable at once.
  self->send(dispatcher, registry_state{registry_status::connected, 0});
  sched.run();
  auto none = call(grouping_kind::first, results_kind::single, "third");
  CAF_REQUIRE(!none);
  CAF_CHECK_EQUAL(code_of(none.error()), sc::unavailable);
}

CAF_TEST(a call waiting for a provider gets unavailable at its deadline) {
  self->send(dispatcher, registry_state{registry_status::suspended, 0});
  sched.run();
  auto p = std::make_shared<call_policies>();
  p->grouping = grouping_kind::first;
  cluster_call c;
  c.req.ns = "other";
  c.req.fn = "fn";
  // Its deadline passes while it waits (already passed: the deadline is
  // wall-clock time, the sweep's timer is simulated).
  c.req.deadline_ns = (std::chrono::system_clock::now() - 1ms).time_since_epoch() / 1ns;
  c.policies = p;
  self->send(dispatcher, c);
  sched.run();
  CAF_CHECK(!self->has_next_message()); // waiting, not answered at once
  sched.trigger_timeouts();             // the dispatcher's sweep
  sched.run();
  caf::expected<cluster_reply> out{make_error(sc::timeout, "no answer")};
  self->receive([&](cluster_reply& r) { out = std::move(r); },
                [&](caf::error& err) { out = std::move(err); }, caf::after(0s) >> [] {});
  CAF_REQUIRE(!out);
  CAF_CHECK_EQUAL(code_of(out.error()), sc::unavailable);
  CAF_MESSAGE(describe(out.error()));
}

CAF_TEST(a draining answer goes to another server and the stopping one leaves routing) {
  (*modes)["a:1"] = mode::draining;
  auto rep = call(grouping_kind::first, results_kind::single);
  CAF_REQUIRE(rep);
  CAF_CHECK(servers_of(rep) == std::vector<std::string>{"b:1"});
  seen->clear();
  for (int i = 0; i < 10; ++i)
    CAF_CHECK(servers_of(call(grouping_kind::random, results_kind::single)) ==
              std::vector<std::string>{"b:1"});
  CAF_CHECK_EQUAL(seen->count("a:1"), 0u);
}

CAF_TEST(a broken connection resends idempotent calls only) {
  (*modes)["a:1"] = mode::broken;
  auto plain = call(grouping_kind::first, results_kind::single);
  CAF_REQUIRE(!plain);
  CAF_CHECK_EQUAL(code_of(plain.error()), sc::connection_broken);
  // Marked by the caller.
  auto marked = call(grouping_kind::first, results_kind::single, "ns", "fn", true);
  CAF_CHECK(servers_of(marked) == std::vector<std::string>{"b:1"});
  // Declared on the server (learned by the first call of "ns").
  auto declared = call(grouping_kind::first, results_kind::single, "ns", "idem");
  CAF_CHECK(servers_of(declared) == std::vector<std::string>{"b:1"});
}

CAF_TEST(a resent call avoids a server that a call waits on without hearing from) {
  membership_view view;
  view.servers = {{"a:1", "{}"}, {"b:1", "{}"}, {"c:1", "{}"}};
  view.namespaces = {{"ns", {"a:1", "b:1", "c:1"}}};
  view.state.status = registry_status::connected;
  self->send(dispatcher, view);
  sched.run();
  CAF_REQUIRE(servers_of(call(grouping_kind::all)) == // a link to each
              (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  (*modes)["a:1"] = mode::broken;
  auto resent = [&] {
    return servers_of(call(grouping_kind::first, results_kind::single, "ns", "idem"));
  };
  using addrs = std::vector<std::string>;
  CAF_CHECK(resent() == addrs{"b:1"}); // the first not tried
  // b:1 went quiet (a call waits on it and heard nothing for a ping interval).
  accrual::went_quiet(*health.at("b:1"), 1h);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(resent() == addrs{"c:1"});
  // Every other server is quiet too: the call still goes to one of them.
  accrual::went_quiet(*health.at("c:1"), 1h);
  CAF_CHECK(resent() == addrs{"b:1"});
  // Heard from again: chosen as before.
  accrual::heard(*health.at("b:1"));
  accrual::heard(*health.at("c:1"));
  CAF_CHECK(resent() == addrs{"b:1"});
}

CAF_TEST(a first call avoids a server that a call waits on without hearing from) {
  // Through the dispatcher (no routes board here), as callers do on the routes.
  auto first = [&] {
    return servers_of(call(grouping_kind::first, results_kind::single));
  };
  using addrs = std::vector<std::string>;
  CAF_REQUIRE(first() == addrs{"a:1"});
  accrual::went_quiet(*health.at("a:1"), 1h);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(first() == addrs{"b:1"});
  CAF_CHECK_EQUAL(servers_of(call(grouping_kind::all)).size(), 2u); // all: every one
  accrual::went_quiet(*health.at("b:1"), 1h); // every server so: as before
  CAF_CHECK(first() == addrs{"a:1"});
  accrual::heard(*health.at("a:1"));
  accrual::heard(*health.at("b:1"));
  CAF_CHECK(first() == addrs{"a:1"});
}

CAF_TEST(a resent call with no other server gets its own error) {
  (*modes)["a:1"] = mode::draining;
  (*modes)["b:1"] = mode::draining;
  auto rep = call(grouping_kind::first, results_kind::single);
  CAF_REQUIRE(!rep);
  CAF_CHECK_EQUAL(code_of(rep.error()), sc::draining);
  CAF_CHECK(describe(rep.error()).find("no other server") != std::string::npos);
  CAF_CHECK_EQUAL((*seen)["a:1"] + (*seen)["b:1"], 2); // each tried once
}

CAF_TEST(retries stop when the retry budget is spent) {
  CAF_REQUIRE(call(grouping_kind::first)); // learns that "idem" is idempotent
  seen->clear();
  (*modes)["a:1"] = mode::broken;
  (*modes)["b:1"] = mode::broken;
  int budget_errors = 0;
  for (int i = 0; i < 200; ++i) {
    auto rep = call(grouping_kind::first, results_kind::single, "ns", "idem");
    CAF_REQUIRE(!rep);
    if (describe(rep.error()).find("retry budget spent") != std::string::npos)
      ++budget_errors;
  }
  // Retries may be 20 % of the calls plus a floor of 10 a second over 10 s
  // (100): the first 125 calls are all retried, then every fifth.
  CAF_CHECK_EQUAL((*seen)["b:1"], 140);
  CAF_CHECK_EQUAL(budget_errors, 60);
}

CAF_TEST(a suspect server leaves routing and is probed after its backoff) {
  self->send(dispatcher, suspect_atom::value, std::string{"a:1"});
  sched.run();
  seen->clear();
  for (int i = 0; i < 10; ++i)
    call(grouping_kind::random, results_kind::single);
  CAF_CHECK_EQUAL(seen->count("a:1"), 0u);
  sched.advance_time(std::chrono::seconds{1});
  for (int i = 0; i < 10; ++i)
    call(grouping_kind::random, results_kind::single);
  CAF_CHECK_EQUAL((*seen)["a:1"], 1); // one probe, then the backoff again
  self->send(dispatcher, conn_up_atom::value, std::string{"a:1"}); // it answered
  sched.run();
  seen->clear();
  for (int i = 0; i < 40; ++i)
    call(grouping_kind::random, results_kind::single);
  CAF_CHECK_GREATER((*seen)["a:1"], 0);
}

CAF_TEST(a slow server leaves routing until a probe is answered in time) {
  // Counted in /metrics: served on an ephemeral loopback port, links count.
  CAF_REQUIRE(!metrics::serve("127.0.0.1:0"));
  self->send(dispatcher, namespace_up{"ns", "c:1"});
  sched.run();
  CAF_REQUIRE(servers_of(call(grouping_kind::all)) ==
              (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  // One sweep's window (500 ms): a and b answer in 2 ms, c in 100 ms.
  auto window = [&](int64_t c_us) {
    for (auto& [addr, us] :
         {std::pair<std::string, int64_t>{"a:1", 2000}, {"b:1", 2000}, {"c:1", c_us}})
      for (int i = 0; i < 5; ++i)
        accrual::answered(*health.at(addr), 3, false, std::chrono::microseconds{us},
                          sc::none);
    sched.advance_time(500ms);
    sched.run();
  };
  window(100'000);
  CAF_CHECK_EQUAL(servers_of(call(grouping_kind::all)).size(), 3u); // one window: not yet
  window(2'500); // not slow: the count of slow windows starts again
  window(100'000);
  CAF_CHECK_EQUAL(servers_of(call(grouping_kind::all)).size(), 3u);
  window(100'000); // two windows in a row: out
  CAF_CHECK(servers_of(call(grouping_kind::all)) ==
            (std::vector<std::string>{"a:1", "b:1"}));
  auto text = metrics::render();
  CAF_CHECK(text.find("slacker_client_ejections_total{cluster=\"c\",server=\"c:1\","
                      "reason=\"slow\"} 1\n") != std::string::npos);
  CAF_CHECK(text.find("slacker_client_routable{cluster=\"c\",server=\"c:1\"} 0\n") !=
            std::string::npos);
  auto& c = *health.at("c:1");
  CAF_CHECK(accrual::suspect(c, 3)); // calls sent to it are probes now
  // A late answer to a call sent before, a probe answered slowly, and a
  // probe refused at once (its pool full, or its deadline passed while it
  // waited) do not bring it back; a probe answered within 5 x 2 ms does.
  CAF_CHECK(!accrual::answered(c, 3, false, 1ms, sc::none));
  CAF_CHECK(!accrual::answered(c, 3, true, 100ms, sc::none));
  CAF_CHECK(!accrual::answered(c, 3, true, 1ms, sc::overloaded));
  CAF_CHECK(!accrual::answered(c, 3, true, 1ms, sc::canceled));
  CAF_CHECK(accrual::suspect(c, 3));
  CAF_CHECK(accrual::answered(c, 3, true, 3ms, sc::none));
  CAF_CHECK(!accrual::suspect(c, 3));
  self->send(dispatcher, conn_up_atom::value, std::string{"c:1"}); // its broker says so
  sched.run();
  CAF_CHECK_EQUAL(servers_of(call(grouping_kind::all)).size(), 3u);
}

CAF_TEST(one server calls stay within the aperture until the load widens it) {
  // 40 servers of "ns": a random call reaches at most slacker.aperture (12)
  // of them, `all` every one.
  for (int i = 0; i < 38; ++i) {
    auto addr = "s" + std::to_string(i) + ":1";
    self->send(dispatcher, member_up{addr, "{}"});
    self->send(dispatcher, namespace_up{"ns", addr});
  }
  sched.run();
  CAF_REQUIRE_EQUAL(servers_of(call(grouping_kind::all)).size(), 40u);
  auto reached = [&](grouping_policy g) {
    std::set<std::string> out;
    for (int i = 0; i < 400; ++i)
      for (auto& s : servers_of(call(g, results_kind::single)))
        out.insert(s);
    return out;
  };
  auto window = reached(grouping_kind::random);
  CAF_CHECK_EQUAL(window.size(), 12u);
  CAF_CHECK(reached(grouping_kind::round_robin) == window);
  CAF_CHECK(reached(grouping_kind::least_in_flight) == window);
  // 60 calls in flight over those 12 (5 each, above 2): the next sweep
  // widens it to one call each at most, here 40.
  for (auto& addr : window)
    in_flight.at(addr)->store(5);
  sched.advance_time(500ms);
  sched.run();
  for (auto& addr : window)
    in_flight.at(addr)->store(0);
  auto wide = reached(grouping_kind::random);
  CAF_CHECK_EQUAL(wide.size(), 40u);
  // Idle again: it narrows by one per sweep, back to 12 and no further.
  for (int i = 0; i < 40; ++i) {
    sched.advance_time(500ms);
    sched.run();
  }
  auto narrow = reached(grouping_kind::random);
  CAF_CHECK_EQUAL(narrow.size(), 12u);
}

CAF_TEST(peers without answers enough do not judge a server) {
  self->send(dispatcher, namespace_up{"ns", "c:1"});
  sched.run();
  CAF_REQUIRE(servers_of(call(grouping_kind::all)).size() == 3u);
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 5; ++i)
      accrual::answered(*health.at("c:1"), 3, false, 100ms, sc::none);
    accrual::answered(*health.at("a:1"), 3, false, 2ms,
                      sc::none); // fewer than 3 a window
    for (int i = 0; i < 5; ++i)
      accrual::answered(*health.at("b:1"), 3, false, 2ms, sc::none);
    sched.advance_time(500ms);
    sched.run();
  }
  CAF_CHECK_EQUAL(servers_of(call(grouping_kind::all)).size(), 3u);
}

CAF_TEST(no more servers leave routing at once than the ejection cap) {
  // Three members and slacker.max-ejected 0.5: one server out at a time.
  CAF_REQUIRE(call(grouping_kind::all)); // links to a and b
  self->send(dispatcher, suspect_atom::value, std::string{"a:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"b:1"});
  health.at("b:1")->timeouts_in_row = 3; // its broker found it suspect too
  self->send(dispatcher, suspect_atom::value, std::string{"b:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"b:1"});
  CAF_CHECK_EQUAL(health.at("b:1")->timeouts_in_row.load(), 0u);   // counted again
  self->send(dispatcher, conn_up_atom::value, std::string{"a:1"}); // a answered a probe
  sched.run();
  self->send(dispatcher, suspect_atom::value, std::string{"b:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"a:1"});
}

CAF_TEST(a hedged call sends a backup after hedge_after and the first answer wins) {
  (*modes)["a:1"] = mode::silent;
  auto p = std::make_shared<call_policies>();
  p->grouping = grouping_kind::first;
  p->idempotent = true;
  p->hedge_after = 50ms;
  cluster_call c;
  c.req.ns = "ns";
  c.req.fn = "fn";
  c.req.deadline_ns = (std::chrono::system_clock::now() + 10s).time_since_epoch() / 1ns;
  c.policies = p;
  self->send(dispatcher, c);
  sched.run();
  CAF_CHECK_EQUAL((*seen)["b:1"], 0); // not before hedge_after
  sched.advance_time(50ms);
  sched.run();
  caf::expected<cluster_reply> out{make_error(sc::timeout, "no answer")};
  self->receive([&](cluster_reply& rep) { out = std::move(rep); },
                [&](caf::error& err) { out = std::move(err); }, caf::after(0s) >> [] {});
  CAF_CHECK(servers_of(out) == std::vector<std::string>{"b:1"});
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- an actor's call to one server on the routes -----------------------------------

namespace {

/// How the stand-in below answers a marked call: raw, as the dispatcher
/// answers one it resent elsewhere (a cluster reply), or with an error.
enum class raw_mode { raw, resent, failed };

/// A connection broker stand-in that keeps to the raw-success contract:
/// notes whether each cluster call came marked `raw_success`, and answers a
/// marked one with its address as the server's answer (or as `mode` says),
/// any other with a cluster reply of it.
caf::behavior raw_link(caf::event_based_actor*, std::string addr,
                       std::shared_ptr<std::vector<bool>> marked,
                       std::shared_ptr<raw_mode> mode) {
  return {
      [=](cluster_call& call) -> caf::message {
        marked->push_back(call.raw_success);
        if (call.raw_success && *mode == raw_mode::failed)
          return caf::make_message(make_error(sc::exception, addr + ": boom"));
        if (!call.raw_success || *mode == raw_mode::resent)
          return caf::make_message(slacker_test::address_reply(addr, call));
        call_reply rep;
        rep.codec = call.req.codec;
        rep.result = *encode_value(codec_id::caf_binary, addr);
        return caf::make_message(std::move(rep));
      },
  };
}

/// What a caller's `done` got: "raw <shape> <value>", "reply <value>" (a
/// cluster_reply's first answer) or "error <its text>".
struct recorder {
  std::shared_ptr<std::string> got;

  void operator()(caf::expected<cluster_reply> rep) {
    if (!rep) {
      *got = "error " + describe(rep.error());
      return;
    }
    if (rep->replies.empty()) {
      *got = "empty";
      return;
    }
    auto& r = rep->replies.front();
    *got = "reply " + *decode_value<std::string>(r.codec, r.result);
  }

  void operator()(one_answer x) {
    *got = std::string{"raw "} + to_string(x.shape) + " " +
           *decode_value<std::string>(x.reply.codec, x.reply.result);
  }
};

struct routes_fixture : test_coordinator_fixture<unit_config> {
  route_board board;
  std::shared_ptr<std::vector<bool>> marked = std::make_shared<std::vector<bool>>();
  std::shared_ptr<raw_mode> mode = std::make_shared<raw_mode>(raw_mode::raw);
  caf::actor link;

  routes_fixture() {
    // One server of "ns", open to callers that choose.
    auto s = std::make_shared<route_server>();
    s->addr = "a:1";
    link = sys.spawn(raw_link, s->addr, marked, mode);
    s->conn = caf::actor_cast<connection_actor_type>(link);
    s->in_flight = std::make_shared<in_flight_count>();
    s->health = std::make_shared<accrual::health>();
    route_entry e;
    e.view.ns = "ns";
    e.view.servers = {{"a:1", "{}"}};
    e.servers = {s};
    e.direct = true;
    auto table = std::make_shared<route_table>();
    table->open = true;
    table->namespaces.emplace("ns", std::move(e));
    board.publish(table);
  }

  ~routes_fixture() override {
    self->send_exit(link, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Runs a call of ns/fn under `p` (grouping first) from an actor on the
  /// routes, with `done`.
  template <class Done> void run(call_policies p, Done done) {
    p.grouping = grouping_kind::first;
    cluster_call c;
    c.req.ns = "ns";
    c.req.fn = "fn";
    c.req.deadline_ns = (std::chrono::system_clock::now() + 10s).time_since_epoch() / 1ns;
    c.policies = std::make_shared<call_policies>(std::move(p));
    sys.spawn([this, c = std::move(c), done](caf::event_based_actor* self) mutable {
      request_on_routes(self, &board, caf::actor{}, std::move(c), std::move(done));
    });
    sched.run();
  }

  /// What a caller that takes raw answers (`recorder`) got for a call
  /// under `p`.
  std::string outcome(call_policies p) {
    auto got = std::make_shared<std::string>();
    run(std::move(p), recorder{got});
    return *got;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(routed_call_tests, routes_fixture)

CAF_TEST(
    a success with nothing to decide comes back raw and the rest as a cluster reply) {
  // Raw: results single, vector or nil under a built-in exceptions policy.
  call_policies p;
  p.results = results_kind::vector;
  CAF_CHECK_EQUAL(outcome(p), "raw vector a:1");
  p.results = results_kind::single;
  CAF_CHECK_EQUAL(outcome(p), "raw single a:1");
  p.results = results_kind::nil;
  CAF_CHECK_EQUAL(outcome(p), "raw nil a:1");
  // Keyed by the server: the broker shapes it.
  p.results = results_kind::map;
  CAF_CHECK_EQUAL(outcome(p), "reply a:1");
  // A results function runs where the aggregator does.
  p.results = results_fn{[](codec_id c, const std::vector<server_result>& xs) {
    return encode_value(c, static_cast<int64_t>(xs.size()));
  }};
  CAF_CHECK_EQUAL(outcome(p), "reply a:1");
  // An exceptions function decides on a success too.
  p.results = results_kind::single;
  p.exceptions = exceptions_fn{
      [](const std::vector<server_result>&, const std::vector<server_failure>&) {
        return std::optional<caf::error>{};
      }};
  CAF_CHECK_EQUAL(outcome(p), "reply a:1");
  // A caller that takes only a cluster reply never gets a raw one.
  p.exceptions = exceptions_kind::all;
  auto got = std::make_shared<std::string>();
  std::function<void(caf::expected<cluster_reply>)> plain = recorder{got};
  run(p, plain);
  CAF_CHECK_EQUAL(*got, "reply a:1");
  CAF_CHECK(*marked == (std::vector<bool>{true, true, true, false, false, false, false}));
}

CAF_TEST(a call marked raw takes a cluster reply or an error as well) {
  // Failed where it went: resent by the dispatcher (whose answer is a
  // cluster reply from another broker) or failed under the policies.
  call_policies p;
  p.results = results_kind::vector;
  *mode = raw_mode::resent;
  CAF_CHECK_EQUAL(outcome(p), "reply a:1");
  *mode = raw_mode::failed;
  CAF_CHECK_EQUAL(outcome(p),
                  "error " + describe(make_error(sc::exception, "a:1: boom")));
  CAF_CHECK(*marked == (std::vector<bool>{true, true}));
}

CAF_TEST_FIXTURE_SCOPE_END()
