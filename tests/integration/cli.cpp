#define CAF_SUITE cli
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "apps/support/process.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/binaries.hpp"
#include "tests/event_log.hpp"
#include "tests/require.hpp"
#include "tests/run_support.hpp"
#include "tests/tcp_proxy.hpp"
#include "tests/zk_support.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using json = nlohmann::json;
using slacker_test::member;
using slacker_test::zk_address;

namespace {

/// What a run of the `slacker` tool printed, and how it exited.
struct run_result {
  std::vector<std::string> lines;
  int exit_code = -1;

  json value() const {
    SLACKER_REQUIRE(!lines.empty(), "no output");
    auto v = json::parse(lines.front(), nullptr, false);
    SLACKER_REQUIRE(!v.is_discarded(), "not JSON: " << lines.front());
    return v;
  }

  /// One member of the JSON object printed (a copy: safe in CAF's checks).
  json field(const std::string& key) const {
    return value()[key];
  }
};

struct fixture {
  slacker_test::hang_report hang; // first: it watches the rest's end too
  slacker::config cfg;
  caf::actor_system sys{cfg};
  std::string cluster;
  std::unique_ptr<slacker::registry> reg;
  std::shared_ptr<slacker_test::event_log> log =
      std::make_shared<slacker_test::event_log>();
  caf::actor sub;
  std::vector<std::unique_ptr<member>> members;

  fixture() {
    static int counter = 0;
    cluster = "cli-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    zk_options opts;
    opts.zk = zk_address();
    opts.cluster = cluster;
    reg = std::make_unique<slacker::registry>(sys, opts);
    sub = sys.spawn(slacker_test::collector, log);
    caf::anon_send(reg->actor(), subscribe_atom::value, sub);
    for (int i = 0; i < 2; ++i) {
      members.push_back(
          std::make_unique<member>(cluster, R"({"label":"t"})", 2000, 0, true));
      auto& m = *members.back();
      for (auto ns : {"test.api", "slacker.cluster.manager"})
        SLACKER_REQUIRE(log->next<namespace_up>(
                            [&](auto& x) { return x.ns == ns && x.addr == m.addr; }, 15s),
                        "no namespace_up of " << ns);
      SLACKER_REQUIRE(
          log->next<member_up>([&](auto& x) { return x.addr == m.addr; }, 15s),
          "no member_up"); // written last: listed is routable
    }
  }

  ~fixture() {
    members.clear();
    reg.reset();
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  }

