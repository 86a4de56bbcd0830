#define CAF_SUITE policies
#include <caf/test/unit_test.hpp>

#include <map>
#include <random>
#include <set>

#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/exceptions.hpp"
#include "slacker/policy/grouping.hpp"

using namespace slacker;

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
  std::mt19937_64 rng{3};
  uint64_t turn = 0;
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
  CAF_CHECK(choose(by_data, call, rng, turn) == addresses{"10.0.0.3:1"});
  grouping_policy builtin = grouping_fn{[](const grouping_call&) -> grouping_choice {
    return grouping_kind::all;
  }};
  CAF_CHECK_EQUAL(choose(builtin, call, rng, turn).size(), 3u);
  grouping_policy one = grouping_fn{[](const grouping_call&) -> grouping_choice {
    return std::string{"10.0.0.2:1"};
  }};
  CAF_CHECK(choose(one, call, rng, turn) == addresses{"10.0.0.2:1"});
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
