#define CAF_SUITE policies
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/routes.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/grouping_selector.hpp"
#include "slacker/policy/exceptions.hpp"
#include "slacker/policy/grouping.hpp"
#include "slacker/policy/retry.hpp"

using namespace slacker;
using namespace std::chrono_literals;

namespace {

grouping_view three_servers() {
  grouping_view v;
  v.ns = "ns";
  v.servers = {{"10.0.0.1:1", "{}", 2},
               {"10.0.0.2:1", R"({"weight":0})", 0},
               {"10.0.0.3:1", R"({"weight":3})", 5}};
  for (auto& s : v.servers)
    s.weight = grouping::weight_of(s.data); // what a dispatcher keeps
  v.leader = "10.0.0.3:1";
  return v;
}

std::set<std::string> draw(const std::function<addresses()>& f, int n) {
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i)
    for (auto& a : f())
      seen.insert(a);
  return seen;
}

server_result ok(const std::string& addr) {
  return {addr, call_reply{}};
}

server_failure failed(const std::string& addr, sc code) {
  return {addr, make_error(code, "cause at " + addr)};
}

} // namespace

CAF_TEST(random picks one candidate and reaches all of them) {
  auto v = three_servers();
  std::mt19937_64 rng{42};
  auto one = grouping::random(v, rng);
  CAF_CHECK_EQUAL(one.size(), 1u);
  CAF_CHECK_EQUAL(draw([&] { return grouping::random(v, rng); }, 200).size(), 3u);
  CAF_CHECK(grouping::random(grouping_view{}, rng).empty());
}

CAF_TEST(one server groupings choose within the aperture and the others see all) {
  grouping_view v;
  v.ns = "ns";
  for (int i = 0; i < 10; ++i)
    v.servers.push_back({"10.0.0." + std::to_string(i) + ":1", "{}", 0, 1});
  v.servers[5].in_flight = 0; // idlest of all, but outside the aperture
  for (auto i : {8, 9, 0})
    v.servers[i].in_flight = 3;
  v.servers[9].in_flight = 1;
  v.leader = "10.0.0.4:1";
  v.start = 8; // from the 9th, wrapping: 8, 9, 0
  v.width = 3;
  std::set<std::string> window{"10.0.0.8:1", "10.0.0.9:1", "10.0.0.0:1"};
  std::mt19937_64 rng{7};
  CAF_CHECK(draw([&] { return grouping::random(v, rng); }, 200) == window);
  CAF_CHECK(draw([&] { return grouping::weighted(v, rng); }, 200) == window);
  uint64_t turn = 0;
  std::vector<std::string> turns;
  for (int i = 0; i < 4; ++i)
    turns.push_back(grouping::round_robin(v, turn).front());
  CAF_CHECK(turns == (std::vector<std::string>{"10.0.0.8:1", "10.0.0.9:1", "10.0.0.0:1",
                                               "10.0.0.8:1"}));
  CAF_CHECK(grouping::least_in_flight(v, rng) == addresses{"10.0.0.9:1"});
  CAF_CHECK_EQUAL(grouping::all(v).size(), 10u);
  CAF_CHECK(grouping::first(v) == addresses{"10.0.0.0:1"});
  CAF_CHECK(grouping::leader(v) == addresses{"10.0.0.4:1"});
  v.width = 10; // as wide as the namespace: every server
  CAF_CHECK_EQUAL(draw([&] { return grouping::random(v, rng); }, 400).size(), 10u);
}

CAF_TEST(all first and leader) {
  auto v = three_servers();
  CAF_CHECK_EQUAL(grouping::all(v).size(), 3u);
  CAF_CHECK(grouping::first(v) == addresses{"10.0.0.1:1"});
  CAF_CHECK(grouping::leader(v) == addresses{"10.0.0.3:1"});
  v.leader = "10.9.9.9:1"; // elected, but not a candidate here
  CAF_CHECK(grouping::leader(v).empty());
  v.leader.clear();
  CAF_CHECK(grouping::leader(v).empty());
}

CAF_TEST(least in flight picks the idlest and breaks ties at random) {
  auto v = three_servers();
  std::mt19937_64 rng{1};
  CAF_CHECK(grouping::least_in_flight(v, rng) == addresses{"10.0.0.2:1"});
  for (auto& s : v.servers)
    s.in_flight = 1;
  CAF_CHECK_EQUAL(draw([&] { return grouping::least_in_flight(v, rng); }, 200).size(),
                  3u);
}

