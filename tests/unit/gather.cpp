#define CAF_SUITE gather
#include <caf/test/dsl.hpp>

#include "slacker/actors/gather.hpp"
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

  ~fixture() override {
    sched.trigger_timeouts(); // let a gather that has not decided finish
    sched.run();
  }

  void start(results_policy results, exceptions_policy exceptions,
             std::vector<std::string> addrs = {"a", "b", "c"}) {
    auto p = std::make_shared<call_policies>();
    p->results = std::move(results);
    p->exceptions = std::move(exceptions);
    p->timeout = std::chrono::milliseconds{1000};
    gather = sys.spawn(gather_actor, std::string{"ns/fn"}, p, std::move(addrs),
                       std::chrono::steady_clock::duration{std::chrono::seconds{1}});
    self->send(gather, gather_atom::value);
    sched.run(); // messages only: the deadline fires when a test says so
  }

  void answer(const std::string& addr, int64_t value) {
    call_reply rep;
    rep.result = *encode_value(codec_id::caf_binary, value);
    self->send(gather, addr, rep);
    sched.run(); // messages only: the deadline fires when a test says so
  }

  void fail(const std::string& addr, sc code) {
    self->send(gather, addr, make_error(code, "cause at " + addr));
    sched.run(); // messages only: the deadline fires when a test says so
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
  CAF_CHECK_EQUAL(describe(out->error()),
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

CAF_TEST(the deadline turns missing answers into timeouts and keeps partial results) {
  start(results_kind::vector, exceptions_kind::all);
  answer("a", 1);
  sched.trigger_timeouts();
  sched.run();
  auto out = outcome();
  CAF_REQUIRE(out && *out);
  CAF_CHECK(values(**out) == std::vector<int64_t>{1});
}

CAF_TEST(the deadline with no answer at all fails with timeout) {
  start(results_kind::single, exceptions_kind::all, {"a"});
  sched.trigger_timeouts();
  sched.run();
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::timeout);
}

CAF_TEST(any with a timeout fails although others succeeded) {
  start(results_kind::map, exceptions_kind::any);
  answer("a", 1);
  answer("b", 2);
  sched.trigger_timeouts();
  sched.run();
  auto out = outcome();
  CAF_REQUIRE(out && !*out);
  CAF_CHECK_EQUAL(code_of(out->error()), sc::timeout);
}

CAF_TEST(a server error inside a reply counts as that server failing) {
  start(results_kind::single, exceptions_kind::all, {"a"});
  call_reply rep;
  rep.err = make_error(sc::not_found, "no function fn");
  self->send(gather, std::string{"a"}, rep);
  sched.run();
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
  CAF_CHECK((*out)->whole);
  CAF_CHECK(values(**out) == std::vector<int64_t>{6});
}

CAF_TEST_FIXTURE_SCOPE_END()