  /// Runs `slacker ARGS... --zk=.. --cluster=..` to its end.
  run_result slacker(std::vector<std::string> args, bool cluster_options = true) {
    args.insert(args.begin(), slacker_test::binary_path("../apps/slacker"));
    if (cluster_options) {
      args.push_back("--zk=" + zk_address());
      args.push_back("--cluster=" + cluster);
    }
    slacker_test::process proc{args};
    run_result out;
    // A command here takes a few seconds at most (--zk-timeout is 3 s): one
    // still running after 15 s hangs. The test fails saying where, and goes
    // on (CAF_FAIL would abort the whole suite, and with it the unflushed end
    // of its checks log), before the suite's watchdog would abort it (30 s).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{15};
    while (auto line = proc.read_line_until(until))
      out.lines.push_back(*line);
    if (std::chrono::steady_clock::now() >= until) {
      CAF_ERROR("slacker " << args[1] << " still runs after 15 s (output: "
                           << out.lines.size() << " lines); its threads:\n"
                           << proc.threads());
      proc.kill();
      return out; // exit_code -1
    }
    auto status = proc.stop();
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

  std::string addr(size_t i) const {
    return members[i]->addr;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cli_tests, fixture)

CAF_TEST(call through the cluster with json arguments and each results policy) {
  auto sum = slacker({"call", "test.api/add", "40", "2"});
  CAF_CHECK_EQUAL(sum.exit_code, 0);
  CAF_CHECK_EQUAL(sum.value(), json(42));
  auto map = slacker({"call", "--grouping=all", "--results=map", "test.api/whoami"});
  CAF_CHECK_EQUAL(map.exit_code, 0);
  CAF_CHECK_EQUAL(map.value(), json({{addr(0), addr(0)}, {addr(1), addr(1)}}));
  auto vec =
      slacker({"call", "--grouping=all", "--results=vector", "test.api/echo", "\"x\""});
  CAF_CHECK_EQUAL(vec.value(), json({"x", "x"}));
  auto nil = slacker({"call", "--results=nil", "test.api/echo", "\"x\""});
  CAF_CHECK_EQUAL(nil.value(), json(nullptr));
  auto fallback = slacker({"call", "--unavailable-value={\"none\":true}", "no.such/fn"});
  CAF_CHECK_EQUAL(fallback.value(), json({{"none", true}}));
  auto direct = slacker({"call", "--server=" + addr(1), "test.api/whoami"}, false);
  CAF_CHECK_EQUAL(direct.value(), json(addr(1)));
}

CAF_TEST(errors print their code and exit 1 and bad usage exits 2) {
  auto thrown = slacker({"call", "test.api/fail", "\"boom\""});
  CAF_CHECK_EQUAL(thrown.exit_code, 1);
  CAF_CHECK(thrown.lines.empty());
  auto missing = slacker({"call", "no.such/fn"});
  CAF_CHECK_EQUAL(missing.exit_code, 1);
  auto not_json = slacker({"call", "test.api/add", "not-json"});
  CAF_CHECK_EQUAL(not_json.exit_code, 1); // about the call, not the usage
  CAF_CHECK(not_json.lines.empty());
  CAF_CHECK_EQUAL(
      slacker({"call", "--grouping=fastest", "test.api/add", "1", "2"}).exit_code, 2);
  CAF_CHECK_EQUAL(slacker({"frobnicate"}).exit_code, 2);
  // A quorum counts every server's answer: without --grouping=all it is a
  // usage error (it was accepted, then failed as unavailable).
  CAF_CHECK_EQUAL(slacker({"call", "--quorum=2", "test.api/add", "1", "2"}).exit_code, 2);
  CAF_CHECK_EQUAL(slacker({}).exit_code, 2);
  // A server's error text is printed escaped and bounded: one line, no
  // terminal escape, at most 512 bytes of it.
  auto hostile = slacker_test::run(
      {slacker_test::cli_path(), "call", "--zk=" + zk_address(), "--cluster=" + cluster,
       "test.api/fail", "\"one\\n\\u001b[31mtwo" + std::string(2000, 'x') + "\""});
  CAF_CHECK_EQUAL(hostile.exit_code, 1);
  CAF_CHECK(hostile.output.find("one\\n\\x1b[31mtwo") != std::string::npos);
  CAF_CHECK(hostile.output.find('\x1b') == std::string::npos);
  CAF_CHECK_EQUAL(std::count(hostile.output.begin(), hostile.output.end(), '\n'), 1);
  CAF_CHECK_LESS(hostile.output.size(), 700u);
  // The usual slips say what to do, in the tool's words (no library's).
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {slacker_test::cli_path(), "call", "--zk=" + zk_address(),
                               "--cluster=" + cluster});
    return slacker_test::run(args);
  };
  auto unquoted = run({"test.api/add", "hi", "1"});
  CAF_CHECK_EQUAL(unquoted.exit_code, 1);
  CAF_CHECK(unquoted.output.find("a JSON string needs its quotes: '\"hi\"'") !=
            std::string::npos);
  auto wrong_type = run({"test.api/add", "\"x\"", "1"});
  CAF_CHECK_EQUAL(wrong_type.exit_code, 1);
  CAF_CHECK(wrong_type.output.find("argument 1: type must be number, but is string") !=
            std::string::npos);
  CAF_CHECK(wrong_type.output.find("json.exception") == std::string::npos);
  CAF_MESSAGE(unquoted.output << wrong_type.output);
}

CAF_TEST(a partial result names the server missing from it and why) {
  members[1]->proc.signal(SIGSTOP); // answers nothing: a timeout there
  auto out = slacker_test::run({slacker_test::cli_path(), "call", "--zk=" + zk_address(),
                                "--cluster=" + cluster, "--grouping=all", "--results=map",
                                "--timeout=500", "test.api/whoami"});
  members[1]->proc.signal(SIGCONT);
  CAF_MESSAGE(out.output);
  CAF_CHECK_EQUAL(out.exit_code, 0); // `all` fails only when every server does
  CAF_CHECK(out.output.find("{\"" + addr(0) + "\":\"" + addr(0) + "\"}\n") == 0);
  CAF_CHECK(out.output.find("warning: 1 of 2 server(s) missing from the result; " +
                            addr(1) + ": timeout") != std::string::npos);
}

CAF_TEST(a timeout reports the timeout given) {
  // --timeout counts from the call (it said 418 ms for 500: the wait for
  // ZooKeeper and the connection came out of it).
  for (auto how : {std::string{"--zk=" + zk_address()}, "--server=" + addr(0)}) {
    auto out =
        slacker_test::run({slacker_test::cli_path(), "call", how, "--cluster=" + cluster,
                           "--timeout=500", "test.api/slow", "3000"});
    CAF_CHECK_EQUAL(out.exit_code, 1);
    CAF_CHECK(out.output.find("error: timeout: ") == 0);
    CAF_CHECK(out.output.find("no reply within 500 ms") != std::string::npos);
    CAF_MESSAGE(out.output);
  }
}

CAF_TEST(call - v names who answered and how long and -H extensions come back) {
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {slacker_test::cli_path(), "call", "-v", "-H", "trace=t1",
                               "-H", "tenant=blue", "--cluster=" + cluster});
    return slacker_test::run(args);
  };
  auto all =
      run({"--zk=" + zk_address(), "--grouping=all", "--results=map", "test.api/whoami"});
  CAF_CHECK_EQUAL(all.exit_code, 0);
  CAF_CHECK(all.output.find("* answered in ") != std::string::npos);
  for (size_t i = 0; i < 2; ++i)
    CAF_CHECK(
        all.output.find("* " + addr(i) + " answered; extensions: tenant=blue trace=t1") !=
        std::string::npos);
  auto direct = run({"--server=" + addr(1), "test.api/echo", "\"x\""});
  CAF_CHECK_EQUAL(direct.exit_code, 0);
  CAF_CHECK(direct.output.find("* " + addr(1) + " answered in ") != std::string::npos);
  CAF_CHECK(direct.output.find("* extensions: tenant=blue trace=t1") !=
            std::string::npos);
  CAF_CHECK(direct.output.find("\"x\"\n") != std::string::npos);
  // A failed call is timed too (its error names the servers).
  auto part = run({"--zk=" + zk_address(), "--grouping=all", "--exceptions=any",
                   "--results=vector", "test.api/fail", "\"no\""});
  CAF_CHECK_EQUAL(part.exit_code, 1);
  CAF_CHECK(part.output.find("* failed in ") != std::string::npos);
  auto bad = run({"-H", "novalue", "--zk=" + zk_address(), "test.api/whoami"});
  CAF_CHECK_EQUAL(bad.exit_code, 2);
  CAF_CHECK(bad.output.find("-H takes KEY=VALUE, not 'novalue'") != std::string::npos);
  CAF_MESSAGE(all.output << direct.output << part.output);
}