CAF_TEST(weighted never picks weight zero unless all are zero) {
  auto v = three_servers();
  std::mt19937_64 rng{7};
  auto seen = draw([&] { return grouping::weighted(v, rng); }, 500);
  CAF_CHECK(seen == (std::set<std::string>{"10.0.0.1:1", "10.0.0.3:1"}));
  for (auto& s : v.servers)
    s.weight = 0;
  CAF_CHECK_EQUAL(draw([&] { return grouping::weighted(v, rng); }, 200).size(), 3u);
  CAF_CHECK_EQUAL(grouping::weight_of("not json"), 1.0);
  CAF_CHECK_EQUAL(grouping::weight_of(R"({"weight":-2})"), 1.0);
  CAF_CHECK_EQUAL(grouping::weight_of(R"({"weight":2.5})"), 2.5);
}

CAF_TEST(round robin takes each server in turn) {
  auto v = three_servers();
  uint64_t turn = 0;
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i)
    order.push_back(grouping::round_robin(v, turn).front());
  CAF_CHECK(order ==
            (std::vector<std::string>{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1",
                                      "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"}));
}

CAF_TEST(a user grouping sees the view and unknown addresses are dropped) {
  auto v = three_servers();
  grouping_selector::views none;
  grouping_selector groupings{none};
  std::vector<char> args;
  std::string fn = "fn";
  grouping_call call{v.ns, fn, 0, args, v};
  grouping_policy by_data = grouping_fn{[](const grouping_call& c) -> grouping_choice {
    addresses heavy;
    for (auto& s : c.view.servers)
      if (grouping::weight_of(c.view.server_data(s.addr)) > 1)
        heavy.push_back(s.addr);
    heavy.push_back("192.0.2.1:9"); // not a candidate: dropped
    return heavy;
  }};
  CAF_CHECK(*groupings.select(by_data, call) == addresses{"10.0.0.3:1"});
  grouping_policy builtin = grouping_fn{[](const grouping_call&) -> grouping_choice {
    return grouping_kind::all;
  }};
  CAF_CHECK_EQUAL(groupings.select(builtin, call)->size(), 3u);
  grouping_policy one = grouping_fn{[](const grouping_call&) -> grouping_choice {
    return std::string{"10.0.0.2:1"};
  }};
  CAF_CHECK(*groupings.select(one, call) == addresses{"10.0.0.2:1"});
}

namespace {

/// A custom grouping: the candidate with the lowest latency it has heard of
/// (untried ones first), and what it was told.
class fastest final : public grouping::policy {
public:
  static inline std::vector<std::string> updates; // "ns:N servers", in order
  static inline int made = 0;

  fastest() {
    ++made;
  }

  void update(const grouping_view& view) override {
    updates.push_back(view.ns + ":" + std::to_string(view.servers.size()));
  }

  addresses select(const grouping_call& call) override {
    const candidate* best = nullptr;
    for (auto& s : call.view.servers)
      if (!best || latency(s.addr) < latency(best->addr))
        best = &s;
    if (!best)
      return {};
    return {best->addr, "192.0.2.1:9"}; // not a candidate: dropped
  }

  void feedback(const call_feedback& fb) override {
    latency_us[fb.addr] = fb.ok ? fb.latency.count() : 1'000'000;
  }

  bool wants_feedback() const override {
    return true;
  }

private:
  int64_t latency(const std::string& addr) const {
    auto i = latency_us.find(addr);
    return i == latency_us.end() ? 0 : i->second;
  }

  std::map<std::string, int64_t> latency_us;
};

} // namespace

