#define CAF_SUITE cli
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "event_log.hpp"
#include "process.hpp"
#include "require.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "zk_support.hpp"

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
};

struct fixture {
  slacker::config cfg;
  caf::actor_system sys{cfg};
  std::string cluster;
  std::unique_ptr<slacker::registry> reg;
  std::shared_ptr<slacker_test::event_log> log = std::make_shared<slacker_test::event_log>();
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
      members.push_back(std::make_unique<member>(cluster, R"({"label":"t"})", 2000, 0, true));
      auto& m = *members.back();
      for (auto ns : {"test.api", "slacker.cluster.manager"})
        SLACKER_REQUIRE(log->next<namespace_up>(
                          [&](auto& x) { return x.ns == ns && x.addr == m.addr; }, 15s),
                        "no namespace_up of " << ns);
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
    while (auto line = proc.read_line(30000))
      out.lines.push_back(*line);
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
  auto vec = slacker({"call", "--grouping=all", "--results=vector", "test.api/echo", "\"x\""});
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
  CAF_CHECK_EQUAL(slacker({"call", "test.api/add", "not-json"}).exit_code, 2);
  CAF_CHECK_EQUAL(slacker({"call", "--grouping=fastest", "test.api/add", "1", "2"}).exit_code,
                  2);
  CAF_CHECK_EQUAL(slacker({"frobnicate"}).exit_code, 2);
  CAF_CHECK_EQUAL(slacker({}).exit_code, 2);
}

CAF_TEST(inspect lists functions with docs and signatures) {
  auto all = slacker({"inspect"});
  CAF_CHECK_EQUAL(all.exit_code, 0);
  auto v = all.value();
  CAF_CHECK(v.contains("test.api") && v.contains("slacker.cluster.manager"));
  auto one = slacker({"inspect", "test.api"}).value();
  CAF_CHECK_EQUAL(one["test.api"]["add"]["doc"], json("a + b"));
  CAF_CHECK_EQUAL(one["test.api"]["add"]["args"], json({"int64", "int64"}));
  CAF_CHECK_EQUAL(slacker({"inspect", "no.such.ns"}).exit_code, 1);
}

CAF_TEST(members shows servers with data and namespaces with servers and leader) {
  auto v = slacker({"members"}).value();
  CAF_CHECK_EQUAL(v["servers"][addr(0)], json({{"label", "t"}}));
  auto& api = v["namespaces"]["test.api"];
  auto servers = api["servers"].get<std::set<std::string>>();
  CAF_CHECK(servers == (std::set<std::string>{addr(0), addr(1)}));
  CAF_CHECK(api["leader"] == json(addr(0)) || api["leader"] == json(addr(1)));
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
  CAF_CHECK_EQUAL(set.value(), json(true));
  SLACKER_REQUIRE(log->next<server_data_changed>(
                    [&](auto& x) { return x.addr == addr(0) && x.data == R"({"weight":5})"; },
                    10s),
                  "no server_data_changed");
  CAF_CHECK_EQUAL(slacker({"server-data", addr(0)}).value(), json({{"weight", 5}}));
  CAF_CHECK_EQUAL(slacker({"server-data", "127.0.0.1:1"}).exit_code, 1);
}

CAF_TEST(offline and online take a server or a namespace out of routing and back) {
  CAF_CHECK_EQUAL(slacker({"offline", addr(0), "test.api"}).value(), json(true));
  CAF_CHECK(log->next<namespace_down>(
    [&](auto& x) { return x.ns == "test.api" && x.addr == addr(0); }, 10s));
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL(slacker({"call", "test.api/whoami"}).value(), json(addr(1)));
  CAF_CHECK_EQUAL(slacker({"online", addr(0), "test.api"}).value(), json(true));
  CAF_CHECK(log->next<namespace_up>(
    [&](auto& x) { return x.ns == "test.api" && x.addr == addr(0); }, 10s));
  CAF_CHECK_EQUAL(slacker({"offline", addr(1)}).value(), json(true));
  CAF_CHECK(log->next<namespace_down>(
    [&](auto& x) { return x.ns == "test.api" && x.addr == addr(1); }, 10s));
  CAF_CHECK_EQUAL(slacker({"online", addr(1)}).value(), json(true));
  CAF_CHECK(log->next<namespace_up>(
    [&](auto& x) { return x.ns == "test.api" && x.addr == addr(1); }, 10s));
}

CAF_TEST_FIXTURE_SCOPE_END()
