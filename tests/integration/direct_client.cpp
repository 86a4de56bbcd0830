#define CAF_SUITE direct_client
#include <caf/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <new>
#include <tuple>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/support/process.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/blocking_lane.hpp"
#include "slacker/actors/detail/caller_path.hpp"
#include "slacker/actors/detail/client_connection.hpp"
#include "slacker/actors/detail/routes.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/binaries.hpp"
#include "tests/raw_conn.hpp"
#include "tests/require.hpp"
#include "tests/test_types.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::point;

namespace {

/// Allocations counted while a thread says so (`counting`), for the
/// allocation budgets of a call's path.
thread_local bool counting = false;
std::atomic<uint64_t> allocations{0};
std::atomic<bool> counting_all{false};

void* counted_new(size_t n) {
  if (counting || counting_all.load(std::memory_order_relaxed))
    allocations.fetch_add(1, std::memory_order_relaxed);
  if (auto p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc{};
}

} // namespace

void* operator new(size_t n) {
  return counted_new(n);
}

void* operator new[](size_t n) {
  return counted_new(n);
}

namespace {

struct test_config : slacker::config {
  test_config() {
    add_message_type<point>("slacker_test::point");
    add_message_type<slacker_test::client_only>("slacker_test::client_only");
  }
};

/// A test-server process, serving once `port` is known.
struct server_process {
  slacker_test::process proc;
  uint16_t port = 0;

  explicit server_process(uint16_t fixed_port = 0)
    : proc({slacker_test::binary_path("test-server"),
            "--port=" + std::to_string(fixed_port), "--slacker.worker-threads=2"}) {
    auto line = proc.wait_for("port ", 15000);
    SLACKER_REQUIRE(line, "test-server did not start");
    port = static_cast<uint16_t>(std::stoi(*line));
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(port);
  }
};

/// A listener whose accept queue is full (one connection, never accepted):
/// the kernel drops further SYNs, and a connect to it waits as one to a host
/// cut off does.
struct hanging_listener {
  hanging_listener() {
    std::tie(fd, port) = slacker_test::loopback_listener(0);
    if (fd >= 0)
      filler = std::make_unique<slacker_test::raw_conn>(port);
  }

  ~hanging_listener() {
    filler.reset();
    if (fd >= 0)
      ::close(fd);
  }

  hanging_listener(const hanging_listener&) = delete;
  hanging_listener& operator=(const hanging_listener&) = delete;

  bool ready() const {
    return fd >= 0 && filler && filler->connected();
  }

