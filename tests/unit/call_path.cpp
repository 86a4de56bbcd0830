#define CAF_SUITE call_path
#include <caf/test/dsl.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slacker/actors/aggregator.hpp"
#include "slacker/actors/dispatcher.hpp"
#include "slacker/actors/ledger.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/config.hpp"

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
  aggregator agg{"ns/fn", policies(results_kind::single, exceptions_kind::all), {"a", "b", "c"}};
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
  aggregator agg{"ns/fn", policies(results_kind::vector, exceptions_kind::any), {"a", "b", "c"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(agg.fail("b", make_error(sc::connection_broken, "gone")));
  auto out = agg.result();
  CAF_REQUIRE(!out);
  CAF_CHECK_EQUAL(code_of(out.error()), sc::connection_broken);
}

CAF_TEST(vector and a user exceptions function wait for every server) {
  exceptions_fn quorum = [](const std::vector<server_result>& oks,
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
  CAF_CHECK(*decode_cluster<std::vector<int64_t>>(*out, "ns/fn") == (std::vector<int64_t>{1, 2}));
}

CAF_TEST(at the deadline missing servers count as timeouts) {
  aggregator agg{"ns/fn", policies(results_kind::map, exceptions_kind::all), {"a", "b"}};
  CAF_CHECK(!agg.add("a", value_reply(1)));
  CAF_CHECK(agg.expire());
  auto out = agg.result();
  CAF_REQUIRE(out); // all: a partial result
  CAF_CHECK(*decode_cluster<std::map<std::string, int64_t>>(*out, "ns/fn")
            == (std::map<std::string, int64_t>{{"a", 1}}));
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

// -- the dispatcher, with fake connection brokers --------------------------------

namespace {

struct unit_config : caf::actor_system_config {
  unit_config() {
    slacker::add_message_types(*this);
    // No middleman in a deterministic test: gathers on the scheduler.
    opt_group{custom_options_, "slacker"}.add<std::string>("gather-hot-path", "");
    set("slacker.gather-hot-path", "scheduled");
  }
};

/// A connection broker stand-in: answers a one-server cluster call with its
/// own address as the result, and a fan-out call_request with its address.
caf::behavior fake_link(caf::event_based_actor*, std::string addr,
                        std::shared_ptr<std::map<std::string, int>> seen) {
  return {
    [=](cluster_call& call) -> caf::result<cluster_reply> {
      ++(*seen)[addr];
      cluster_reply out;
      out.addrs.push_back(addr);
      call_reply rep;
      rep.codec = call.req.codec;
      rep.result = *encode_value(codec_id::caf_binary, addr);
      out.replies.push_back(rep);
      return out;
    },
    [=](call_request& req) -> call_reply {
      ++(*seen)[addr];
      call_reply rep;
      rep.id = req.id;
      rep.result = *encode_value(codec_id::caf_binary, addr);
      return rep;
    },
    [](caf::connect_atom) { return true; },
    [](retire_atom) {},
  };
}

struct fixture : test_coordinator_fixture<unit_config> {
  caf::actor dispatcher;
  std::shared_ptr<std::map<std::string, int>> seen = std::make_shared<std::map<std::string, int>>();
  std::map<std::string, caf::actor> links;

  fixture() {
    link_factory connect = [this](caf::actor_system& sys, const std::string& addr,
                                  link_hooks) {
      auto link = sys.spawn(fake_link, addr, seen);
      links[addr] = link;
      return link;
    };
    dispatcher = sys.spawn(dispatcher_actor, std::string{"c"}, caf::actor{}, connect);
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
                                    std::string ns = "ns") {
    auto p = std::make_shared<call_policies>();
    p->grouping = std::move(grouping);
    p->results = results;
    cluster_call c;
    c.req.ns = std::move(ns);
    c.req.fn = "fn";
    c.policies = p;
    self->send(dispatcher, c);
    sched.run();
    caf::expected<cluster_reply> out{make_error(sc::timeout, "no answer")};
    self->receive([&](cluster_reply& rep) { out = std::move(rep); },
                  [&](caf::error& err) { out = std::move(err); },
                  caf::after(0s) >> [] {});
    return out;
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

CAF_TEST_FIXTURE_SCOPE(dispatcher_tests, fixture)

CAF_TEST(a call to one server goes to its broker and is answered from there) {
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

CAF_TEST(a call to several servers gets one gather that the brokers answer) {
  auto rep = call(grouping_kind::all);
  CAF_REQUIRE(rep);
  CAF_CHECK(rep->shape == reply_shape::vector);
  CAF_CHECK(servers_of(rep) == (std::vector<std::string>{"a:1", "b:1"}));
}

CAF_TEST(candidates follow membership and connection events) {
  CAF_CHECK(servers_of(call(grouping_kind::all)) == (std::vector<std::string>{"a:1", "b:1"}));
  self->send(dispatcher, namespace_up{"ns", "c:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all))
            == (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  // Weight 0 (server-data) is never chosen while others weigh more.
  for (int i = 0; i < 20; ++i)
    CAF_CHECK(servers_of(call(grouping_kind::weighted)) != std::vector<std::string>{"c:1"});
  self->send(dispatcher, server_data_changed{"c:1", R"({"weight":5})"});
  self->send(dispatcher, server_data_changed{"a:1", R"({"weight":0})"});
  self->send(dispatcher, server_data_changed{"b:1", R"({"weight":0})"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::weighted, results_kind::single))
            == std::vector<std::string>{"c:1"});
  self->send(dispatcher, member_down{"b:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == (std::vector<std::string>{"a:1", "c:1"}));
  self->send(dispatcher, conn_down_atom::value, std::string{"a:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"c:1"});
  self->send(dispatcher, conn_up_atom::value, std::string{"a:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == (std::vector<std::string>{"a:1", "c:1"}));
  self->send(dispatcher, namespace_down{"ns", "c:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::all)) == std::vector<std::string>{"a:1"});
}

CAF_TEST(the leader grouping follows leader events) {
  auto none = call(grouping_kind::leader);
  CAF_REQUIRE(!none);
  CAF_CHECK_EQUAL(code_of(none.error()), sc::unavailable);
  self->send(dispatcher, leader_changed{"ns", "b:1"});
  sched.run();
  CAF_CHECK(servers_of(call(grouping_kind::leader, results_kind::single))
            == std::vector<std::string>{"b:1"});
  self->send(dispatcher, leader_changed{"ns", ""});
  sched.run();
  CAF_CHECK(!call(grouping_kind::leader));
}

CAF_TEST(a namespace no server provides is unavailable at once) {
  auto rep = call(grouping_kind::random, results_kind::single, "other");
  CAF_REQUIRE(!rep);
  CAF_CHECK_EQUAL(code_of(rep.error()), sc::unavailable);
  CAF_CHECK(seen->empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
