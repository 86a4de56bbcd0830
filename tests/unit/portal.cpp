#define CAF_SUITE portal
#include <caf/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "slacker/runtime/detail/portal.hpp"

using namespace slacker;

namespace {

using buckets = std::array<uint64_t, metrics::bucket_us.size() + 1>;

/// Field `key` of the portal's row of setting `name` ("(no row)": none).
std::string field(const nlohmann::json& report, const std::string& name,
                  const std::string& key) {
  for (auto& row : report)
    if (row["name"] == name)
      return row[key].get<std::string>();
  return "(no row)";
}

} // namespace

CAF_TEST(percentiles come from the histogram within their bucket) {
  buckets none{};
  CAF_CHECK_EQUAL(metrics::percentile_us(none, 0.5), 0.0);
  // 100 calls in (100, 250] µs: the median halfway, p99 near the top.
  buckets b{};
  b[2] = 100;
  CAF_CHECK_EQUAL(metrics::percentile_us(b, 0.5), 175.0);
  CAF_CHECK_EQUAL(metrics::percentile_us(b, 0.99), 248.5);
  // 90 fast, 10 slow: the median among the fast, p99 among the slow.
  buckets two{};
  two[0] = 90;  // <= 50 µs
  two[10] = 10; // (100 ms, 1 s]
  CAF_CHECK_LESS_OR_EQUAL(metrics::percentile_us(two, 0.5), 50.0);
  CAF_CHECK_GREATER(metrics::percentile_us(two, 0.99), 100000.0);
  // Past the last bound: the bound (10 s), not a made-up value.
  buckets inf{};
  inf[metrics::bucket_us.size()] = 5;
  CAF_CHECK_EQUAL(metrics::percentile_us(inf, 0.5), 10000000.0);
}

CAF_TEST(the config page says where each setting came from and hides secrets) {
  auto ini = std::string{"portal-test-"} + std::to_string(::getpid()) + ".ini";
  {
    std::ofstream out{ini};
    out << "[slacker]\nfailure-accrual=7\n";
  }
  std::vector<std::string> args{"--slacker.worker-threads=3", "--manager-token=s3cret",
                                "--config-file=" + ini};
  expand_option_aliases(args);
  slacker::config cfg;
  CAF_REQUIRE(!cfg.parse(args));
  cfg.set("slacker.idle-timeout", caf::timespan{std::chrono::seconds{9}});
  auto report = nlohmann::json::parse(portal::config_report(cfg));
  std::remove(ini.c_str());
  CAF_MESSAGE(report.dump());
  CAF_CHECK_EQUAL(field(report, "slacker.worker-threads", "source"), "command line");
  CAF_CHECK_EQUAL(field(report, "slacker.worker-threads", "value"), "3");
  CAF_CHECK_EQUAL(field(report, "slacker.failure-accrual", "source"), "file");
  CAF_CHECK_EQUAL(field(report, "slacker.idle-timeout", "source"), "program");
  CAF_CHECK_EQUAL(field(report, "slacker.retry-budget", "source"), "default");
  CAF_CHECK_EQUAL(field(report, "slacker.manager.token", "value"), "(set, not shown)");
  CAF_CHECK(report.dump().find("s3cret") == std::string::npos);
}

CAF_TEST(CAF runs one worker per core unless told otherwise) {
  // Each idle worker wakes 5 times a second (work-stealing.relaxed-sleep-
  // duration): CAF's own default of at least 4 workers costs a 2-core
  // machine twice the wakeups (docs/benchmarks.md, `bench --idle`).
  auto cores = std::max<size_t>(2, std::thread::hardware_concurrency());
  {
    std::vector<std::string> args;
    slacker::config cfg;
    CAF_REQUIRE(!cfg.parse(args));
    CAF_CHECK_EQUAL(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), cores);
    auto report = nlohmann::json::parse(portal::config_report(cfg));
    CAF_CHECK_EQUAL(field(report, "scheduler.max-threads", "value"),
                    std::to_string(cores));
  }
  {
    std::vector<std::string> args{"--scheduler.max-threads=7"};
    slacker::config cfg;
    CAF_REQUIRE(!cfg.parse(args));
    CAF_CHECK_EQUAL(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), size_t{7});
  }
}