CAF_TEST(load stops after its calls past a warm up and reports the distribution) {
  auto out = slacker({"load", "--calls=300", "--warmup=0.3", "--concurrency=3",
                      "test.api/add", "1", "2"});
  CAF_REQUIRE_EQUAL(out.exit_code, 0);
  auto v = out.value();
  CAF_CHECK_EQUAL(v["calls"], json(300));
  CAF_CHECK_EQUAL(v["ok"], json(300));
  CAF_CHECK_GREATER(v["warmup_calls"].get<long>(), 0);
  // The percentiles climb to the maximum; the histogram holds every call.
  std::vector<std::string> keys{"p50_us",  "p90_us",   "p99_us",
                                "p999_us", "p9999_us", "max_us"};
  for (size_t i = 1; i < keys.size(); ++i)
    CAF_CHECK_LESS_OR_EQUAL(v[keys[i - 1]].get<long>(), v[keys[i]].get<long>());
  long counted = 0;
  long last_bound = 0;
  for (auto& b : v["histogram"]) {
    CAF_CHECK_GREATER(b["le_us"].get<long>(), last_bound);
    last_bound = b["le_us"].get<long>();
    counted += b["count"].get<long>();
  }
  CAF_CHECK_EQUAL(counted, 300);
  CAF_CHECK_GREATER_OR_EQUAL(last_bound, v["max_us"].get<long>());
  CAF_MESSAGE(out.lines.front());
}

