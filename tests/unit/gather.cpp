#define CAF_SUITE gather
#include <caf/test/dsl.hpp>

#include <algorithm>

#include "slacker/actors/detail/gather.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/config.hpp"

using namespace slacker;

namespace {

struct unit_config : caf::actor_system_config {
  unit_config() {
    slacker::add_message_types(*this);
  }
};

struct fixture : test_coordinator_fixture<unit_config> {
  caf::actor gather;
  std::vector<std::string> servers;

  void start(results_policy results, exceptions_policy exceptions,
             std::vector<std::string> addrs = {"a", "b", "c"}) {
    auto p = std::make_shared<call_policies>();
    p->results = std::move(results);
    p->exceptions = std::move(exceptions);
    p->timeout = std::chrono::milliseconds{1000};
    servers = addrs;
    gather = sys.spawn(gather_actor, std::string{"ns/fn"}, p, std::move(addrs));
    self->send(gather, gather_atom::value);
    sched.run();
  }

  /// What a connection broker sends the gather: the answer of call `id`,
  /// the index of its server.
  void reply(const std::string& addr, call_reply rep) {
    rep.id = static_cast<uint64_t>(std::find(servers.begin(), servers.end(), addr) -
                                   servers.begin());
    self->send(gather, rep);
    sched.run();
  }

  void answer(const std::string& addr, int64_t value) {
    call_reply rep;
    rep.result = *encode_value(codec_id::caf_binary, value);
    reply(addr, rep);
  }

  /// A failure as the broker reports it (e.g. `timeout` at the deadline,
  /// `connection_broken` when the connection drops).
  void fail(const std::string& addr, sc code) {
    call_reply rep;
    rep.err = make_error(code, "cause at " + addr);
    reply(addr, rep);
  }

  /// The gather's answer, if it has answered.
  std::optional<caf::expected<cluster_reply>> outcome() {
    std::optional<caf::expected<cluster_reply>> out;
    self->receive([&](cluster_reply& rep) { out = rep; },
                  [&](caf::error& err) { out = caf::expected<cluster_reply>{err}; },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    return out;
  }

  std::vector<int64_t> values(const cluster_reply& rep) {
    std::vector<int64_t> xs;
    for (auto& r : rep.replies)
      xs.push_back(*decode_value<int64_t>(r.codec, r.result));
    return xs;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(gather_tests, fixture)

CAF_TEST(single with all ends at the first success) {
  start(results_kind::single, exceptions_kind::all);
  answer("b", 2);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == std::vector<int64_t>{2});
  CAF_CHECK((*out)->addrs == std::vector<std::string>{"b"});
}

CAF_TEST(single with all skips failures until a success) {
  start(results_kind::single, exceptions_kind::all);
  fail("a", sc::connection_broken); // a server died mid-call: counted at once
  CAF_CHECK(!outcome());
  answer("c", 3);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == std::vector<int64_t>{3});
}

CAF_TEST(vector and map wait for every server) {
  start(results_kind::vector, exceptions_kind::all);
  answer("a", 1);
  answer("c", 3);
  CAF_CHECK(!outcome());
  answer("b", 2);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == (std::vector<int64_t>{1, 3, 2}));
  CAF_CHECK((*out)->addrs == (std::vector<std::string>{"a", "c", "b"}));
}

CAF_TEST(nil answers nothing once every server answered) {
  start(results_kind::nil, exceptions_kind::all);
  answer("a", 1);
  answer("b", 2);
  answer("c", 3);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK((*out)->replies.empty());
}

CAF_TEST(all keeps the successes of a partial failure) {
  start(results_kind::vector, exceptions_kind::all);
  answer("a", 1);
  fail("b", sc::exception);
  answer("c", 3);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == (std::vector<int64_t>{1, 3}));
}

CAF_TEST(all fails when every server failed and names each cause) {
  start(results_kind::vector, exceptions_kind::all, {"a", "b"});
  fail("a", sc::exception);
  fail("b", sc::connection_broken);
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::exception);
  CAF_CHECK_EQUAL(
      describe(out->error()),
      "exception: ns/fn failed on 2 of 2 server(s): a: exception: cause at a; "
      "b: connection_broken: cause at b");
}

CAF_TEST(any fails at the first failure without waiting) {
  start(results_kind::vector, exceptions_kind::any);
  answer("a", 1);
  fail("b", sc::connection_broken);
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::connection_broken);
}

CAF_TEST(timeouts from the brokers keep partial results) {
  start(results_kind::vector, exceptions_kind::all);
  answer("a", 1);
  fail("b", sc::timeout);
  CAF_CHECK(!outcome());
  fail("c", sc::timeout);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == std::vector<int64_t>{1});
}

CAF_TEST(timeouts only fail with timeout) {
  start(results_kind::single, exceptions_kind::all, {"a", "b"});
  fail("a", sc::timeout);
  fail("b", sc::timeout);
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::timeout);
}

CAF_TEST(any with a timeout fails although others succeeded) {
  start(results_kind::map, exceptions_kind::any);
  answer("a", 1);
  answer("b", 2);
  fail("c", sc::timeout);
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::timeout);
}

CAF_TEST(a server error inside a reply counts as that server failing) {
  start(results_kind::single, exceptions_kind::all, {"a"});
  call_reply rep;
  rep.err = make_error(sc::not_found, "no function fn");
  reply("a", rep);
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::not_found);
}

CAF_TEST(a user results function reduces the successes) {
  results_fn sum = [](codec_id c, const std::vector<server_result>& xs) {
    int64_t total = 0;
    for (auto& x : xs)
      total += *decode_value<int64_t>(x.reply.codec, x.reply.result);
    return encode_value(c, total);
  };
  start(sum, exceptions_kind::all);
  answer("a", 1);
  answer("b", 2);
  answer("c", 3);
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK((*out)->shape == reply_shape::whole);
  CAF_CHECK(values(**out) == std::vector<int64_t>{6});
}

CAF_TEST_FIXTURE_SCOPE_END()