CAF_TEST(a grouping registered by name hears the views and feedback and selects) {
  CAF_REQUIRE(grouping::add("test-fastest", [] { return std::make_unique<fastest>(); }));
  CAF_CHECK(!grouping::add("test-fastest", [] { return std::make_unique<fastest>(); }));
  CAF_CHECK(!grouping::add("random", [] { return std::make_unique<fastest>(); }));
  auto names = grouping::names();
  CAF_CHECK_EQUAL(names.front(), "random");
  CAF_CHECK(std::find(names.begin(), names.end(), "test-fastest") != names.end());
  grouping_selector::views views;
  views["ns"] = three_servers();
  views["other"] = grouping_view{"other", {}, {}};
  grouping_selector groupings{views};
  CAF_CHECK(!groupings.wants_feedback());
  auto v = three_servers();
  std::vector<char> args;
  std::string fn = "fn";
  grouping_call call{v.ns, fn, 0, args, v};
  grouping_policy p = grouping_name{"test-fastest"};
  fastest::updates.clear();
  CAF_CHECK(*groupings.select(p, call) == addresses{"10.0.0.1:1"});
  CAF_CHECK_EQUAL(fastest::made, 1);
  // Made on first use and told every view the dispatcher holds.
  CAF_CHECK_EQUAL(fastest::updates.size(), 2u);
  CAF_CHECK(groupings.wants_feedback());
  groupings.feedback({"ns", "10.0.0.1:1", std::chrono::microseconds{900}, true});
  groupings.feedback({"ns", "10.0.0.2:1", std::chrono::microseconds{50}, false});
  groupings.feedback({"ns", "10.0.0.3:1", std::chrono::microseconds{300}, true});
  CAF_CHECK(*groupings.select(p, call) == addresses{"10.0.0.3:1"});
  CAF_CHECK_EQUAL(fastest::made, 1); // one instance per selector
  groupings.update(grouping_view{"ns", {}, {}});
  CAF_CHECK_EQUAL(fastest::updates.back(), "ns:0");
  CAF_CHECK(!groupings.reads_in_flight(p));
  CAF_CHECK(groupings.reads_in_flight(grouping_kind::least_in_flight));
}

CAF_TEST(a grouping name nobody registered is an invalid request naming it) {
  grouping_selector::views none;
  grouping_selector groupings{none};
  auto v = three_servers();
  std::vector<char> args;
  std::string fn = "fn";
  grouping_call call{v.ns, fn, 0, args, v};
  auto res = groupings.select(grouping_name{"no-such-grouping"}, call);
  CAF_REQUIRE(!res);
  CAF_CHECK(code_of(res.error()) == sc::invalid_request);
  CAF_CHECK(describe(res.error()).find("no-such-grouping") != std::string::npos);
  // Built-ins are reached by name too, in either spelling.
  CAF_CHECK_EQUAL(groupings.select(grouping_name{"least_in_flight"}, call)->size(), 1u);
  CAF_CHECK_EQUAL(name_of(grouping_kind::round_robin), "round-robin");
}

CAF_TEST(grouping names parse both spellings) {
  grouping_kind k;
  CAF_CHECK(from_string("least-in-flight", k) && k == grouping_kind::least_in_flight);
  CAF_CHECK(from_string("round_robin", k) && k == grouping_kind::round_robin);
  CAF_CHECK(!from_string("fastest", k));
}

CAF_TEST(exceptions all fails only when every server failed) {
  std::vector<server_failure> one_failure{failed("a", sc::exception)};
  CAF_CHECK(!exceptions::all("ns/fn", {ok("b")}, one_failure));
  auto err = exceptions::all("ns/fn", {},
                             {failed("a", sc::timeout), failed("b", sc::exception)});
  CAF_REQUIRE(err.has_value());
  CAF_CHECK_EQUAL(code_of(*err), sc::timeout);
  CAF_CHECK_EQUAL(describe(*err),
                  "timeout: ns/fn failed on 2 of 2 server(s): a: timeout: cause at a; "
                  "b: exception: cause at b");
  CAF_CHECK(!exceptions::all("ns/fn", {}, {})); // nothing to fail
}

CAF_TEST(exceptions any fails on one failure) {
  auto err =
      exceptions::any("ns/fn", {ok("b"), ok("c")}, {failed("a", sc::connection_broken)});
  CAF_REQUIRE(err.has_value());
  CAF_CHECK_EQUAL(code_of(*err), sc::connection_broken);
  CAF_CHECK(describe(*err).find("failed on 1 of 3 server(s)") != std::string::npos);
  CAF_CHECK(!exceptions::any("ns/fn", {ok("b")}, {}));
}

CAF_TEST(a user exceptions policy decides) {
  exceptions_policy two_of_three =
      exceptions_fn{[](const std::vector<server_result>& oks,
                       const std::vector<server_failure>&) -> std::optional<caf::error> {
        if (oks.size() >= 2)
          return std::nullopt;
        return make_error(sc::exception, "no quorum");
      }};
  CAF_CHECK(!judge(two_of_three, "x", {ok("a"), ok("b")}, {failed("c", sc::timeout)}));
  CAF_CHECK(judge(two_of_three, "x", {ok("a")}, {failed("b", sc::timeout)}).has_value());
}