CAF_TEST(inspect lists functions with docs and signatures) {
  auto all = slacker({"inspect"});
  CAF_CHECK_EQUAL(all.exit_code, 0);
  auto v = all.value();
  CAF_CHECK(v.contains("test.api") && v.contains("slacker.cluster.manager"));
  auto one = slacker({"inspect", "test.api"}).value();
  CAF_CHECK_EQUAL(one["test.api"]["add"]["doc"], json("a + b"));
  CAF_CHECK_EQUAL(one["test.api"]["add"]["args"], json({"int64", "int64"}));
  // arglists: an array of arrays for any arity (two once came out an object).
  auto arglists = [&](const char* fn) {
    return one["test.api"][fn]["arglists"];
  };
  CAF_CHECK_EQUAL(arglists("add"), json::parse(R"([["int64","int64"]])"));
  CAF_CHECK_EQUAL(arglists("echo"), json::parse(R"([["string"]])"));
  CAF_CHECK_EQUAL(arglists("whoami"), json::parse(R"([[]])"));
  CAF_CHECK_EQUAL(slacker({"inspect", "no.such.ns"}).exit_code, 1);
}

CAF_TEST(inspect describes an actor namespace and call says how to reach it) {
  auto actor = slacker({"inspect", "test.reflect"});
  CAF_CHECK_EQUAL(actor.exit_code, 0);
  auto doc = actor.value()["test.reflect"]["_actor"]["doc"].get<std::string>();
  CAF_CHECK(doc.find("a CAF actor: send it typed messages") == 0);
  auto call = slacker_test::run({slacker_test::cli_path(), "call", "--zk=" + zk_address(),
                                 "--cluster=" + cluster, "test.reflect/double", "1"});
  CAF_CHECK_EQUAL(call.exit_code, 1);
  CAF_CHECK(call.output.find("error: not_found: test.reflect is served by a CAF actor") ==
            0);
  CAF_CHECK(call.output.find("cluster_client::ask") != std::string::npos);
}

CAF_TEST(members shows servers with data and namespaces with servers leader and token) {
  auto v = slacker({"members"}).value();
  CAF_CHECK_EQUAL(v["servers"][addr(0)], json({{"label", "t"}}));
  auto& api = v["namespaces"]["test.api"];
  auto servers = api["servers"].get<std::set<std::string>>();
  CAF_CHECK(servers == (std::set<std::string>{addr(0), addr(1)}));
  CAF_CHECK(api["leader"] == json(addr(0)) || api["leader"] == json(addr(1)));
  // The leader's fencing token, as ZooKeeper holds it.
  auto& token = api["token"];
  SLACKER_REQUIRE(token.is_object(), "no token: " << api.dump());
  CAF_CHECK_GREATER(token["incarnation"].get<int64_t>(), 0);
  CAF_CHECK_NOT_EQUAL(token["session"].get<int64_t>(), 0);
  CAF_CHECK(token["sequence"].is_number_unsigned());
  CAF_CHECK_EQUAL(v["status"], json("connected")); // and the view is current:
  CAF_CHECK_EQUAL(v["view_age_ms"], json(0));
}

CAF_TEST(watch prints membership events as json lines) {
  auto out = slacker({"watch", "--count=1"});
  CAF_CHECK_EQUAL(out.exit_code, 0);
  SLACKER_REQUIRE(out.lines.size() == 1, "lines: " << out.lines.size());
  auto snapshot = out.value();
  CAF_CHECK_EQUAL(snapshot["event"], json("snapshot"));
  CAF_CHECK(snapshot["servers"].contains(addr(1)));
}

CAF_TEST(server data reads and sets through the manager) {
  CAF_CHECK_EQUAL(slacker({"server-data", addr(0)}).value(), json({{"label", "t"}}));
  auto set = slacker({"server-data", addr(0), "{\"weight\":5}"});
  CAF_CHECK_EQUAL(set.field("addr"), json(addr(0))); // the new state
  CAF_CHECK_EQUAL(set.field("server_data"), json({{"weight", 5}}));
  SLACKER_REQUIRE(
      log->next<server_data_changed>(
          [&](auto& x) { return x.addr == addr(0) && x.data == R"({"weight":5})"; }, 10s),
      "no server_data_changed");
  CAF_CHECK_EQUAL(slacker({"server-data", addr(0)}).value(), json({{"weight", 5}}));
  CAF_CHECK_EQUAL(slacker({"server-data", "127.0.0.1:1"}).exit_code, 1);
}

