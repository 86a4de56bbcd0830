#pragma once

// For tests against the ZooKeeper the ctest fixture started: its address,
// and test-server processes registered in a cluster.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <caf/test/unit_test.hpp>

#include "apps/support/process.hpp"
#include "binaries.hpp"
#include "require.hpp"
#include "slacker/registry/detail/zk_session.hpp"

namespace slacker_test {

inline std::string zk_dir() {
  auto dir = std::getenv("SLACKER_TEST_ZK_DIR");
  return dir ? dir : "";
}

/// The port of `host:port`.
inline uint16_t port_of(const std::string& addr) {
  return static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
}

inline std::string zk_address() {
  std::ifstream in{zk_dir() + "/address"};
  std::string addr;
  in >> addr;
  return addr;
}

/// The candidates of an election on the test ZooKeeper, read by a client
/// of its own: name -> data (the candidate's address).
inline std::map<std::string, std::string> election_candidates(const std::string& dir) {
  std::map<std::string, std::string> out;
  auto zk = slacker::zk::session::open(zk_address(), std::chrono::seconds{5},
                                       [](const slacker::zk::event&) {});
  if (!zk)
    return out;
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) { // the session connects in the background
    if ((*zk)->children(dir, false, names))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  for (auto& n : names) {
    std::string data;
    if ((*zk)->get(dir + "/" + n, false, data))
      out[n] = data;
  }
  return out;
}

/// A test-server process registered in `cluster` (on the test ZooKeeper, or
/// on `zk` when given: an ensemble, a proxy).
struct member {
  slacker_test::process proc;
  std::string addr;

  member(const std::string& cluster, const std::string& data = "{}",
         int session_timeout_ms = 2000, uint16_t port = 0, bool manager = false,
         const std::vector<std::string>& extra = {}, const std::string& zk = "")
    : proc(args(cluster, data, session_timeout_ms, port, manager, extra, zk)) {
    auto serving = proc.wait_for("port ", 15000);
    SLACKER_REQUIRE(serving, "test-server did not start");
    addr = "127.0.0.1:" + *serving;
  }

  static std::vector<std::string> args(const std::string& cluster,
                                       const std::string& data, int session_timeout_ms,
                                       uint16_t port, bool manager,
                                       const std::vector<std::string>& extra,
                                       const std::string& zk = "") {
    std::vector<std::string> result{slacker_test::binary_path("test-server"),
                                    "--zk=" + (zk.empty() ? zk_address() : zk),
                                    "--cluster=" + cluster,
                                    "--server-data=" + data,
                                    "--session-timeout=" +
                                        std::to_string(session_timeout_ms),
                                    "--port=" + std::to_string(port)};
    if (manager)
      result.emplace_back("--manager"); // CAF's flags take no value
    result.insert(result.end(), extra.begin(), extra.end());
    return result;
  }

  void command(const std::string& line) {
    proc.write_line(line);
    auto answer = proc.wait_for("", 10000);
    SLACKER_REQUIRE(answer && *answer == "ok",
                    line << " -> " << answer.value_or("nothing"));
  }
};

} // namespace slacker_test