CAF_TEST(results shape typed values for single vector map and nil) {
  cluster_reply rep;
  for (auto addr : {"a:1", "b:1"}) {
    call_reply r;
    r.result = *encode_value(codec_id::caf_binary, int64_t{addr[0] == 'a' ? 1 : 2});
    rep.addrs.push_back(addr);
    rep.replies.push_back(r);
  }
  rep.shape = reply_shape::single;
  auto first = decode_cluster<int64_t>(rep, "x");
  CAF_CHECK(first && *first == 1);
  rep.shape = reply_shape::vector;
  auto all = decode_cluster<std::vector<int64_t>>(rep, "x");
  CAF_CHECK(all && *all == (std::vector<int64_t>{1, 2}));
  rep.shape = reply_shape::map;
  auto m = decode_cluster<std::map<std::string, int64_t>>(rep, "x");
  CAF_CHECK(m && *m == (std::map<std::string, int64_t>{{"a:1", 1}, {"b:1", 2}}));
  rep.shape = reply_shape::nil;
  auto none = decode_cluster<int64_t>(rep, "x");
  CAF_CHECK(none && *none == 0);
  // A vector reply with a scalar result type is a clear usage error.
  rep.shape = reply_shape::vector;
  auto wrong = decode_cluster<int64_t>(rep, "x");
  CAF_CHECK_EQUAL(code_of(wrong.error()), sc::invalid_request);
}

CAF_TEST(reduce turns a typed reducer into a results function) {
  auto sum = reduce<int64_t>([](const results::pairs<int64_t>& xs) {
    int64_t total = 0;
    for (auto& x : xs)
      total += x.second;
    return total;
  });
  std::vector<server_result> xs;
  for (int64_t v : {3, 4}) {
    call_reply r;
    r.result = *encode_value(codec_id::json, v);
    r.codec = codec_id::json;
    xs.push_back({"s", r});
  }
  auto out = sum(codec_id::json, xs);
  CAF_REQUIRE(out);
  auto total = decode_value<int64_t>(codec_id::json, *out);
  CAF_CHECK(total && *total == 7);
}

CAF_TEST(options resolve per call over per function over client default) {
  cluster_options client, fn, call;
  client.grouping = grouping_kind::first;
  client.timeout = std::chrono::milliseconds{100};
  client.ext["k"] = {'c'};
  fn.grouping = grouping_kind::all;
  fn.results = results_kind::map;
  fn.ext["k"] = {'f'};
  call.results = results_kind::vector;
  auto p = resolve(call, fn, client);
  CAF_CHECK(std::get<grouping_kind>(p.grouping) == grouping_kind::all);
  CAF_CHECK(std::get<results_kind>(p.results) == results_kind::vector);
  CAF_CHECK(std::get<exceptions_kind>(p.exceptions) == exceptions_kind::all);
  CAF_CHECK_EQUAL(p.timeout.count(), 100);
  CAF_CHECK(p.ext["k"] == std::vector<char>{'f'});
}

CAF_TEST(a quorum that fewer servers than it needs were called for says so) {
  using slacker::exceptions::short_of;
  auto few = describe(short_of("ns/f", 3, 2, {}, 2));
  CAF_CHECK(few.find("quorum of 3 not reached: 2 of 2 server(s) succeeded (only 2 "
                     "server(s) were called)") != std::string::npos);
  auto enough = describe(short_of("ns/f", 2, 1, {}, 3));
  CAF_CHECK(enough.find("were called") == std::string::npos);
}