CAF_TEST(offline and online take a server or a namespace out of routing and back) {
  // Each prints the server's state: its namespaces in routing and out.
  auto out = slacker({"offline", addr(0), "test.api"}).value();
  CAF_CHECK_EQUAL(out["offline"], json({"test.api"}));
  CAF_CHECK(!out["routed"].empty());
  CAF_CHECK(log->next<namespace_down>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == addr(0); }, 10s));
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL(slacker({"call", "test.api/whoami"}).value(), json(addr(1)));
  CAF_CHECK_EQUAL(slacker({"online", addr(0), "test.api"}).field("offline"),
                  json::array());
  CAF_CHECK(log->next<namespace_up>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == addr(0); }, 10s));
  auto all_out = slacker({"offline", addr(1)}).value();
  CAF_CHECK(all_out["routed"].empty());
  CAF_CHECK_EQUAL(all_out["offline"].size(), 4u); // test.api, .admin, .reflect, manager
  CAF_CHECK(log->next<namespace_down>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == addr(1); }, 10s));
  CAF_CHECK_EQUAL(slacker({"online", addr(1)}).field("offline"), json::array());
  CAF_CHECK(log->next<namespace_up>(
      [&](auto& x) { return x.ns == "test.api" && x.addr == addr(1); }, 10s));
}

CAF_TEST(help lists the commands and each command its options with defaults) {
  auto top = slacker({"--help"}, false);
  CAF_CHECK_EQUAL(top.exit_code, 0);
  std::string all;
  for (auto& l : top.lines)
    all += l + "\n";
  for (auto cmd : {"call", "load", "inspect", "members", "watch", "server-data",
                   "offline", "online", "shutdown"})
    if (all.find("\n  " + std::string{cmd} + " ") == std::string::npos)
      CAF_FAIL("--help does not list " << cmd);
  for (auto flag : {"--help", "-h"}) {
    auto call = slacker({"call", flag}, false);
    CAF_CHECK_EQUAL(call.exit_code, 0);
    std::string text;
    for (auto& l : call.lines)
      text += l + "\n";
    CAF_CHECK(text.find("--timeout MS=10000") != std::string::npos);
    CAF_CHECK(text.find("--zk-timeout MS=3000") != std::string::npos);
    CAF_CHECK(text.find("NS/FN") != std::string::npos);
  }
  auto version = slacker({"--version"}, false);
  CAF_CHECK_EQUAL(version.exit_code, 0);
  SLACKER_REQUIRE(!version.lines.empty(), "no version");
  CAF_CHECK_EQUAL(version.lines.front().rfind("slacker ", 0), 0u);
  CAF_CHECK_EQUAL(slacker({"call", "--no-such-flag", "test.api/add"}).exit_code, 2);
  CAF_CHECK_EQUAL(slacker({"server-data"}).exit_code, 2); // ADDR missing
}

CAF_TEST(arguments come from files and standard input and flags take json strings) {
  auto file = "/tmp/slacker-cli-arg-" + std::to_string(getpid()) + ".json";
  {
    std::ofstream out{file};
    out << R"("from a file")";
  }
  auto from_file = slacker({"call", "test.api/echo", "@" + file});
  CAF_CHECK_EQUAL(from_file.exit_code, 0);
  CAF_CHECK_EQUAL(from_file.value(), json("from a file"));
  std::remove(file.c_str());
  CAF_CHECK_EQUAL(slacker({"call", "test.api/echo", "@" + file}).exit_code, 1); // gone
  slacker_test::process piped{{slacker_test::binary_path("../apps/slacker"), "call",
                               "--zk=" + zk_address(), "--cluster=" + cluster,
                               "test.api/echo", "-"}};
  piped.write_line("\"from standard input\"");
  piped.close_input();
  CAF_CHECK_EQUAL(piped.read_line(30000).value_or("nothing"), "\"from standard input\"");
  auto status = piped.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto fallback = slacker({"call", "--unavailable-value=\"N/A\"", "no.such/fn"});
  CAF_CHECK_EQUAL(fallback.exit_code, 0);
  CAF_CHECK_EQUAL(fallback.value(), json("N/A"));
}

