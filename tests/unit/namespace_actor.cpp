#define CAF_SUITE namespace_actor
#include <caf/test/dsl.hpp>

#include <deque>
#include <stdexcept>

#include "slacker/actors/client.hpp"
#include "slacker/actors/detail/namespace_actor.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/require.hpp"
#include "tests/test_types.hpp"

using namespace slacker;

namespace {

struct unit_config : caf::actor_system_config {
  unit_config() {
    slacker::add_message_types(*this);
  }
};

/// A worker pool the test drives: jobs run when the test says so.
struct manual_pool : worker_pool {
  explicit manual_pool(size_t bound) : bound(bound) {}
  job_refusal submit(pool_job j) override {
    if (jobs.size() >= bound)
      return job_refusal::queue_full;
    jobs.push_back(std::move(j));
    return job_refusal::none;
  }
  void run_one() {
    auto j = std::move(jobs.front());
    jobs.pop_front();
    j.run();
  }
  void purge() override {
    ++purges;
  }
  size_t bound;
  size_t purges = 0;
  std::deque<pool_job> jobs;
};

struct fixture : test_coordinator_fixture<unit_config> {
  std::shared_ptr<manual_pool> pool = std::make_shared<manual_pool>(1);
  std::shared_ptr<manual_pool> ops = std::make_shared<manual_pool>(4); // operator lane
  namespace_actor_type api;

  fixture() {
    auto fns = std::make_shared<const ns>(
        ns("test.api")
            .def("add", [](int64_t a, int64_t b) { return a + b; })
            .def("fail",
                 [](std::string what) -> int64_t { throw std::runtime_error(what); })
            .def(
                "wait", [](int64_t x) { return x; }, "runs on the pool", blocking)
            .def("caf_only", [](slacker_test::caf_only x) { return x; })
            .def(
                "admin", [] { return true; }, "an operator's command", blocking)
            .guard("admin")
            .def(
                "status", [] { return true; }, "an operator's read", blocking)
            .operator_lane("status"));
    api = sys.spawn(namespace_actor, fns, pool, ops);
    run();
  }

  ~fixture() override {
    caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  }

  template <class... Ts>
  call_request make(codec_id codec, const std::string& fn, const Ts&... xs) {
    auto req = make_call(call_options{std::chrono::seconds{10}, codec, {}},
                         "test.api/" + fn, xs...);
    CAF_REQUIRE(req);
    req->id = 7;
    return std::move(*req);
  }

  call_reply reply() {
    call_reply out;
    bool got = false;
    self->receive(
        [&](call_reply& rep) {
          out = std::move(rep);
          got = true;
        },
        caf::after(std::chrono::seconds{0}) >> [] {});
    SLACKER_REQUIRE(got, "no reply");
    return out;
  }