CAF_TEST(every form of the exceptions policy decides through one contract) {
  std::vector<std::string> two_pending{"b", "c"};
  std::vector<std::string> none;
  std::vector<server_result> one_ok{ok("a")};
  std::vector<server_result> no_ok;
  std::vector<server_failure> one_failed{failed("a", sc::timeout)};
  std::vector<server_failure> no_failure;
  using kind = verdict::kind;
  auto decide = [&](const exceptions_policy& p, const std::vector<server_result>& s,
                    const std::vector<server_failure>& f,
                    const std::vector<std::string>& pending, bool one_result = false) {
    return exceptions::decide(p, {"ns/fn", s, f, pending, one_result}).what;
  };
  // all: waits for every answer, unless one success is all the results keep.
  CAF_CHECK(decide(exceptions_kind::all, one_ok, no_failure, two_pending) == kind::wait);
  CAF_CHECK(decide(exceptions_kind::all, one_ok, no_failure, two_pending, true) ==
            kind::succeed);
  CAF_CHECK(decide(exceptions_kind::all, no_ok, one_failed, none) == kind::fail);
  // any: fails at the first failure.
  CAF_CHECK(decide(exceptions_kind::any, no_ok, one_failed, two_pending) == kind::fail);
  CAF_CHECK(decide(exceptions_kind::any, one_ok, no_failure, none) == kind::succeed);
  // quorum: at its k-th success, or once k is out of reach.
  CAF_CHECK(decide(quorum{1}, one_ok, no_failure, two_pending) == kind::succeed);
  CAF_CHECK(decide(quorum{3}, one_ok, no_failure, none) == kind::fail);
  CAF_CHECK(decide(quorum{2}, no_ok, one_failed, two_pending) == kind::wait);
  // A judging function: once every answer is in.
  exceptions_fn strict = [](auto&, const std::vector<server_failure>& f) {
    return f.empty() ? std::nullopt : std::optional<caf::error>{f.front().err};
  };
  CAF_CHECK(decide(strict, no_ok, one_failed, two_pending) == kind::wait);
  CAF_CHECK(decide(strict, no_ok, one_failed, none) == kind::fail);
  // A deciding function, and `wait` at the end judged as `all`.
  decide_fn patient = [](auto&, auto&, auto&) {
    return verdict::wait();
  };
  CAF_CHECK(decide(patient, one_ok, no_failure, two_pending) == kind::wait);
  CAF_CHECK(decide(patient, one_ok, no_failure, none) == kind::succeed);
  CAF_CHECK(decide(patient, no_ok, one_failed, none) == kind::fail);
}

CAF_TEST(a failed connection says whether the call may have run) {
  auto unsent = connection_failed(false, "ns/fn: connection to h:1 lost");
  CAF_CHECK_EQUAL(code_of(unsent), sc::connection_broken);
  CAF_CHECK_EQUAL(describe(unsent), "connection_broken: ns/fn: connection to h:1 lost");
  auto sent = connection_failed(true, "ns/fn: connection to h:1 lost");
  CAF_CHECK_EQUAL(code_of(sent), sc::outcome_unknown);
  CAF_CHECK_EQUAL(describe(sent), "outcome_unknown: ns/fn: connection to h:1 lost after "
                                  "the call was sent: it may have run");
}

CAF_TEST(the retry rule resends what did not run and charges what may have) {
  using retry::verdict;
  auto after = [](sc code, bool sent, bool answered, bool idem) {
    return retry::after({code, sent, answered, idem});
  };
  CAF_CHECK(after(sc::none, true, true, true) == verdict::stop);
  // Never sent: anywhere, free.
  CAF_CHECK(after(sc::connection_broken, false, false, false) == verdict::free);
  // Answered draining: not run there, free.
  CAF_CHECK(after(sc::draining, true, true, false) == verdict::free);
  // Shed under load: elsewhere when idempotent, charged.
  CAF_CHECK(after(sc::overloaded, true, true, true) == verdict::charged);
  CAF_CHECK(after(sc::overloaded, true, true, false) == verdict::stop);
  // Lost after sending: it may have run.
  CAF_CHECK(after(sc::outcome_unknown, true, false, true) == verdict::charged);
  CAF_CHECK(after(sc::outcome_unknown, true, false, false) == verdict::stop);
  CAF_CHECK(after(sc::connection_broken, true, false, true) == verdict::charged);
  CAF_CHECK(after(sc::connection_broken, true, false, false) == verdict::stop);
  // The server's own answers stand, as do timeouts.
  CAF_CHECK(after(sc::connection_broken, true, true, true) == verdict::stop);
  CAF_CHECK(after(sc::exception, true, true, true) == verdict::stop);
  CAF_CHECK(after(sc::timeout, true, false, true) == verdict::stop);
}