CAF_TEST(server data merges keys with merge and is replaced without it) {
  auto merged = slacker({"server-data", addr(0), "{\"weight\":5}", "--merge"});
  CAF_CHECK_EQUAL(merged.exit_code, 0);
  CAF_CHECK_EQUAL(merged.field("server_data"), json({{"label", "t"}, {"weight", 5}}));
  auto removed = slacker({"server-data", addr(0), "{\"label\":null}", "--merge"});
  CAF_CHECK_EQUAL(removed.field("server_data"), json({{"weight", 5}}));
  CAF_CHECK(log->next<server_data_changed>(
      [&](auto& x) { return x.addr == addr(0) && x.data == R"({"weight":5})"; }, 10s));
  CAF_CHECK_EQUAL(slacker({"server-data", addr(0), "[1]", "--merge"}).exit_code, 1);
  auto replaced = slacker({"server-data", addr(0), "{\"only\":1}"});
  CAF_CHECK_EQUAL(replaced.field("server_data"), json({{"only", 1}}));
}

CAF_TEST(members waits for servers and shutdown stops one) {
  auto two = slacker({"members", "--wait=2"});
  CAF_CHECK_EQUAL(two.exit_code, 0);
  CAF_CHECK_EQUAL(two.field("servers").size(), 2u);
  auto three = slacker({"members", "--wait=3", "--timeout=300"});
  CAF_CHECK_EQUAL(three.exit_code, 1);
  auto stop = slacker({"shutdown", addr(1)}, false);
  CAF_CHECK_EQUAL(stop.exit_code, 0);
  CAF_CHECK_EQUAL(stop.value(), json({{"addr", addr(1)}, {"stopping", true}}));
  CAF_CHECK(log->next<member_down>([&](auto& x) { return x.addr == addr(1); }, 15s));
  CAF_CHECK(members[1]->proc.wait_for("stopped", 15000)); // drained, then exits
  auto status = members[1]->proc.stop();
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CAF_TEST(without zookeeper every command fails fast with one line) {
  std::vector<std::vector<std::string>> commands{
      {"call", "test.api/add", "1", "2"},
      {"load", "--duration=1", "test.api/add", "1", "2"},
      {"inspect"},
      {"members"},
      {"watch"},
      {"server-data", "127.0.0.1:9"}};
  for (auto cmd : commands) {
    cmd.insert(cmd.end(),
               {"--zk=127.0.0.1:1", "--zk-timeout=300", "--cluster=" + cluster});
    auto out = slacker_test::run([&] {
      auto argv = cmd;
      argv.insert(argv.begin(), slacker_test::binary_path("../apps/slacker"));
      return argv;
    }());
    CAF_MESSAGE(cmd.front() << ": " << out.output);
    CAF_CHECK_EQUAL(out.exit_code, 1);
    CAF_CHECK_EQUAL(out.output,
                    "error: unavailable: ZooKeeper at 127.0.0.1:1 not reachable in "
                    "300 ms (connection refused)\n");
  }
}

CAF_TEST(a zookeeper that stops answering after the session leaves every command within
             its zk timeout) {
  // The proxy passes ZooKeeper's first answer on each connection (the
  // session) and nothing after: a command's registry is connected, and its
  // first read of the tree waits unanswered (until the client's receive
  // timeout, 10 s with the default session). --zk-timeout bounds the command
  // all the same.
  slacker_test::tcp_proxy proxy{slacker_test::port_of(zk_address())};
  proxy.answer_once();
  std::vector<std::vector<std::string>> commands{{"members"},
                                                 {"server-data", addr(0)},
                                                 {"call", "test.api/add", "1", "2"},
                                                 {"inspect"}};
  for (auto cmd : commands) {
    cmd.insert(cmd.end(),
               {"--zk=" + proxy.address(), "--zk-timeout=2000", "--cluster=" + cluster});
    auto t0 = std::chrono::steady_clock::now();
    auto out = slacker(cmd, false);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    CAF_MESSAGE(cmd[0] << " took " << took.count() << " ms");
    CAF_CHECK_EQUAL(out.exit_code, 1);
    CAF_CHECK(out.lines.empty()); // the error is one line on stderr
    CAF_CHECK_LESS(took, 5000ms); // 2 s, the probe's 0.5 s, 1 s to stop, the process
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
