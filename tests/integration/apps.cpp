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

#include "process.hpp"
#include "require.hpp"
#include "zk_support.hpp"

using namespace std::chrono_literals;
using slacker_test::process;

namespace {

std::string app(const std::string& name) {
  return slacker_test::binary_path("../apps/" + name);
}

/// A port nothing listens on now.
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

/// True while a process whose command line contains `text` runs.
bool running(const std::string& text) {
  for (auto& p : std::filesystem::directory_iterator{"/proc"}) {
    auto name = p.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{p.path() / "cmdline"};
    std::string cmdline{std::istreambuf_iterator<char>{in}, {}};
    if (cmdline.find(text) != std::string::npos)
      return true;
  }
  return false;
}

/// Waits (bounded) until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds max = 10s) {
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
  zk = std::make_unique<process>(
    std::vector<std::string>{app("example-zk"), "--port=" + std::to_string(free_port())});
  auto line = zk->wait_for("ZooKeeper serving on ", 60000);
  SLACKER_REQUIRE(line, "example-zk did not serve");
  auto at = line->find("/tmp/slacker-example-zk-");
  SLACKER_REQUIRE(at != std::string::npos, "no folder in: " << *line);
  return line->substr(at, line->find(')', at) - at);
}

} // namespace

CAF_TEST(example-zk refuses a port another ZooKeeper serves) {
  auto zk = slacker_test::zk_address();
  SLACKER_REQUIRE(!zk.empty(), "no ZooKeeper: set SLACKER_TEST_ZK_DIR");
  process p{{app("example-zk"), "--port=" + zk.substr(zk.rfind(':') + 1)}};
  // It says so on stderr and never claims to serve (stdout).
  CAF_CHECK(!p.wait_for("ZooKeeper serving", 30000));
  auto status = p.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

CAF_TEST(example-zk stopped by a signal leaves neither its JVM nor its folder) {
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

CAF_TEST(example-zk killed takes its JVM along and its folder goes at the next start) {
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
    process w{{app("slacker"), "watch", "--count=100", "--zk=" + zk, "--cluster=apps-nobody"}};
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
                         const std::string& extra = "--grace=300") {
  // Its log (stderr) merged into stdout, read by the test.
  srv = std::make_unique<process>(std::vector<std::string>{
    "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", app("example-server"), "0",
    "--zk=" + slacker_test::zk_address(), "--cluster=" + cluster, extra});
  auto serving = srv->wait_for("serving ", 15000);
  SLACKER_REQUIRE(serving, "example-server did not serve");
  auto port = serving->substr(serving->rfind(' ') + 1);
  SLACKER_REQUIRE(srv->wait_for("registered in cluster " + cluster, 15000),
                  "example-server did not register");
  return port;
}

/// Reads `p`'s lines until one contains `text` (bounded).
bool line_with(process& p, const std::string& text, int timeout_ms = 10000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  while (std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    auto line = p.read_line(static_cast<int>(std::max<int64_t>(1, left.count())));
    if (!line)
      return false;
    if (line->find(text) != std::string::npos)
      return true;
  }
  return false;
}

std::string output_of(const std::vector<std::string>& argv) {
  process p{argv};
  std::string out;
  while (auto line = p.read_line(30000))
    out += *line + "\n";
  p.stop();
  return out;
}

} // namespace

CAF_TEST(example-server help shows its options with defaults and its port) {
  auto help = output_of({app("example-server"), "--help"});
  for (auto text : {"PORT UINT=2104", "--cluster NAME=example-cluster",
                    "--zk HOST:PORT[,...]=127.0.0.1:2181", "--session-timeout MS=5000",
                    "--grace MS=300", "--tls-cert FILE", "--insecure"})
    if (help.find(text) == std::string::npos)
      CAF_FAIL("--help lacks " << text << ":\n" << help);
  process bad{{app("example-server"), "--no-such-flag"}};
  auto status = bad.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

CAF_TEST(example-server says registered once it is and logs callers by address) {
  auto cluster = "apps-" + std::to_string(getpid()) + "-reg";
  std::unique_ptr<process> srv;
  auto port = start_server(srv, cluster);
  // Registered means listed: no wait between the line and the listing.
  auto members = output_of({app("slacker"), "members", "--zk=" + slacker_test::zk_address(),
                            "--cluster=" + cluster});
  CAF_CHECK(members.find("\"127.0.0.1:" + port + "\"") != std::string::npos);
  auto server = "--server=127.0.0.1:" + port;
  for (auto fn : {"slacker.example.api/echo", "slacker.example.api/slow"}) {
    auto arg = std::string{fn}.find("slow") != std::string::npos ? "1" : "\"x\"";
    output_of({app("slacker"), "call", server, fn, arg});
    // The fast path (inline) and the blocking one (worker pool) alike.
    CAF_CHECK(line_with(*srv, std::string{"call "} + fn + " from 127.0.0.1:"));
  }
  srv->signal(SIGTERM);
  auto status = srv->stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(example-server ignores a second signal while draining and a third forces it) {
  for (bool third : {false, true}) {
    auto cluster = "apps-" + std::to_string(getpid()) + "-drain-" + (third ? "3" : "2");
    std::unique_ptr<process> srv;
    // The drain lasts until no call arrived for 3 s: time for more signals.
    start_server(srv, cluster, "--grace=3000");
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
