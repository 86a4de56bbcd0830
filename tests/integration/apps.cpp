#define CAF_SUITE apps
#include <caf/test/unit_test.hpp>

// The apps clean up after themselves: example-zk on a taken port, its JVM
// and folder after each way it can end; `slacker watch` and a signal.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include "apps/support/proc_status.hpp"
#include "apps/support/process.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/binaries.hpp"
#include "tests/raw_conn.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/tcp_proxy.hpp"
#include "tests/zk_support.hpp"

using namespace std::chrono_literals;
using slacker_test::app_path;
using slacker_test::free_port;
using slacker_test::http_get;
using slacker_test::process;

namespace {

/// True while a process whose command line contains `text` runs.
bool running(const std::string& text) {
  for (auto& p : std::filesystem::directory_iterator{"/proc"}) {
    auto name = p.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::string cmdline;
    try {
      std::ifstream in{p.path() / "cmdline"};
      cmdline.assign(std::istreambuf_iterator<char>{in}, {});
    } catch (const std::ios_base::failure&) {
      continue; // it ended while read (ESRCH): not running
    }
    if (cmdline.find(text) != std::string::npos)
      return true;
  }
  return false;
}

/// Waits (bounded) until `pred` holds.
template <class Pred> bool eventually(Pred pred, std::chrono::milliseconds max = 10s) {
  auto until = std::chrono::steady_clock::now() + max;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

/// example-zk on a free port, serving; its data folder.
std::string start_zk(std::unique_ptr<process>& zk) {
  zk = std::make_unique<process>(std::vector<std::string>{
      app_path("example-zk"), "--port=" + std::to_string(free_port())});
  auto line = zk->wait_for("ZooKeeper serving on ", 60000);
  SLACKER_REQUIRE(line, "example-zk did not serve");
  auto at = line->find("/tmp/slacker-example-zk-");
  SLACKER_REQUIRE(at != std::string::npos, "no folder in: " << *line);
  return line->substr(at, line->find(')', at) - at);
}

} // namespace

CAF_TEST(example - zk refuses a port another ZooKeeper serves) {
  auto zk = slacker_test::zk_address();
  SLACKER_REQUIRE(!zk.empty(), "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
  process p{{app_path("example-zk"), "--port=" + zk.substr(zk.rfind(':') + 1)}};
  // It says so on stderr and never claims to serve (stdout).
  CAF_CHECK(!p.wait_for("ZooKeeper serving", 30000));
  auto status = p.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

CAF_TEST(example - zk stopped by a signal leaves neither its JVM nor its folder) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    std::unique_ptr<process> zk;
    auto dir = start_zk(zk);
    CAF_CHECK(running(dir)); // its JVM, named by its folder
    zk->signal(sig);
    auto status = zk->stop();
    CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CAF_CHECK(!std::filesystem::exists(dir));
    CAF_CHECK(!running(dir));
  }
}

CAF_TEST(example - zk killed takes its JVM along and its folder goes at the next start) {
  std::unique_ptr<process> zk;
  auto dir = start_zk(zk);
  zk->kill(); // SIGKILL: nothing of it runs any more
  CAF_CHECK(eventually([&] { return !running(dir); }));
  std::unique_ptr<process> next;
  auto dir2 = start_zk(next);
  CAF_CHECK(!std::filesystem::exists(dir));
  next->signal(SIGTERM);
  next->stop();
  CAF_CHECK(!std::filesystem::exists(dir2));
}

CAF_TEST(a second signal during a stop is ignored and a third forces it) {
  // Three different signals: pending ones of one kind would merge into one.
  {
    std::unique_ptr<process> zk;
    auto dir = start_zk(zk);
    zk->signal(SIGTERM);
    zk->signal(SIGINT); // noted on stderr, ignored: the stop goes on
    auto status = zk->stop();
    CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CAF_CHECK(!std::filesystem::exists(dir));
  }
  {
    std::unique_ptr<process> zk;
    auto dir = start_zk(zk);
    zk->signal(SIGTERM);
    zk->signal(SIGINT);
    zk->signal(SIGHUP); // forced: it ends at once, 128 + the last signal taken
    auto status = zk->stop();
    // Pending signals are taken lowest first, so which one is last varies.
    auto code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    CAF_MESSAGE("forced stop: exit status " << code);
    CAF_CHECK(code == 128 + SIGHUP || code == 128 + SIGINT || code == 128 + SIGTERM);
    CAF_CHECK(eventually([&] { return !running(dir); })); // its JVM went with it
    std::unique_ptr<process> next; // and the next start removes its folder
    start_zk(next);
    CAF_CHECK(!std::filesystem::exists(dir));
    next->signal(SIGTERM);
    next->stop();
  }
}

CAF_TEST(slacker watch with a count ends on a signal) {
  auto zk = slacker_test::zk_address();
  SLACKER_REQUIRE(!zk.empty(), "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
  for (int sig : {SIGINT, SIGTERM}) {
    process w{{app_path("slacker"), "watch", "--count=100", "--zk=" + zk,
               "--cluster=apps-nobody"}};
    CAF_REQUIRE(w.wait_for("{\"event\":\"snapshot\"", 15000)); // watching
    w.signal(sig);
    auto status = w.stop();
    CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

namespace {

/// example-server on a free port in a cluster of its own (its log on stdout
/// too): its port, once it has said `registered`.
std::string start_server(std::unique_ptr<process>& srv, const std::string& cluster,
                         const std::vector<std::string>& extra = {"--grace=300"}) {
  // Its log (stderr) merged into stdout, read by the test.
  std::vector<std::string> argv{app_path("example-server"), "0",
                                "--zk=" + slacker_test::zk_address(),
                                "--cluster=" + cluster};
  argv.insert(argv.end(), extra.begin(), extra.end());
  srv = std::make_unique<process>(slacker_test::merging_stderr(argv));
  auto serving = srv->wait_for("serving ", 15000);
  SLACKER_REQUIRE(serving, "example-server did not serve");
  auto port = serving->substr(serving->rfind(' ') + 1);
  SLACKER_REQUIRE(srv->wait_for("registered in cluster " + cluster, 15000),
                  "example-server did not register");
  return port;
}

/// Reads `p`'s lines until one contains `text` (bounded); without one, says
/// what it read instead (a failed check then tells what happened).
bool line_with(process& p, const std::string& text, int timeout_ms = 10000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  std::string seen;
  while (std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    auto line = p.read_line(static_cast<int>(std::max<int64_t>(1, left.count())));
    if (!line)
      break;
    if (line->find(text) != std::string::npos)
      return true;
    seen += "\n  " + *line;
  }
  CAF_MESSAGE("no line with '" << text << "' within " << timeout_ms << " ms; read:"
                               << (seen.empty() ? std::string{" nothing"} : seen));
  return false;
}

/// What `argv` printed (stdout and stderr), run to its end.
std::string output_of(const std::vector<std::string>& argv) {
  return slacker_test::run(argv).output;
}

} // namespace

CAF_TEST(example - server help shows its options with defaults and its port) {
  auto help = output_of({app_path("example-server"), "--help"});
  for (auto text : {"PORT UINT=2104", "--cluster NAME=example-cluster",
                    "--zk HOST:PORT[,...]=127.0.0.1:2181", "--session-timeout MS=5000",
                    "--grace MS=300", "--tls-cert FILE", "--insecure"})
    if (help.find(text) == std::string::npos)
      CAF_FAIL("--help lacks " << text << ":\n" << help);
  process bad{{app_path("example-server"), "--no-such-flag"}};
  auto status = bad.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

CAF_TEST(example - server says registered once it is and logs callers by address) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-reg";
  std::unique_ptr<process> srv;
  auto port = start_server(srv, cluster);
  // Registered means listed: no wait between the line and the listing.
  auto members =
      output_of({app_path("slacker"), "members", "--zk=" + slacker_test::zk_address(),
                 "--cluster=" + cluster});
  CAF_CHECK(members.find("\"127.0.0.1:" + port + "\"") != std::string::npos);
  auto server = "--server=127.0.0.1:" + port;
  // whoami answers the address it is registered under (no --node: detected).
  auto who =
      output_of({app_path("slacker"), "call", server, "slacker.example.api/whoami"});
  CAF_CHECK(who.find("\"127.0.0.1:" + port + "\"") != std::string::npos);
  for (auto fn : {"slacker.example.api/echo", "slacker.example.api/slow"}) {
    auto arg = std::string{fn}.find("slow") != std::string::npos ? "1" : "\"x\"";
    output_of({app_path("slacker"), "call", server, fn, arg});
    // The fast path (inline) and the blocking one (worker pool) alike.
    CAF_CHECK(line_with(*srv, std::string{"call "} + fn + " from 127.0.0.1:"));
  }
  srv->signal(SIGTERM);
  auto status = srv->stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(the tour - members wait returns once both servers can be called 20 times of 20) {
  // README, step 2 then 3: two servers started in the background, at once
  // `members --wait=2`, then a call. A server is listed before its
  // namespaces are; a wait that returned on the listing alone left the call
  // without a provider (1 fresh cluster in 12).
  auto zk = "--zk=" + slacker_test::zk_address();
  int called = 0;
  for (int i = 0; i < 20; ++i) {
    auto cluster =
        "--cluster=apps-" + std::to_string(getpid()) + "-tour-" + std::to_string(i);
    std::vector<std::unique_ptr<process>> servers;
    for (int s = 0; s < 2; ++s)
      servers.push_back(std::make_unique<process>(std::vector<std::string>{
          app_path("example-server"), "0", zk, cluster, "--grace=300"}));
    auto members =
        slacker_test::run({app_path("slacker"), "members", "--wait=2", zk, cluster});
    CAF_CHECK_EQUAL(members.exit_code, 0);
    auto json = nlohmann::json::parse(members.output, nullptr, false);
    CAF_CHECK(json.is_object() && json["servers"].size() == 2u &&
              json["namespaces"]["slacker.example.api"]["servers"].size() == 2u);
    auto call = slacker_test::run(
        {app_path("slacker"), "call", zk, cluster, "slacker.example.api/echo", "\"hi\""});
    if (call.exit_code == 0 && call.output == "\"hi\"\n")
      ++called;
    else
      CAF_MESSAGE("cluster " << i << ": " << call.output);
    for (auto& srv : servers)
      srv->signal(SIGTERM);
    for (auto& srv : servers)
      srv->stop();
  }
  CAF_CHECK_EQUAL(called, 20);
}

CAF_TEST(the guide membership example prints a server joining leaving and down) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-guide";
  process follower{{slacker_test::binary_path("doc-example-membership"),
                    "--zk=" + slacker_test::zk_address(), "--cluster=" + cluster}};
  SLACKER_REQUIRE(follower.wait_for("following " + cluster, 15000), "it did not start");
  std::unique_ptr<process> srv;
  // Marked leaving for 3 s (the quiet period of its drain): a follower whose
  // connection to it failed (on a loaded machine, once) learns of the
  // leaving from ZooKeeper alone, and must read it before the server is gone.
  auto port = start_server(srv, cluster, {"--grace=3000"});
  CAF_CHECK(line_with(follower, "up 127.0.0.1:" + port));
  srv->signal(SIGTERM); // drains: leaving first, then down
  CAF_CHECK(line_with(follower, "leaving 127.0.0.1:" + port, 10000));
  srv->stop();
  CAF_CHECK(line_with(follower, "down 127.0.0.1:" + port, 10000));
  auto status = follower.stop(); // its standard input closes
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(the guide actor example serves a typed actor and asks it from an actor) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-actor";
  auto run =
      slacker_test::run({slacker_test::binary_path("doc-example-actor"),
                         "--zk=" + slacker_test::zk_address(), "--cluster=" + cluster});
  CAF_MESSAGE(run.output);
  CAF_CHECK(("\n" + run.output).find("\nhello, caf\n") != std::string::npos);
  CAF_CHECK_EQUAL(run.exit_code, 0);
}

CAF_TEST(the readme server serves until a signal then leaves and ends) {
  // README, step 1, built as it is shown (docs.readme-examples checks that):
  // SLACKER_MAIN and serve_until_stopped.
  auto cluster = "apps-" + std::to_string(getpid()) + "-readme";
  auto zk = "--zk=" + slacker_test::zk_address();
  process srv{{slacker_test::binary_path("doc-example-server"), "--port=0", zk,
               "--cluster=" + cluster}};
  auto serving = srv.wait_for("serving on port ", 15000);
  SLACKER_REQUIRE(serving, "it did not serve");
  auto addr = "127.0.0.1:" + serving->substr(serving->rfind(' ') + 1);
  auto members = slacker_test::run({app_path("slacker"), "members", "--wait=1",
                                    "--timeout=15000", zk, "--cluster=" + cluster});
  CAF_CHECK_EQUAL(members.exit_code, 0);
  CAF_CHECK(members.output.find(addr) != std::string::npos);
  auto call = slacker_test::run({app_path("slacker"), "call", zk, "--cluster=" + cluster,
                                 "slacker.example.api/echo", "\"hi\""});
  CAF_CHECK_EQUAL(call.output, "\"hi\"\n");
  srv.signal(SIGTERM);
  auto status = srv.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); // not killed by it
  auto after =
      slacker_test::run({app_path("slacker"), "members", zk, "--cluster=" + cluster});
  CAF_CHECK(after.output.find(addr) == std::string::npos); // it left, not expired
}

CAF_TEST(watch shows a server unreachable and reachable and leaving before it is down) {
  // Akka's membership events: UnreachableMember/ReachableMember from this
  // client's failure detector (--detect: connected to every server), and
  // MemberLeft (member_leaving) before MemberRemoved (member_down).
  auto cluster = "apps-" + std::to_string(getpid()) + "-detect";
  std::unique_ptr<process> frozen;
  std::unique_ptr<process> leaving;
  // Its session outlives the freeze: unreachable, not down.
  auto frozen_addr =
      "127.0.0.1:" + start_server(frozen, cluster, {"--session-timeout=20000"});
  auto leaving_addr = "127.0.0.1:" + start_server(leaving, cluster);
  process w{{app_path("slacker"), "watch", "--detect",
             "--zk=" + slacker_test::zk_address(), "--cluster=" + cluster}};
  SLACKER_REQUIRE(w.wait_for("{\"event\":\"snapshot\"", 15000), "no snapshot");
  auto event = [](const std::string& name, const std::string& addr) {
    return "\"addr\":\"" + addr + "\",\"event\":\"" + name + "\"";
  };
  frozen->signal(SIGSTOP); // its connection falls silent: the heartbeats say so
  CAF_CHECK(line_with(w, event("member_unreachable", frozen_addr), 8000));
  frozen->signal(SIGCONT);
  CAF_CHECK(line_with(w, event("member_reachable", frozen_addr), 5000));
  leaving->signal(SIGTERM); // drains: leaving first, down once it stopped
  CAF_CHECK(line_with(w, event("member_leaving", leaving_addr), 5000));
  // Once drained (a quiet period), it leaves: ZooKeeper's deletion, read by
  // the watch's registry (15 s: a loaded machine once took longer than 5).
  CAF_CHECK(line_with(w, event("member_down", leaving_addr), 15000));
  leaving->stop();
  frozen->signal(SIGTERM);
  frozen->stop();
  w.signal(SIGTERM);
  auto status = w.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(example - server on a port in use says so once and exits 1) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  SLACKER_REQUIRE(fd >= 0, "no socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof(addr);
  SLACKER_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
                      ::listen(fd, 1) == 0 &&
                      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
                  "cannot hold a port");
  auto port = std::to_string(ntohs(addr.sin_port));
  auto cluster = "--cluster=apps-" + std::to_string(getpid()) + "-taken";
  auto out = slacker_test::run(
      {app_path("example-server"), port, "--zk=" + slacker_test::zk_address(), cluster});
  ::close(fd);
  CAF_CHECK_EQUAL(out.exit_code, 1);
  auto said = [&](const std::string& text) {
    size_t n = 0;
    for (auto at = out.output.find(text); at != std::string::npos;
         at = out.output.find(text, at + 1))
      ++n;
    return n;
  };
  CAF_CHECK_EQUAL(said("Address already in use"), 1u);
  CAF_CHECK_EQUAL(said("cannot listen on *:" + port), 1u);
  CAF_MESSAGE(out.output);
  // And nothing was registered.
  auto members = slacker_test::run(
      {app_path("slacker"), "members", "--zk=" + slacker_test::zk_address(), cluster});
  CAF_CHECK(members.output.find("\"servers\":{}") != std::string::npos);
}

CAF_TEST(a metrics address that cannot be served stops every program at start) {
  // A port in use (the test's ZooKeeper), not HOST:PORT, not of this host.
  auto taken =
      "127.0.0.1:" + std::to_string(slacker_test::port_of(slacker_test::zk_address()));
  auto zk = "--zk=" + slacker_test::zk_address();
  auto cluster = "--cluster=apps-" + std::to_string(getpid()) + "-metrics";
  for (auto addr : {taken, std::string{"nonsense"}, std::string{"192.0.2.1:9"}}) {
    std::vector<std::vector<std::string>> programs{
        {app_path("slacker"), "load", "--duration=1", "--metrics=" + addr, zk, cluster,
         "x.y/z"},
        {app_path("slacker"), "members", "--slacker.metrics=" + addr, zk, cluster},
        {app_path("example-server"), "0", "--metrics=" + addr, zk, cluster},
        {app_path("example-client"), "--slacker.metrics=" + addr, zk, cluster}};
    for (auto& argv : programs) {
      auto out = slacker_test::run(argv);
      CAF_CHECK_EQUAL(out.exit_code, 1);
      auto n = 0;
      for (auto at = out.output.find("cannot serve metrics on " + addr);
           at != std::string::npos; at = out.output.find("cannot serve metrics", at + 1))
        ++n;
      CAF_CHECK_EQUAL(n, 1);
      if (out.exit_code != 1 || n != 1)
        CAF_MESSAGE(argv[0] << " " << argv[1] << " with " << addr << ": " << out.output);
    }
  }
}

CAF_TEST(a registration of a server that is not listening is refused) {
  slacker::config cfg;
  caf::actor_system sys{cfg};
  slacker::server srv{sys};
  srv.add(slacker::ns("apps.idle").def("f", [](int64_t x) { return x; }));
  slacker::registration_options opts;
  opts.zk.zk = slacker_test::zk_address();
  opts.zk.cluster = "apps-" + std::to_string(getpid()) + "-unpublished";
  slacker::registration reg{sys, srv, opts};
  auto err = reg.wait_registered(std::chrono::milliseconds{2000});
  CAF_REQUIRE(err);
  CAF_CHECK(slacker::describe(err).find("not listening") != std::string::npos);
  CAF_MESSAGE(slacker::describe(err));
}

CAF_TEST(example - server ignores a second signal while draining and a third forces it) {
  for (bool third : {false, true}) {
    auto cluster = "apps-" + std::to_string(getpid()) + "-drain-" + (third ? "3" : "2");
    std::unique_ptr<process> srv;
    // The drain lasts until no call arrived for 3 s: time for more signals.
    start_server(srv, cluster, {"--grace=3000"});
    srv->signal(SIGTERM);
    CAF_REQUIRE(srv->wait_for("stopping", 10000));
    srv->signal(SIGINT); // noted, ignored: the drain goes on
    if (third)
      srv->signal(SIGHUP);
    auto status = srv->stop();
    auto code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    CAF_MESSAGE((third ? "three" : "two") << " signals: exit status " << code);
    if (third)
      CAF_CHECK(code == 128 + SIGHUP || code == 128 + SIGINT);
    else
      CAF_CHECK_EQUAL(code, 0);
  }
}

CAF_TEST(example - server ends in time on a signal whatever its workers hold) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-stuck";
  std::unique_ptr<process> srv;
  auto port = start_server(srv, cluster, {"--drain-timeout=1000"});
  // Every worker busy for 10 minutes, more calls waiting behind them.
  slacker_test::raw_conn c{static_cast<uint16_t>(std::stoi(port)), 5s};
  CAF_REQUIRE(c.send(slacker_test::hello_frame()));
  CAF_REQUIRE_EQUAL(c.frames(1).size(), 1u);
  std::vector<char> burst;
  for (uint64_t id = 1; id <= 20; ++id) {
    auto f = slacker_test::call_frame(
        id, "slacker.example.api", "slow",
        *slacker::encode(slacker::codec_id::caf_binary, int64_t{600000}));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  // An echo behind them: once it is answered, the server has taken them all.
  auto echo = slacker_test::call_frame(
      99, "slacker.example.api", "echo",
      *slacker::encode(slacker::codec_id::caf_binary, std::string{"sync"}));
  burst.insert(burst.end(), echo.begin(), echo.end());
  CAF_REQUIRE(c.send(burst));
  auto answered = c.frames(1);
  CAF_REQUIRE_EQUAL(answered.size(), 1u);
  CAF_REQUIRE_EQUAL(slacker_test::reply_of(answered[0].second).id, 99u);
  auto t0 = std::chrono::steady_clock::now();
  srv->signal(SIGTERM);
  // Queued calls answered `draining` at once, running ones abandoned after
  // the drain timeout (1 s) and the stop's grace (1 s).
  CAF_CHECK(line_with(*srv, "abandoned", 15000));
  auto exited = slacker_test::wait_proc_state(srv->pid(), 'Z', 10s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
  CAF_MESSAGE("exited " << took
                        << " ms after SIGTERM with 4 calls of 10 minutes running");
  CAF_CHECK(exited);
  CAF_CHECK_LESS(took, 8000);
  auto status = srv->stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

namespace {

bool has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos)
    return true;
  CAF_MESSAGE("missing: " << part);
  return false;
}

} // namespace

CAF_TEST(a server serves prometheus metrics and its health over http) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-metrics";
  auto http = "127.0.0.1:" + std::to_string(free_port());
  std::unique_ptr<process> srv;
  // Draining lasts 3 s of quiet (--grace): long enough for the three reads
  // below on a loaded machine (the 300 ms default was not, once).
  auto port = start_server(srv, cluster, {"--metrics=" + http, "--grace=3000"});
  auto health = http_get("http://" + http + "/health");
  CAF_CHECK_EQUAL(health.first, 200);
  CAF_CHECK(has(health.second, "\"healthy\":true"));
  CAF_CHECK_EQUAL(http_get("http://" + http + "/health/ready").first, 200);
  CAF_CHECK_EQUAL(http_get("http://" + http + "/health/live").first, 200);
  auto server = "--server=127.0.0.1:" + port;
  for (int i = 0; i < 3; ++i)
    output_of({app_path("slacker"), "call", server, "slacker.example.api/echo", "\"x\""});
  output_of({app_path("slacker"), "call", server, "slacker.example.api/make-error"});
  output_of({app_path("slacker"), "call", server, "slacker.example.api/slow", "1"});
  auto metrics = http_get("http://" + http + "/metrics");
  CAF_CHECK_EQUAL(metrics.first, 200);
  auto& m = metrics.second;
  CAF_CHECK(
      has(m, "slacker_server_calls_total{ns=\"slacker.example.api\",fn=\"echo\"} 3\n"));
  CAF_CHECK(
      has(m, "slacker_server_errors_total{ns=\"slacker.example.api\",fn=\"make-error\","
             "code=\"exception\"} 1\n"));
  CAF_CHECK(has(m, "slacker_server_latency_seconds_count{ns=\"slacker.example.api\","
                   "fn=\"echo\"} 3\n"));
  CAF_CHECK(has(m, "slacker_server_latency_seconds_bucket{ns=\"slacker.example.api\","
                   "fn=\"slow\",le=\"+Inf\"} 1\n")); // blocking: the worker pool's path
  CAF_CHECK(
      has(m, "slacker_server_in_flight{ns=\"slacker.example.api\",fn=\"slow\"} 0\n"));
  CAF_CHECK(has(m, "slacker_worker_queue{port=\"" + port + "\"} 0\n"));
  CAF_CHECK(has(m, "# TYPE slacker_server_latency_seconds histogram\n"));
  CAF_CHECK_EQUAL(http_get("http://" + http + "/nothing").first, 404);
  // Draining (3 s of grace): unhealthy, so that a balancer stops sending.
  srv->signal(SIGTERM);
  CAF_REQUIRE(srv->wait_for("stopping", 10000));
  auto draining = http_get("http://" + http + "/health");
  CAF_CHECK_EQUAL(draining.first, 503);
  CAF_CHECK(has(draining.second, "draining"));
  // Not ready while it drains, but alive: a balancer stops sending, an
  // orchestrator does not restart it.
  auto ready = http_get("http://" + http + "/health/ready");
  CAF_CHECK_EQUAL(ready.first, 503);
  CAF_CHECK(has(ready.second, "draining"));
  auto live = http_get("http://" + http + "/health/live");
  CAF_CHECK_EQUAL(live.first, 200);
  CAF_CHECK(has(live.second, "\"live\":true"));
  auto status = srv->stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(slow http peers leave health answering) {
  auto http_port = free_port();
  auto http = "127.0.0.1:" + std::to_string(http_port);
  slacker_test::server_process srv{{"--slacker.metrics=" + http}};
  // Six peers that send half a request and then nothing.
  std::vector<std::unique_ptr<slacker_test::raw_conn>> slow;
  std::string half = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 6; ++i) {
    slow.push_back(std::make_unique<slacker_test::raw_conn>(http_port, 1s));
    CAF_REQUIRE(slow.back()->send(half.data(), half.size()));
  }
  int ok = 0;
  for (int i = 0; i < 8; ++i)
    if (http_get("http://" + http + "/health").first == 200)
      ++ok;
  CAF_MESSAGE(ok << " of 8 probes answered beside 6 slow peers");
  CAF_CHECK_EQUAL(ok, 8);
}

CAF_TEST(a cluster client serves its metrics per server and its registry state) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-client-metrics";
  auto http = "127.0.0.1:" + std::to_string(free_port());
  std::unique_ptr<process> srv;
  auto port = start_server(srv, cluster);
  process load{{app_path("slacker"), "load", "--zk=" + slacker_test::zk_address(),
                "--cluster=" + cluster, "--duration=20", "--rate=50", "--metrics=" + http,
                "slacker.example.api/echo", "\"x\""}};
  auto addr = "127.0.0.1:" + port;
  auto counted =
      "slacker_client_calls_total{cluster=\"" + cluster + "\",server=\"" + addr + "\"} ";
  std::string m;
  CAF_CHECK(eventually([&] { // calls are under way once the client has the view
    m = http_get("http://" + http + "/metrics").second;
    auto at = m.find(counted);
    return at != std::string::npos && m.compare(at + counted.size(), 2, "0\n") != 0;
  }));
  CAF_CHECK(has(m, "slacker_client_routable{cluster=\"" + cluster + "\",server=\"" +
                       addr + "\"} 1\n"));
  CAF_CHECK(has(m, "slacker_registry_connected{cluster=\"" + cluster + "\"} 1\n"));
  CAF_CHECK(has(m, "slacker_registry_view_age_seconds{cluster=\"" + cluster + "\"} 0\n"));
  auto health = http_get("http://" + http + "/health");
  CAF_CHECK_EQUAL(health.first, 200);
  load.signal(SIGTERM);
  load.stop();
  srv->signal(SIGTERM);
  srv->stop();
}

CAF_TEST(a cluster client cut off from zookeeper past its session timeout is unhealthy) {
  slacker_test::tcp_proxy proxy{slacker_test::port_of(slacker_test::zk_address())};
  auto http = "127.0.0.1:" + std::to_string(free_port());
  slacker::config cfg;
  cfg.set("slacker.metrics", http);
  caf::actor_system sys{cfg};
  slacker::zk_options opts;
  opts.zk = proxy.address();
  opts.cluster = "apps-" + std::to_string(getpid()) + "-lost";
  opts.session_timeout = 2000ms;
  slacker::cluster_client sc{sys, opts};
  auto healthy = [&] {
    return http_get("http://" + http + "/health").first == 200;
  };
  CAF_REQUIRE(eventually([&] { // connected first: then its link is cut
    auto v = sc.members();
    return v && v->state.status == slacker::registry_status::connected;
  }));
  CAF_REQUIRE(healthy());
  proxy.cut(); // past the session timeout: the view may be stale
  std::pair<int, std::string> lost;
  CAF_CHECK(eventually(
      [&] {
        lost = http_get("http://" + http + "/health");
        return lost.first == 503;
      },
      15s));
  CAF_MESSAGE("cut off: " << lost.second);
  CAF_CHECK(has(lost.second, "ZooKeeper lost for"));
  proxy.restore();
  CAF_CHECK(eventually(healthy, 20s));
}