  call_reply roundtrip(call_request req) {
    self->send(api, std::move(req));
    run();
    return reply();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(namespace_actor_tests, fixture)

CAF_TEST(a call succeeds and echoes id codec and extensions) {
  auto req = make(codec_id::json, "add", int64_t{2}, int64_t{40});
  req.ext["trace"] = slacker::bytes{'a', 'b'};
  auto rep = roundtrip(std::move(req));
  CAF_CHECK(!rep.err);
  CAF_CHECK_EQUAL(rep.id, 7u);
  CAF_CHECK(rep.codec == codec_id::json);
  CAF_CHECK(rep.ext.at("trace") == (slacker::bytes{'a', 'b'}));
  auto value = result_of<int64_t>(rep);
  CAF_REQUIRE(value);
  CAF_CHECK_EQUAL(*value, 42);
}

CAF_TEST(an unknown function gives not_found) {
  auto rep = roundtrip(make(codec_id::caf_binary, "nope"));
  CAF_CHECK_EQUAL(code_of(rep.err), sc::not_found);
  CAF_CHECK_EQUAL(describe(rep.err), "not_found: no function nope in namespace test.api");
}

CAF_TEST(a thrown exception gives exception with its text) {
  auto rep = roundtrip(make(codec_id::caf_binary, "fail", std::string{"boom"}));
  CAF_CHECK_EQUAL(code_of(rep.err), sc::exception);
  CAF_CHECK_EQUAL(describe(rep.err), "exception: test.api/fail threw: boom");
  // The actor keeps serving.
  auto ok = roundtrip(make(codec_id::caf_binary, "add", int64_t{1}, int64_t{1}));
  CAF_CHECK(!ok.err);
}

CAF_TEST(an expired deadline gives canceled without running the function) {
  auto req = make(codec_id::caf_binary, "fail", std::string{"must not run"});
  req.deadline_ns = 1;
  auto rep = roundtrip(std::move(req));
  CAF_CHECK_EQUAL(code_of(rep.err), sc::canceled);
}

CAF_TEST(an expired deadline cancels a blocking call before it runs) {
  auto req = make(codec_id::caf_binary, "wait", int64_t{1});
  req.deadline_ns = 1;
  self->send(api, std::move(req));
  run();
  CAF_REQUIRE_EQUAL(pool->jobs.size(), 1u);
  pool->run_one();
  run();
  CAF_CHECK_EQUAL(code_of(reply().err), sc::canceled);
}

CAF_TEST(blocking calls run on the pool and a full queue gives overloaded) {
  self->send(api, make(codec_id::caf_binary, "wait", int64_t{5}));
  run();
  CAF_CHECK_EQUAL(pool->jobs.size(), 1u);
  // The queue holds one job: a second call is refused at once.
  auto busy = roundtrip(make(codec_id::caf_binary, "wait", int64_t{6}));
  CAF_CHECK_EQUAL(code_of(busy.err), sc::overloaded);
  pool->run_one();
  run();
  auto done = reply();
  CAF_CHECK(!done.err);
  auto value = result_of<int64_t>(done);
  CAF_REQUIRE(value);
  CAF_CHECK_EQUAL(*value, 5);
}

CAF_TEST(operator functions run on the operator lane and never queue behind user work) {
  self->send(api, make(codec_id::caf_binary, "wait", int64_t{5}));
  run();
  CAF_REQUIRE_EQUAL(pool->jobs.size(), 1u); // the user pool is full
  self->send(api, make(codec_id::caf_binary, "admin"));
  self->send(api, make(codec_id::caf_binary, "status"));
  run();
  CAF_CHECK_EQUAL(pool->jobs.size(), 1u);
  CAF_REQUIRE_EQUAL(ops->jobs.size(), 2u);
  ops->run_one();
  ops->run_one();
  run();
  CAF_CHECK(!reply().err);
  CAF_CHECK(!reply().err);
}

CAF_TEST(the waiting calls of a caller that went away are marked and purged) {
  auto req = make(codec_id::caf_binary, "wait", int64_t{5});
  auto caller = sys.spawn([req, to = api](caf::event_based_actor* s) -> caf::behavior {
    s->send(to, req);
    return {[](call_reply&) {
    }};
  });
  run();
  CAF_REQUIRE_EQUAL(pool->jobs.size(), 1u);
  auto gone = pool->jobs.front().gone;
  CAF_REQUIRE(gone != nullptr);
  CAF_CHECK(!gone->load());
  caf::anon_send_exit(caller, caf::exit_reason::kill);
  run();
  CAF_CHECK(gone->load());
  CAF_CHECK_EQUAL(pool->purges, 1u);
  // Dropped by the pool: answered without running.
  auto job = std::move(pool->jobs.front());
  pool->jobs.pop_front();
  CAF_REQUIRE(job.drop);
  job.drop(job_refusal::gone);
  run(); // the namespace actor forgets the call; nobody waits for it
  CAF_CHECK(sched.jobs.empty());
}

CAF_TEST(drain answers once the running blocking calls finished) {
  self->send(api, make(codec_id::caf_binary, "wait", int64_t{5}));
  run();
  self->send(api, drain_atom::value);
  run();
  bool drained = false;
  self->receive([&](bool) { drained = true; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  CAF_CHECK(!drained); // the call still runs
  pool->run_one();
  run();
  CAF_CHECK(!reply().err);
  self->receive([&](bool) { drained = true; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  CAF_CHECK(drained);
}

CAF_TEST(undecodable arguments give codec_error) {
  auto req = make(codec_id::caf_binary, "add", int64_t{1}, int64_t{2});
  req.args = {'\x01', '\x02'};
  auto rep = roundtrip(std::move(req));
  CAF_CHECK_EQUAL(code_of(rep.err), sc::codec_error);
  // Wrong argument types: a string where two integers are expected.
  auto wrong = roundtrip(make(codec_id::json, "add", std::string{"x"}));
  CAF_CHECK_EQUAL(code_of(wrong.err), sc::codec_error);
}

CAF_TEST(a codec the function types do not support gives codec_error) {
  auto req = make(codec_id::caf_binary, "caf_only", slacker_test::caf_only{1});
  req.codec = codec_id::json;
  auto rep = roundtrip(std::move(req));
  CAF_CHECK_EQUAL(code_of(rep.err), sc::codec_error);
  CAF_CHECK_EQUAL(describe(rep.err),
                  "codec_error: test.api/caf_only does not support codec json");
}

CAF_TEST(slacker errors render as sentences through the actor system) {
  auto err = make_error(sc::unavailable, "no server provides a/b in cluster c");
  CAF_CHECK_EQUAL(sys.render(err), "unavailable: no server provides a/b in cluster c");
  for (uint8_t code = 1; code <= static_cast<uint8_t>(sc::draining); ++code)
    CAF_CHECK_NOT_EQUAL(std::string{to_string(static_cast<sc>(code))}, "unknown");
}

CAF_TEST_FIXTURE_SCOPE_END()