namespace {

/// The routes of `three_servers()` as a dispatcher publishes them, with
/// `loads` calls in flight per server.
route_entry three_routes(std::vector<size_t> loads) {
  route_entry e;
  e.view = three_servers();
  for (size_t i = 0; i < e.view.servers.size(); ++i) {
    auto s = std::make_shared<route_server>();
    s->addr = e.view.servers[i].addr;
    s->in_flight = std::make_shared<in_flight_count>(loads[i]);
    s->health = std::make_shared<accrual::health>();
    e.servers.push_back(s);
  }
  e.direct = true;
  return e;
}

/// What `pick_index` picks, as addresses.
addresses pick_route(const route_entry& e, grouping_kind kind, route_board& board) {
  auto picked = pick_index(e, kind, board);
  return picked.every ? grouping::all(e.view) : grouping::address_of(e.view, picked.one);
}

} // namespace

CAF_TEST(a server counts as unheard until heard from or for as long as it was said) {
  accrual::health h;
  CAF_CHECK(!accrual::quiet(h));
  accrual::went_quiet(h, 1h);
  CAF_CHECK(accrual::quiet(h));
  accrual::heard(h);
  CAF_CHECK(!accrual::quiet(h));
  // The path that found it silent knows by then (it dropped the connection,
  // or its connect ended): no longer unheard, heard from or not.
  accrual::went_quiet(h, 0ns);
  CAF_CHECK(!accrual::quiet(h));
}

CAF_TEST(callers leave out a server that a call waits on without hearing from) {
  // 10.0.0.1 went quiet (a call waits on it and heard nothing for a ping
  // interval): the one-server groupings choose among the others; `all`
  // keeps it; the leader stays the leader; all quiet: chosen as before.
  route_board board;
  auto e = three_routes({0, 0, 0});
  accrual::went_quiet(*e.servers[0]->health, 1h);
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.2:1"});
  for (auto kind : {grouping_kind::random, grouping_kind::round_robin,
                    grouping_kind::least_in_flight})
    CAF_CHECK(draw([&] { return pick_route(e, kind, board); }, 200) ==
              (std::set<std::string>{"10.0.0.2:1", "10.0.0.3:1"}));
  CAF_CHECK(draw([&] { return pick_route(e, grouping_kind::weighted, board); }, 200) ==
            (std::set<std::string>{"10.0.0.3:1"})); // 10.0.0.2 weighs 0
  CAF_CHECK_EQUAL(pick_route(e, grouping_kind::all, board).size(), 3u);
  accrual::went_quiet(*e.servers[2]->health, 1h); // the leader
  CAF_CHECK(pick_route(e, grouping_kind::leader, board) == addresses{"10.0.0.3:1"});
  CAF_CHECK(draw([&] { return pick_route(e, grouping_kind::random, board); }, 100) ==
            (std::set<std::string>{"10.0.0.2:1"}));
  accrual::went_quiet(*e.servers[1]->health, 1h);
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.1:1"});
  CAF_CHECK_EQUAL(
      draw([&] { return pick_route(e, grouping_kind::random, board); }, 200).size(), 3u);
  accrual::heard(*e.servers[0]->health); // heard from again
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.1:1"});
}

CAF_TEST(callers pass over a server that answered overloaded for the backoff) {
  // 10.0.0.1 answered a call `overloaded` (refused unrun: no room): the
  // one-server groupings choose among the others for the backoff; an answer
  // from it does not end that (alive is not roomy); `canceled` and
  // `draining` do not start it; every server shedding: chosen as before.
  route_board board;
  auto e = three_routes({0, 0, 0});
  auto& h = *e.servers[0]->health;
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::canceled, 1h));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::draining, 1h));
  CAF_CHECK(!accrual::avoid(h));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::overloaded)); // backoff 0: off
  CAF_CHECK(!accrual::avoid(h));
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::overloaded, 1h));
  CAF_CHECK(accrual::avoid(h));
  CAF_CHECK(!accrual::quiet(h)); // not unheard: it answers
  accrual::heard(h);
  CAF_CHECK(!accrual::answered(h, 3, false, 1ms, sc::none, 1h));
  CAF_CHECK(accrual::avoid(h));
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.2:1"});
  for (auto kind : {grouping_kind::random, grouping_kind::round_robin,
                    grouping_kind::least_in_flight})
    CAF_CHECK(draw([&] { return pick_route(e, kind, board); }, 200) ==
              (std::set<std::string>{"10.0.0.2:1", "10.0.0.3:1"}));
  CAF_CHECK_EQUAL(pick_route(e, grouping_kind::all, board).size(), 3u);
  for (size_t i : {1, 2})
    accrual::shed(*e.servers[i]->health, 1h);
  CAF_CHECK_EQUAL(
      draw([&] { return pick_route(e, grouping_kind::random, board); }, 200).size(), 3u);
  // The backoff passes: chosen again.
  accrual::shed(h, 0ns);
  CAF_CHECK(!accrual::avoid(h));
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.1:1"});
}