  int fd = -1;
  uint16_t port = 0;
  std::unique_ptr<slacker_test::raw_conn> filler;
};

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  server_process server;
  slacker::client client{sys, server.address()};
};

constexpr codec_id all_codecs[] = {codec_id::caf_binary, codec_id::json,
                                   codec_id::boost_binary};

call_options with(codec_id c) {
  call_options opts;
  opts.codec = c;
  return opts;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(direct_client_tests, fixture)

CAF_TEST(every codec carries every kind of value across processes) {
  for (auto c : all_codecs) {
    CAF_MESSAGE("codec " << to_string(c));
    auto echo = client.call<std::string>(with(c), "test.api/echo", "hi");
    SLACKER_REQUIRE(echo, describe(echo.error()));
    CAF_CHECK_EQUAL(*echo, "hi");
    auto sum = client.call<int64_t>(with(c), "test.api/add", int64_t{40}, int64_t{2});
    CAF_REQUIRE(sum);
    CAF_CHECK_EQUAL(*sum, 42);
    auto moved =
        client.call<point>(with(c), "test.api/move", point{1, 2, "p"}, int32_t{10});
    SLACKER_REQUIRE(moved, describe(moved.error()));
    CAF_CHECK(*moved == (point{11, 2, "p"}));
    auto doubled = client.call<std::vector<double>>(with(c), "test.api/doubles",
                                                    std::vector<double>{1.5, -2});
    CAF_REQUIRE(doubled);
    CAF_CHECK(*doubled == (std::vector<double>{3, -4}));
    std::map<std::string, int32_t> m{{"a", 1}};
    auto found = client.call<std::optional<int32_t>>(with(c), "test.api/lookup", m, "a");
    CAF_REQUIRE(found);
    CAF_CHECK(*found == std::optional<int32_t>{1});
    auto missing =
        client.call<std::optional<int32_t>>(with(c), "test.api/lookup", m, "b");
    CAF_REQUIRE(missing);
    CAF_CHECK(!missing->has_value());
    auto negated = client.call<bool>(with(c), "test.api/negate", true);
    CAF_REQUIRE(negated);
    CAF_CHECK_EQUAL(*negated, false);
    auto nothing = client.call<void>(with(c), "test.api/nothing");
    CAF_CHECK(nothing);
  }
}

CAF_TEST(every error comes back with its code and a sentence) {
  auto no_ns = client.call<int64_t>("no.such/fn");
  CAF_REQUIRE(!no_ns);
  CAF_CHECK_EQUAL(code_of(no_ns.error()), sc::not_found);
  CAF_CHECK_EQUAL(describe(no_ns.error()),
                  "not_found: no namespace no.such (on " + server.address() + ")");
  auto no_fn = client.call<int64_t>("test.api/nope");
  CAF_CHECK_EQUAL(code_of(no_fn.error()), sc::not_found);
  auto thrown = client.call<int32_t>("test.api/fail", "bad input");
  CAF_CHECK_EQUAL(code_of(thrown.error()), sc::exception);
  CAF_CHECK_EQUAL(describe(thrown.error()),
                  "exception: test.api/fail threw: bad input (on " + server.address() +
                      ")");
  auto wrong_codec = client.call<slacker_test::caf_only>(with(codec_id::json),
                                                         "test.api/caf_only", int64_t{1});
  CAF_CHECK_EQUAL(code_of(wrong_codec.error()), sc::codec_error);
  auto wrong_args = client.call<int64_t>("test.api/add", "not a number");
  CAF_CHECK_EQUAL(code_of(wrong_args.error()), sc::codec_error);
  auto bad_name = client.call<int64_t>("no-slash");
  CAF_CHECK_EQUAL(code_of(bad_name.error()), sc::invalid_request);
  call_options short_timeout;
  short_timeout.timeout = 200ms;
  auto late = client.call<int64_t>(short_timeout, "test.api/slow", int64_t{2000});
  CAF_CHECK_EQUAL(code_of(late.error()), sc::timeout);
  // A deadline that passed before the call ran: the server answers canceled.
  auto expired = make_call(call_options{}, "test.api/add", int64_t{1}, int64_t{2});
  CAF_REQUIRE(expired);
  expired->deadline_ns = detail::deadline_after(-1s);
  auto canceled = client.invoke(std::move(*expired), 5s);
  CAF_REQUIRE(!canceled);
  CAF_CHECK_EQUAL(code_of(canceled.error()), sc::canceled);
  auto down = slacker::client{sys, "127.0.0.1:1"}.call<int64_t>("test.api/add",
                                                                int64_t{1}, int64_t{2});
  CAF_CHECK_EQUAL(code_of(down.error()), sc::connection_broken);
  auto nonsense = slacker::client{sys, "nonsense"}.call<int64_t>("a/b");
  CAF_CHECK_EQUAL(code_of(nonsense.error()), sc::invalid_request);
}

CAF_TEST(extensions travel to the server and back) {
  call_options opts;
  opts.ext["trace-id"] = slacker::bytes{'4', '2'};
  auto req = make_call(opts, "test.api/echo", "x");
  CAF_REQUIRE(req);
  auto rep = client.invoke(std::move(*req), 5s);
  CAF_REQUIRE(rep);
  CAF_CHECK(rep->ext.at("trace-id") == (slacker::bytes{'4', '2'}));
}

CAF_TEST(every registered type crosses a real connection intact) {
  // The reflector on the server sends every message back as it came.
  auto check = [&](auto value) {
    using T = decltype(value);
    auto back = client.ask<T>("test.reflect", value);
    SLACKER_REQUIRE(back, describe(back.error()));
    return *back;
  };
  call_request req;
  req.id = 3;
  req.ns = "n";
  req.fn = "f";
  req.codec = codec_id::json;
  req.args = {'[', ']'};
  req.deadline_ns = 99;
  req.ext["k"] = {'v'};
  auto req2 = check(req);
  CAF_CHECK(req2.id == 3 && req2.ns == "n" && req2.fn == "f" &&
            req2.codec == codec_id::json && req2.args == req.args &&
            req2.deadline_ns == 99 && req2.ext == req.ext);
  call_reply rep;
  rep.id = 4;
  rep.result = {'1'};
  rep.err = make_error(sc::overloaded, "full");
  rep.ext["k"] = {'w'};
  auto rep2 = check(rep);
  CAF_CHECK(rep2.id == 4 && rep2.result == rep.result && rep2.ext == rep.ext);
  CAF_CHECK_EQUAL(describe(rep2.err), "overloaded: full");
  std::vector<function_info> infos{{"f", "doc", {"int64"}, "string", {"caf"}, true}};
  auto infos2 = check(infos);
  CAF_REQUIRE_EQUAL(infos2.size(), 1u);
  CAF_CHECK(infos2[0].name == "f" && infos2[0].doc == "doc" && infos2[0].blocking &&
            infos2[0].arg_types == infos[0].arg_types &&
            infos2[0].codecs == infos[0].codecs);
  auto p = check(point{1, 2, "user type"});
  CAF_CHECK(p == (point{1, 2, "user type"}));
  // A plain actor namespace answers typed messages unchanged.
  auto doubled = client.ask<int32_t>("test.reflect", int32_t{21});
  CAF_REQUIRE(doubled);
  CAF_CHECK_EQUAL(*doubled, 42);
}

CAF_TEST(a typed actor namespace answers typed asks and says what it is) {
  slacker_test::process typed{
      {slacker_test::binary_path("test-server"), "--port=0", "--typed"}};
  auto line = typed.wait_for("port ", 15000);
  SLACKER_REQUIRE(line, "test-server did not start");
  slacker::client c{sys, "127.0.0.1:" + *line};
  auto doubled = c.ask<int32_t>("test.typed", int32_t{21});
  SLACKER_REQUIRE(doubled, describe(doubled.error()));
  CAF_CHECK_EQUAL(*doubled, 42);
  // Described: one `_actor` entry listing the messages it takes.
  auto fns = c.functions("test.typed");
  SLACKER_REQUIRE(fns, describe(fns.error()));
  CAF_REQUIRE_EQUAL(fns->size(), 1u);
  CAF_CHECK_EQUAL(fns->front().name, "_actor");
  CAF_CHECK_EQUAL(fns->front().arg_types.size(), 2u);
  CAF_CHECK(fns->front().doc.find("typed messages") != std::string::npos);
  // A function call on it says how to reach it.
  auto called = c.call<int32_t>("test.typed/double", int32_t{1});
  CAF_REQUIRE(!called);
  CAF_CHECK_EQUAL(code_of(called.error()), sc::not_found);
  CAF_CHECK(describe(called.error()).find("cluster_client::ask") != std::string::npos);
  // Types not registered on one side: a codec_error naming the type, and
  // nothing on CAF's standard error.
  auto there = c.ask<int32_t>("test.typed", slacker_test::client_only{1});
  CAF_REQUIRE(!there);
  CAF_CHECK_EQUAL(code_of(there.error()), sc::codec_error);
  CAF_MESSAGE(describe(there.error()));
  CAF_CHECK(describe(there.error()).find("slacker_test::client_only") !=
            std::string::npos);
  CAF_CHECK(describe(there.error()).find("server") != std::string::npos);
  auto here = c.ask<slacker_test::server_only>("test.typed", std::string{"x"});
  CAF_REQUIRE(!here);
  CAF_CHECK_EQUAL(code_of(here.error()), sc::codec_error);
  CAF_MESSAGE(describe(here.error()));
  CAF_CHECK(describe(here.error()).find("slacker_test::server_only") !=
            std::string::npos);
  auto nowhere = c.ask<int32_t>("test.typed", slacker_test::caf_only{1});
  CAF_REQUIRE(!nowhere);
  CAF_CHECK_EQUAL(code_of(nowhere.error()), sc::codec_error);
  CAF_MESSAGE(describe(nowhere.error()));
  CAF_CHECK(describe(nowhere.error()).find("slacker_test::caf_only") !=
            std::string::npos);
  // A message it does not take: not_found (it ran nothing).
  auto other = c.ask<int32_t>("test.typed", 1.5);
  CAF_REQUIRE(!other);
  CAF_CHECK_EQUAL(code_of(other.error()), sc::not_found);
  CAF_CHECK(describe(other.error()).find("takes no such message") != std::string::npos);
  // The connection and the actor are fine afterwards.
  auto again = c.ask<int32_t>("test.typed", int32_t{2});
  SLACKER_REQUIRE(again, describe(again.error()));
  CAF_CHECK_EQUAL(*again, 4);
}

CAF_TEST(the server lists namespaces and function metadata) {
  auto names = client.namespaces();
  SLACKER_REQUIRE(names, describe(names.error()));
  CAF_CHECK(*names ==
            (std::vector<std::string>{"test.admin", "test.api", "test.reflect"}));
  auto fns = client.functions("test.api");
  SLACKER_REQUIRE(fns, describe(fns.error()));
  auto add =
      std::find_if(fns->begin(), fns->end(), [](auto& f) { return f.name == "add"; });
  CAF_REQUIRE(add != fns->end());
  CAF_CHECK_EQUAL(add->doc, "a + b");
  CAF_CHECK(add->arg_types == (std::vector<std::string>{"int64", "int64"}));
  CAF_CHECK_EQUAL(add->result_type, "int64");
  CAF_CHECK(add->codecs == (std::vector<std::string>{"caf", "json", "boost"}));
  auto missing = client.functions("no.such");
  CAF_REQUIRE(!missing);
  CAF_CHECK_EQUAL(code_of(missing.error()), sc::not_found);
  // The port speaks slacker's protocol only: CAF's remoting (BASP), through
  // which a remote node once reached the server's actors, gets nowhere.
  auto basp = sys.middleman().remote_actor("127.0.0.1", server.port);
  CAF_CHECK(!basp);
  auto still = client.call<std::string>("test.api/echo", "alive");
  CAF_REQUIRE(still);
  CAF_CHECK_EQUAL(*still, "alive");
}

CAF_TEST(a server killed mid call fails the call at once as outcome unknown) {
  CAF_REQUIRE(client.call<int64_t>("test.api/add", int64_t{1}, int64_t{1}));
  auto slow = make_call(call_options{}, "test.api/slow", int64_t{30000});
  auto echo = make_call(call_options{}, "test.api/echo", "after");
  CAF_REQUIRE(slow && echo);
  // Both go out from one sender, in order: once the echo is answered, the
  // slow call is running on the server.
  caf::scoped_actor self{sys};
  auto pending = self->request(client.actor(), caf::infinite, std::move(*slow));
  self->request(client.actor(), 5s, std::move(*echo))
      .receive([](call_reply&) {}, [](caf::error& err) { CAF_FAIL(describe(err)); });
  auto start = std::chrono::steady_clock::now();
  server.proc.kill();
  caf::expected<call_reply> res{caf::error{}};
  pending.receive([&](call_reply& rep) { res = std::move(rep); },
                  [&](caf::error& err) { res = std::move(err); });
  auto took = std::chrono::steady_clock::now() - start;
  CAF_REQUIRE(!res);
  // It was running: it may have run, and says so.
  CAF_CHECK_EQUAL(code_of(res.error()), sc::outcome_unknown);
  CAF_CHECK(describe(res.error()).find("it may have run") != std::string::npos);
  CAF_CHECK(took < 1s);
}

CAF_TEST(a restarted server is reconnected by the next call) {
  auto port = server.port;
  CAF_REQUIRE(client.call<int64_t>("test.api/add", int64_t{1}, int64_t{1}));
  server.proc.kill();
  auto during = client.call<int64_t>("test.api/add", int64_t{1}, int64_t{1});
  CAF_CHECK(!during);
  server_process again{port};
  auto after = client.call<int64_t>("test.api/add", int64_t{2}, int64_t{3});
  SLACKER_REQUIRE(after, describe(after.error()));
  CAF_CHECK_EQUAL(*after, 5);
}

CAF_TEST(ten thousand sequential calls lose nothing) {
  int64_t ok = 0;
  for (int64_t i = 0; i < 10000; ++i) {
    auto r = client.call<int64_t>("test.api/add", i, int64_t{1});
    if (r && *r == i + 1)
      ++ok;
  }
  CAF_CHECK_EQUAL(ok, 10000);
}

CAF_TEST(a call allocates no copy of its name and no frame of its own) {
  // A name longer than a std::string keeps inline: each copy of it costs an
  // allocation, as does a frame written into a buffer of its own.
  const std::string fn = "test.api/add-under-a-longer-name";
  constexpr int calls = 1000;
  auto one = [&](int64_t i) {
    auto r = client.call<int64_t>(fn, i, int64_t{1});
    return r && *r == i + 1;
  };
  SLACKER_REQUIRE(one(0), "the first call failed");
  // A blocking call runs in the calling thread: all of its allocations are
  // this thread's. What the call holds: the function's name in the request
  // (its namespace fits inline), the encoded arguments, the answer's bytes.
  int ok = 0;
  allocations = 0;
  counting = true;
  for (int i = 0; i < calls; ++i)
    ok += one(i);
  counting = false;
  auto blocking = allocations.load();
  CAF_CHECK_EQUAL(ok, calls);
  CAF_MESSAGE(blocking / double{calls} << " allocations a blocking call");
  CAF_CHECK_LESS_OR_EQUAL(blocking, 3u * calls);
  // Through the connection broker (an actor's call): every thread of this
  // process counts (the broker runs on the network thread). The same three,
  // and five of CAF's: the request, the answer and its mailbox element, the
  // broker's message to itself to write the turn's calls, the caller's
  // handler for the answer. Half an allocation a call is left for what else
  // the process allocates meanwhile (about 40 in all, the same for 4,000
  // calls as for 1,000, loaded or not: not a rate).
  caf::scoped_actor self{sys};
  ok = 0;
  allocations = 0;
  counting_all = true;
  for (int i = 0; i < calls; ++i) {
    auto req = make_call(call_options{}, fn, int64_t{i}, int64_t{1});
    self->request(client.actor(), caf::infinite, std::move(*req))
        .receive(
            [&](call_reply& rep) {
              auto r = result_of<int64_t>(rep);
              ok += r && *r == i + 1;
            },
            [](caf::error&) {});
  }
  counting_all = false;
  auto through_broker = allocations.load();
  CAF_CHECK_EQUAL(ok, calls);
  CAF_MESSAGE(through_broker / double{calls} << " allocations a call through the broker");
  CAF_CHECK_LESS_OR_EQUAL(through_broker, 8u * calls + calls / 2);
}

CAF_TEST(garbage arguments in every codec give codec_error and the server keeps serving) {
  for (auto c : all_codecs) {
    call_request req;
    req.ns = "test.api";
    req.fn = "move";
    req.codec = c;
    req.args = {'\xde', '\xad', '\xbe', '\xef', '\xff', '\xff', '\xff', '\x7f', 'x'};
    req.deadline_ns = detail::deadline_after(5s);
    auto rep = client.invoke(std::move(req), 5s);
    CAF_REQUIRE(!rep);
    CAF_CHECK_EQUAL(code_of(rep.error()), sc::codec_error);
  }
  auto still = client.call<std::string>("test.api/echo", "alive");
  CAF_REQUIRE(still);
  CAF_CHECK_EQUAL(*still, "alive");
}

CAF_TEST(actors call asynchronously through the client actor) {
  auto req = make_call(call_options{}, "test.api/add", int64_t{20}, int64_t{22});
  CAF_REQUIRE(req);
  std::promise<caf::expected<int64_t>> done;
  sys.spawn([&, r = *req](caf::event_based_actor* self) {
    self->request(client.actor(), caf::infinite, r)
        .then([&](call_reply& rep) { done.set_value(result_of<int64_t>(rep)); },
              [&](caf::error& err) { done.set_value(err); });
  });
  auto res = done.get_future().get();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(*res, 42);
}

CAF_TEST(a blocking call whose server dies fails at once saying whether it may have run) {
  CAF_REQUIRE(client.call<int64_t>("test.api/add", int64_t{1}, int64_t{1}));
  call_options patient;
  patient.timeout = 60s;
  auto start = std::chrono::steady_clock::now();
  auto pending = std::async(std::launch::async, [&] {
    return client.call<int64_t>(patient, "test.api/slow", int64_t{30000});
  });
  // Whether the call is already waiting for its reply or still connecting,
  // it must end with the server, not with its 60 s deadline.
  server.proc.kill();
  auto res = pending.get();
  auto took = std::chrono::steady_clock::now() - start;
  CAF_REQUIRE(!res);
  // Sent (outcome_unknown) or not yet (connection_broken), never a timeout.
  CAF_CHECK(code_of(res.error()) == sc::outcome_unknown ||
            code_of(res.error()) == sc::connection_broken);
  CAF_CHECK(took < 2s);
}

CAF_TEST(blocking calls through the connection broker behave the same) {
  test_config cfg2;
  cfg2.set("slacker.blocking-calls", "broker");
  caf::actor_system sys2{cfg2};
  slacker::client brokered{sys2, server.address()};
  for (auto c : all_codecs) {
    auto sum = brokered.call<int64_t>(with(c), "test.api/add", int64_t{2}, int64_t{3});
    SLACKER_REQUIRE(sum, describe(sum.error()));
    CAF_CHECK_EQUAL(*sum, 5);
  }
  auto missing = brokered.call<int64_t>("test.api/nope");
  CAF_CHECK_EQUAL(code_of(missing.error()), sc::not_found);
  call_options short_timeout;
  short_timeout.timeout = 200ms;
  auto late = brokered.call<int64_t>(short_timeout, "test.api/slow", int64_t{1000});
  CAF_CHECK_EQUAL(code_of(late.error()), sc::timeout);
  auto after = brokered.call<std::string>("test.api/echo", "still here");
  SLACKER_REQUIRE(after, describe(after.error()));
  CAF_CHECK_EQUAL(*after, "still here");
}

CAF_TEST(a connect that hangs fails a call unsent within half its time) {
  hanging_listener hanging;
  CAF_REQUIRE(hanging.ready());
  auto port = hanging.port;
  auto addr = "127.0.0.1:" + std::to_string(port);
  slacker::client stuck{sys, addr};
  call_options opts;
  opts.timeout = 2s;
  auto req = make_call(opts, "test.api/echo", "x");
  CAF_REQUIRE(req);
  caf::scoped_actor self{sys};
  caf::error err;
  // Through the connection broker (from an actor): without the bound it
  // would wait for the whole connect and end with `timeout`.
  self->request(stuck.actor(), caf::infinite, std::move(*req))
      .receive([&](call_reply& rep) { err = rep.err; }, [&](caf::error& e) { err = e; });
  CAF_CHECK_EQUAL(code_of(err), sc::connection_broken);
  CAF_CHECK(describe(err).find("cannot connect") != std::string::npos);
  // A blocking call (its lane) the same.
  auto blocking = stuck.call<std::string>(opts, "test.api/echo", "x");
  CAF_REQUIRE(!blocking);
  CAF_CHECK_EQUAL(code_of(blocking.error()), sc::connection_broken);
  CAF_CHECK(describe(blocking.error()).find("cannot connect") != std::string::npos);
}

CAF_TEST(a lookup waiting for a slow connect outlives the bound of a call) {
  // The bound is the calls': half the time a call has left. A lookup sent
  // first waits on the same connect; when the call's bound ends the call
  // (unsent), the lookup keeps waiting for the connect, which goes on for
  // slacker.connect-timeout (5 s) and then fails it. (It failed with the
  // call, and the connection was given up as lost: in a cluster, the
  // dispatcher's first lookup of a namespace made a slow connect report a
  // healthy server unreachable.)
  hanging_listener hanging;
  CAF_REQUIRE(hanging.ready());
  auto port = hanging.port;
  slacker::client stuck{sys, "127.0.0.1:" + std::to_string(port)};
  call_options opts;
  opts.timeout = 1s;
  auto req = make_call(opts, "test.api/echo", "x");
  CAF_REQUIRE(req);
  caf::scoped_actor self{sys};
  auto start = std::chrono::steady_clock::now();
  // One sender: the lookup reaches the broker before the call.
  auto lookup = self->request(stuck.actor(), caf::infinite, lookup_atom::value,
                              std::string{"test.api"});
  auto call = self->request(stuck.actor(), caf::infinite, std::move(*req));
  caf::error call_err;
  call.receive([&](call_reply& rep) { call_err = rep.err; },
               [&](caf::error& e) { call_err = e; });
  auto call_ended = std::chrono::steady_clock::now() - start;
  caf::error lookup_err;
  lookup.receive([&](caf::actor&) {}, [&](caf::error& e) { lookup_err = e; });
  auto lookup_ended = std::chrono::steady_clock::now() - start;
  CAF_MESSAGE("the call failed after " << call_ended / 1ms << " ms ("
                                       << describe(call_err) << "), the lookup after "
                                       << lookup_ended / 1ms << " ms ("
                                       << describe(lookup_err) << ")");
  CAF_CHECK_EQUAL(code_of(call_err), sc::connection_broken);
  CAF_CHECK(describe(call_err).find("in time") != std::string::npos);
  CAF_CHECK_LESS(call_ended, 2s);
  CAF_CHECK_EQUAL(code_of(lookup_err), sc::connection_broken);
  CAF_CHECK(describe(lookup_err).find("cannot connect") != std::string::npos);
  CAF_CHECK_GREATER(lookup_ended - call_ended, 2s); // the connect's end, not the call's
}

CAF_TEST(a server that never says hello fails a blocking call unsent at the handshake
             timeout) {
  // A listener that never accepts: the kernel completes the connect, and no
  // hello ever comes. The blocking lane waits for the hello before it writes
  // the call, within slacker.handshake-timeout as the broker does (it
  // waited min(connect-timeout, peer-timeout), 2 s, whatever that said).
  auto [lfd, port] = slacker_test::loopback_listener(4);
  CAF_REQUIRE(lfd >= 0);
  test_config cfg2;
  cfg2.set("slacker.handshake-timeout", caf::timespan{300ms});
  caf::actor_system sys2{cfg2};
  slacker::client mute{sys2, "127.0.0.1:" + std::to_string(port)};
  call_options opts;
  opts.timeout = 5s;
  auto start = std::chrono::steady_clock::now();
  auto res = mute.call<std::string>(opts, "test.api/echo", "x");
  auto took = std::chrono::steady_clock::now() - start;
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(code_of(res.error()), sc::connection_broken); // unsent
  CAF_CHECK(describe(res.error()).find("did not greet within 300 ms") !=
            std::string::npos);
  CAF_CHECK_GREATER_OR_EQUAL(took, 290ms);
  CAF_CHECK_LESS(took, 1500ms);
  ::close(lfd);
}

CAF_TEST(a cluster call whose connect outlasts its bound leaves the server unheard) {
  // The routes of a cluster client with one server, whose connects hang (a
  // full accept queue): a blocking call there gives up its connect at half
  // its time and goes elsewhere, unsent. The server is unheard (calls go to
  // others) and its connection broker is asked to find out; it reports the
  // server down when its own connect fails (slacker.connect-timeout, 3 s
  // here), not the lane at its bound (which made a slow server flap).
  hanging_listener hanging;
  CAF_REQUIRE(hanging.ready());
  auto port = hanging.port;
  auto addr = "127.0.0.1:" + std::to_string(port);
  wire_options opts;
  opts.connect_timeout = 3s;
  caf::scoped_actor dispatcher{sys}; // stands in: what the paths tell it
  auto health = std::make_shared<accrual::health>();
  link_hooks hooks;
  hooks.observer = caf::actor_cast<caf::actor>(dispatcher);
  hooks.in_flight = std::make_shared<in_flight_count>();
  hooks.health = health;
  auto s = std::make_shared<route_server>();
  s->addr = addr;
  s->conn = caf::actor_cast<connection_actor_type>(
      sys.middleman().spawn_broker(client_connection, "127.0.0.1", port, opts, hooks));
  s->in_flight = hooks.in_flight;
  s->health = health;
  s->lane = std::make_shared<blocking_lane>("127.0.0.1", port, opts, "c", health);
  route_entry e;
  e.view.ns = "test.api";
  e.view.servers = {{addr, "{}", 0}};
  e.servers = {s};
  e.direct = true;
  auto table = std::make_shared<route_table>();
  table->open = true;
  table->namespaces["test.api"] = e;
  route_board board;
  board.publish(table);
  cluster_options copts;
  copts.timeout = 1s;
  cluster_call call;
  call_options one_second;
  one_second.timeout = 1s;
  call.req = *make_call(one_second, "test.api/echo", std::string{"x"});
  call.policies = std::make_shared<call_policies>(resolve(copts, {}, {}));
  auto start = std::chrono::steady_clock::now();
  auto out = call_on_routes(board, call, caf::actor_cast<caf::actor>(dispatcher));
  auto took = std::chrono::steady_clock::now() - start;
  CAF_CHECK(out.what == caller_outcome::kind::resend);
  CAF_CHECK(!out.charged); // unsent: free to go elsewhere
  CAF_CHECK_EQUAL(code_of(out.cause), sc::connection_broken);
  CAF_CHECK(describe(out.cause).find("in time") != std::string::npos);
  CAF_CHECK_LESS(took, 900ms); // half of 1 s, not the connect's 3 s
  CAF_CHECK(accrual::quiet(*health));
  CAF_CHECK(call.tried == std::vector<std::string>{addr});
  // Down when the broker's connect fails, not when the lane gave up.
  auto down = std::chrono::steady_clock::duration::zero();
  dispatcher->receive(
      [&](conn_down_atom, const std::string& who) {
        CAF_CHECK_EQUAL(who, addr);
        down = std::chrono::steady_clock::now() - start;
      },
      caf::after(8s) >> [] { CAF_FAIL("the broker never reported the server down"); });
  CAF_MESSAGE("the lane gave up after " << took / 1ms << " ms, the broker reported "
                                        << "the server down after " << down / 1ms
                                        << " ms");
  CAF_CHECK_GREATER(down, 2500ms);
  caf::anon_send_exit(s->conn, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
