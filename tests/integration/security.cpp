#define CAF_SUITE security
#include <caf/test/unit_test.hpp>

// The trust boundary with real processes: mutual TLS with certificates made
// here by `openssl`, plaintext only on loopback, the manager's authorization,
// and hostile bytes against TLS and plaintext servers.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "apps/support/certs.hpp"
#include "apps/support/proc_status.hpp"
#include "apps/support/process.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/netns.hpp"
#include "tests/raw_conn.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using slacker_test::cli_path;
using slacker_test::client_system;
using slacker_test::raw_conn;
using slacker_test::run;
using slacker_test::server_process;

namespace {

caf::expected<int64_t> add_on(client_system& cs, const std::string& addr) {
  slacker::client c{*cs.sys, addr};
  return c.call<int64_t>("test.api/add", int64_t{2}, int64_t{3});
}

struct fixture {
  slacker_test::test_certs certs;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(security_tests, fixture)

CAF_TEST(a call works over mutual TLS with certificates from the CA) {
  server_process srv{certs.options()};
  for (auto mode : {"lane", "broker"}) {
    CAF_MESSAGE("blocking calls through the " << mode);
    auto opts = certs.options();
    opts.push_back(std::string{"--slacker.blocking-calls="} + mode);
    client_system cs{opts};
    auto r = add_on(cs, srv.address());
    SLACKER_REQUIRE(r, describe(r.error()));
    CAF_CHECK_EQUAL(*r, 5);
    // Many calls on one connection, and a second client.
    slacker::client c{*cs.sys, srv.address()};
    for (int64_t i = 0; i < 200; ++i) {
      auto x = c.call<int64_t>("test.api/add", i, int64_t{1});
      SLACKER_REQUIRE(x, describe(x.error()));
      CAF_CHECK_EQUAL(*x, i + 1);
    }
    // Larger than a TLS record, and than a read.
    auto big = c.call<std::string>("test.api/echo", std::string(300 * 1024, 'z'));
    SLACKER_REQUIRE(big, describe(big.error()));
    CAF_CHECK_EQUAL(big->size(), 300u * 1024u);
    // Typed messages travel the same connection.
    auto reflect = c.lookup("test.reflect");
    SLACKER_REQUIRE(reflect, describe(reflect.error()));
    caf::scoped_actor self{*cs.sys};
    int32_t doubled = 0;
    self->request(*reflect, std::chrono::seconds{10}, int32_t{21})
        .receive([&](int32_t x) { doubled = x; },
                 [&](caf::error& err) { CAF_FAIL(describe(err)); });
    CAF_CHECK_EQUAL(doubled, 42);
  }
}

CAF_TEST(a plaintext client is refused by a TLS server with a clear error) {
  server_process srv{certs.options()};
  client_system plain{{}};
  auto r = add_on(plain, srv.address());
  SLACKER_REQUIRE(!r, "a plaintext call was served");
  CAF_MESSAGE(describe(r.error()));
  CAF_CHECK_EQUAL(code_of(r.error()), sc::connection_broken);
  CAF_CHECK(describe(r.error()).find("requires TLS") != std::string::npos);
}

CAF_TEST(a client with a certificate from another CA is refused) {
  server_process srv{certs.options()};
  // Its own certificate from another CA, trusting the server's CA.
  client_system rogue{certs.options("rogue", "ca")};
  auto r = add_on(rogue, srv.address());
  SLACKER_REQUIRE(!r, "a rogue client was served");
  CAF_MESSAGE(describe(r.error()));
  CAF_CHECK_EQUAL(code_of(r.error()), sc::connection_broken);
  CAF_CHECK(describe(r.error()).find("TLS") != std::string::npos);
  // A client that does not trust the server's CA refuses the server.
  client_system wary{certs.options("rogue", "other-ca")};
  auto w = add_on(wary, srv.address());
  SLACKER_REQUIRE(!w, "a client trusted a server its CA did not sign");
  CAF_MESSAGE(describe(w.error()));
  CAF_CHECK(describe(w.error()).find("certificate") != std::string::npos);
  // The server keeps serving good clients.
  client_system good{certs.options()};
  auto g = add_on(good, srv.address());
  SLACKER_REQUIRE(g, describe(g.error()));
}

CAF_TEST(a TLS client against a plaintext server fails clearly) {
  server_process srv{{}};
  client_system cs{certs.options()};
  auto r = add_on(cs, srv.address());
  SLACKER_REQUIRE(!r, "a TLS client was served in plaintext");
  CAF_MESSAGE(describe(r.error()));
  CAF_CHECK(describe(r.error()).find("TLS") != std::string::npos);
}

CAF_TEST(certificate files that do not load are a clear error and never plaintext) {
  client_system cs{{"--slacker.tls.certificate=" + certs.path("missing.pem"),
                    "--slacker.tls.key=" + certs.path("node.key"),
                    "--slacker.tls.ca=" + certs.path("ca.pem")}};
  server_process srv{{}};
  auto r = add_on(cs, srv.address());
  SLACKER_REQUIRE(!r, "a call went out in plaintext");
  CAF_MESSAGE(describe(r.error()));
  CAF_CHECK(describe(r.error()).find("missing.pem") != std::string::npos);
}

CAF_TEST(a header declaring 4 GiB costs a TLS and a plaintext server nothing) {
  server_process tls_srv{certs.options()};
  server_process plain_srv{{}};
  std::vector<std::vector<char>> hostile;
  // A BASP header (32 bytes) declaring a 4 GiB payload, and 32 bytes of 0xFF.
  std::vector<char> basp(32, 0);
  basp[8] = basp[9] = basp[10] = basp[11] = '\xff';
  hostile.push_back(basp);
  hostile.push_back(std::vector<char>(32, '\xff'));
  for (auto* srv : {&tls_srv, &plain_srv}) {
    auto before = srv->rss_kib();
    for (auto& bytes : hostile) {
      for (int i = 0; i < 10; ++i) {
        raw_conn c{srv->port};
        CAF_REQUIRE(c.connected());
        CAF_REQUIRE(c.send(bytes));
        CAF_CHECK(c.wait_closed());
      }
    }
    auto after = srv->rss_kib();
    CAF_MESSAGE("RSS " << before << " KiB before, " << after << " KiB after");
    CAF_CHECK_LESS(after - before, 16 * 1024);
  }
  client_system good{certs.options()};
  auto g = add_on(good, tls_srv.address());
  SLACKER_REQUIRE(g, describe(g.error()));
  client_system plain{{}};
  auto p = add_on(plain, plain_srv.address());
  SLACKER_REQUIRE(p, describe(p.error()));
}

CAF_TEST(
    arguments and results beyond the frame cap are too_large and break nothing else) {
  server_process srv{{"--slacker.max-message-size=65536"}};
  for (auto mode : {"lane", "broker"}) {
    CAF_MESSAGE("blocking calls through the " << mode);
    // The client takes frames up to 1 MiB, the server up to 64 KiB.
    client_system cs{{"--slacker.max-message-size=1048576",
                      std::string{"--slacker.blocking-calls="} + mode}};
    slacker::client c{*cs.sys, srv.address()};
    auto ok = c.call<std::string>("test.api/echo", std::string(1000, 'a'));
    SLACKER_REQUIRE(ok, describe(ok.error()));
    // A result larger than the server's cap: an error for that call only.
    auto big_result = c.call<std::string>("test.api/bytes", int64_t{200000});
    SLACKER_REQUIRE(!big_result, "a 200 kB result passed a 64 KiB cap");
    CAF_MESSAGE(describe(big_result.error()));
    CAF_CHECK_EQUAL(code_of(big_result.error()), sc::too_large);
    auto after = c.call<std::string>("test.api/echo", std::string("still here"));
    SLACKER_REQUIRE(after, describe(after.error()));
  }
  // A client with a small cap: arguments beyond it are refused before they
  // are sent, and a server's result beyond it is refused by the server.
  client_system small{
      {"--slacker.max-message-size=65536", "--slacker.blocking-calls=broker"}};
  slacker::client c{*small.sys, srv.address()};
  auto warm = c.call<std::string>("test.api/echo", std::string("hello"));
  SLACKER_REQUIRE(warm, describe(warm.error()));
  auto big_arg = c.call<std::string>("test.api/echo", std::string(100000, 'b'));
  SLACKER_REQUIRE(!big_arg, "a 100 kB argument passed a 64 KiB cap");
  CAF_MESSAGE(describe(big_arg.error()));
  CAF_CHECK_EQUAL(code_of(big_arg.error()), sc::too_large);
  auto again = c.call<int64_t>("test.api/add", int64_t{1}, int64_t{1});
  SLACKER_REQUIRE(again, describe(again.error()));
  CAF_CHECK_EQUAL(*again, 2);
}

CAF_TEST(a plaintext server takes no peer from outside loopback unless insecure) {
  slacker_test::netns outside;
  server_process strict{{"--bind=0.0.0.0"}};
  server_process lax{{"--bind=0.0.0.0", "--slacker.insecure"}};
  auto call_from_outside = [&](const server_process& srv) {
    return run(
        outside.command({cli_path(), "call",
                         "--server=" + outside.host_ip + ":" + std::to_string(srv.port),
                         "--timeout=5000", "test.api/add", "1", "2"}));
  };
  auto refused = call_from_outside(strict);
  CAF_MESSAGE("strict server: " << refused.output);
  CAF_CHECK_EQUAL(refused.exit_code, 1);
  CAF_CHECK(refused.output.find("connection_broken") != std::string::npos);
  CAF_CHECK(refused.output.find("loopback only") != std::string::npos);
  auto taken = call_from_outside(lax);
  CAF_MESSAGE("insecure server: " << taken.output);
  CAF_CHECK_EQUAL(taken.exit_code, 0);
  CAF_CHECK_EQUAL(taken.output, "3\n");
  // Loopback callers are served by both.
  client_system local{{}};
  auto l = add_on(local, strict.address());
  SLACKER_REQUIRE(l, describe(l.error()));
}

CAF_TEST(a TLS server takes authenticated peers from outside loopback) {
  slacker_test::netns outside;
  auto opts = certs.options();
  opts.push_back("--bind=0.0.0.0");
  server_process srv{opts};
  auto tls = run(outside.command(
      {cli_path(), "call", "--server=" + outside.host_ip + ":" + std::to_string(srv.port),
       "--tls-cert=" + certs.path("node.pem"), "--tls-key=" + certs.path("node.key"),
       "--tls-ca=" + certs.path("ca.pem"), "test.api/add", "1", "2"}));
  CAF_MESSAGE(tls.output);
  CAF_CHECK_EQUAL(tls.exit_code, 0);
  CAF_CHECK_EQUAL(tls.output, "3\n");
}

CAF_TEST(without a manager token guarded functions are open to loopback callers only) {
  slacker_test::netns outside;
  server_process srv{{"--bind=0.0.0.0", "--slacker.insecure"}};
  auto remote = [&](const std::string& fn) {
    return run(outside.command(
        {cli_path(), "call",
         "--server=" + outside.host_ip + ":" + std::to_string(srv.port), fn}));
  };
  auto denied = remote("test.admin/secret");
  CAF_MESSAGE(denied.output);
  CAF_CHECK_EQUAL(denied.exit_code, 1);
  CAF_CHECK(denied.output.find("error: forbidden") != std::string::npos);
  auto open = remote("test.admin/open");
  CAF_CHECK_EQUAL(open.exit_code, 0);
  auto local =
      run({cli_path(), "call", "--server=" + srv.address(), "test.admin/secret"});
  CAF_CHECK_EQUAL(local.exit_code, 0);
  CAF_CHECK_EQUAL(local.output, "\"granted\"\n");
}

CAF_TEST(with a manager token guarded functions need it from every caller) {
  server_process srv{{"--slacker.manager.token=s3cret"}};
  auto call = [&](std::vector<std::string> extra, const char* env = nullptr) {
    std::vector<std::string> argv{cli_path(), "call", "--server=" + srv.address(),
                                  "test.admin/secret"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, env ? std::string{"SLACKER_MANAGER_TOKEN="} + env : std::string{});
  };
  auto missing = call({});
  CAF_MESSAGE(missing.output);
  CAF_CHECK_EQUAL(missing.exit_code, 1);
  CAF_CHECK(missing.output.find("error: forbidden") != std::string::npos);
  auto wrong = call({"--manager-token=guess"});
  CAF_MESSAGE(wrong.output);
  CAF_CHECK_EQUAL(wrong.exit_code, 1);
  CAF_CHECK(wrong.output.find("error: forbidden") != std::string::npos);
  auto right = call({"--manager-token=s3cret"});
  CAF_CHECK_EQUAL(right.exit_code, 0);
  CAF_CHECK_EQUAL(right.output, "\"granted\"\n");
  auto from_env = call({}, "s3cret");
  CAF_CHECK_EQUAL(from_env.exit_code, 0);
  CAF_CHECK_EQUAL(from_env.output, "\"granted\"\n");
  // Not guarded: no token needed.
  auto open = call({"--manager-token=guess"});
  auto o = run({cli_path(), "call", "--server=" + srv.address(), "test.admin/open"});
  CAF_CHECK_EQUAL(o.exit_code, 0);
}

CAF_TEST(secrets come from a file and a bad file is a usage error) {
  server_process srv{{"--slacker.manager.token=s3cret"}};
  auto dir = std::filesystem::temp_directory_path() /
             ("slacker-secret-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream{dir / name} << text;
    return (dir / name).string();
  };
  auto good = write("token", "s3cret\n");
  auto empty = write("empty", "");
  auto call = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{cli_path(), "call", "--server=" + srv.address(),
                                  "test.admin/secret"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };
  auto right = call({"--manager-token-file=" + good});
  CAF_CHECK_EQUAL(right.exit_code, 0);
  CAF_CHECK_EQUAL(right.output, "\"granted\"\n");
  for (auto& bad :
       {std::vector<std::string>{"--manager-token-file=" + empty},
        std::vector<std::string>{"--manager-token-file=" + (dir / "nope").string()},
        std::vector<std::string>{"--manager-token-file=" + good,
                                 "--manager-token=s3cret"}}) {
    auto r = call(bad);
    CAF_MESSAGE(r.output);
    CAF_CHECK_EQUAL(r.exit_code, 2);
    CAF_CHECK(r.output.find("--manager-token") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

CAF_TEST(a connection sending wrong manager tokens is closed after three) {
  server_process srv{{"--slacker.manager.token=s3cret"}};
  raw_conn c{srv.port};
  CAF_REQUIRE(c.send(slacker_test::hello_frame()));
  std::vector<char> burst;
  for (uint64_t id = 1; id <= 5; ++id) {
    call_request req;
    req.id = id;
    req.ns = "test.admin";
    req.fn = "secret";
    req.ext[manager_token_ext] = slacker::bytes{'g', 'u', 'e', 's', 's'};
    wire::write_call(burst, req);
  }
  CAF_REQUIRE(c.send(burst));
  auto got = c.frames(SIZE_MAX);
  CAF_CHECK(c.closed);
  // hello, three forbidden answers, then the error frame: the rest unread.
  CAF_REQUIRE_EQUAL(got.size(), 5u);
  for (size_t i = 1; i < 4; ++i)
    CAF_CHECK_EQUAL(code_of(slacker_test::reply_of(got[i].second).err), sc::forbidden);
  CAF_CHECK(got[4].first == wire::frame_type::error);
  CAF_CHECK(slacker_test::close_code_of(got[4].second) == wire::close_code::unauthorized);
}

CAF_TEST(the cli refuses deep json and a server refuses numbers that do not fit) {
  server_process srv{{}};
  std::string deep(70000, '[');
  auto refused =
      run({cli_path(), "call", "--server=" + srv.address(), "test.api/echo", deep});
  CAF_CHECK_EQUAL(refused.exit_code, 1); // invalid_request: about the call
  CAF_CHECK(refused.output.find("max-depth") != std::string::npos);
  CAF_CHECK_LESS(refused.output.size(), 1000u);
  for (auto big : {"9223372036854775808", "1e300", "1.9"}) {
    auto r =
        run({cli_path(), "call", "--server=" + srv.address(), "test.api/add", big, "1"});
    CAF_MESSAGE(big << ": " << r.output);
    CAF_CHECK_EQUAL(r.exit_code, 1);
    CAF_CHECK(r.output.find("error: codec_error") != std::string::npos);
  }
  auto fine = run({cli_path(), "call", "--server=" + srv.address(), "test.api/add",
                   "9223372036854775806", "1"});
  CAF_CHECK_EQUAL(fine.output, "9223372036854775807\n");
}

CAF_TEST(
    a lane call beyond the smaller server cap fails as too_large once the cap is known) {
  server_process srv{{"--slacker.max-message-size=65536"}};
  client_system cs{{"--slacker.max-message-size=1048576"}};
  slacker::client c{*cs.sys, srv.address()};
  auto warm = c.call<std::string>("test.api/echo", std::string("hello"));
  SLACKER_REQUIRE(warm, describe(warm.error()));
  auto big = c.call<std::string>("test.api/echo", std::string(100000, 'b'));
  SLACKER_REQUIRE(!big, "a 100 kB argument passed the server's 64 KiB cap");
  CAF_CHECK_EQUAL(code_of(big.error()), sc::too_large);
  auto after = c.call<std::string>("test.api/echo", std::string("still here"));
  SLACKER_REQUIRE(after, describe(after.error()));
}

CAF_TEST_FIXTURE_SCOPE_END()