CAF_TEST(a caller reads the table published last from any thread) {
  route_board board;
  CAF_CHECK(!board.read()->open); // an empty, closed table before the first
  auto first = std::make_shared<route_table>();
  first->open = true;
  board.publish(first);
  CAF_CHECK(board.read() == first);
  CAF_CHECK(board.read() == first); // kept by this thread, still the same
  auto second = std::make_shared<route_table>();
  board.publish(second);
  CAF_CHECK(board.read() == second);
  std::shared_ptr<const route_table> seen;
  std::thread{[&] {
    seen = board.read();
  }}.join();
  CAF_CHECK(seen == second);
  route_board other; // another client's board: its own table
  CAF_CHECK(other.read() != second);
  CAF_CHECK(board.read() == second);
}

CAF_TEST(callers choose with the built in groupings on the published routes) {
  route_board board;
  auto e = three_routes({2, 0, 5});
  CAF_CHECK(pick_route(e, grouping_kind::first, board) == addresses{"10.0.0.1:1"});
  CAF_CHECK(pick_route(e, grouping_kind::leader, board) == addresses{"10.0.0.3:1"});
  CAF_CHECK_EQUAL(pick_route(e, grouping_kind::all, board).size(), 3u);
  // Least in flight reads the live counts the brokers and lanes keep.
  for (int i = 0; i < 20; ++i)
    CAF_CHECK(pick_route(e, grouping_kind::least_in_flight, board) ==
              addresses{"10.0.0.2:1"});
  e.servers[1]->in_flight->store(9);
  CAF_CHECK(pick_route(e, grouping_kind::least_in_flight, board) ==
            addresses{"10.0.0.1:1"});
  // Ties at random: both idle servers are taken.
  e.servers[2]->in_flight->store(2);
  auto tied =
      draw([&] { return pick_route(e, grouping_kind::least_in_flight, board); }, 200);
  CAF_CHECK(tied == (std::set<std::string>{"10.0.0.1:1", "10.0.0.3:1"}));
  CAF_CHECK(draw([&] { return pick_route(e, grouping_kind::weighted, board); }, 200) ==
            (std::set<std::string>{"10.0.0.1:1", "10.0.0.3:1"}));
  CAF_CHECK_EQUAL(
      draw([&] { return pick_route(e, grouping_kind::random, board); }, 200).size(), 3u);
  // Round robin: one turn per client, shared by its calling threads.
  addresses turns;
  for (int i = 0; i < 6; ++i)
    turns.push_back(pick_route(e, grouping_kind::round_robin, board).front());
  CAF_CHECK(turns == (addresses{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.1:1",
                                "10.0.0.2:1", "10.0.0.3:1"}));
}

CAF_TEST(callers get the index of the one server picked and all only over several) {
  // What the calling thread routes on: an index into the routes (no address
  // copied per call); `all` over one server is a one-server call.
  route_board board;
  auto e = three_routes({0, 0, 0});
  auto first = pick_index(e, grouping_kind::first, board);
  CAF_CHECK(!first.every && first.one == std::optional<size_t>{0});
  auto leader = pick_index(e, grouping_kind::leader, board);
  CAF_CHECK(!leader.every && leader.one == std::optional<size_t>{2});
  auto all = pick_index(e, grouping_kind::all, board);
  CAF_CHECK(all.every && !all.one);
  e.view.leader.clear(); // none elected: no server
  leader = pick_index(e, grouping_kind::leader, board);
  CAF_CHECK(!leader.every && !leader.one);
  route_entry one;
  one.view.servers.push_back(e.view.servers[1]);
  one.servers.push_back(e.servers[1]);
  all = pick_index(one, grouping_kind::all, board);
  CAF_CHECK(!all.every && all.one == std::optional<size_t>{0});
  CAF_CHECK(pick_route(one, grouping_kind::all, board) == addresses{"10.0.0.2:1"});
  route_entry none;
  for (auto kind : {grouping_kind::all, grouping_kind::random, grouping_kind::first,
                    grouping_kind::least_in_flight, grouping_kind::weighted,
                    grouping_kind::round_robin}) {
    auto p = pick_index(none, kind, board);
    CAF_CHECK(!p.every && !p.one);
  }
}
