#pragma once

// A network namespace made by the test, joined to this one by a veth pair:
// this side is 10.213.N.1, the inside 10.213.N.2. A process started inside
// (`command`) reaches servers here from an address that is not loopback.
// Needs root and iproute2; removed (with its veth pair) on destruction.

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace slacker_test {

class netns {
public:
  netns() {
    // Namespaces left by a test process that died before its destructor ran.
    std::system("for ns in $(ip netns list | awk '/^slk-test-/ {print $1}'); do "
                "pid=${ns#slk-test-}; kill -0 $pid 2>/dev/null || ip netns del $ns; "
                "done >/dev/null 2>&1");
    auto n = static_cast<int>(::getpid() % 250) + 1;
    name = "slk-test-" + std::to_string(::getpid());
    veth = "slkh" + std::to_string(::getpid() % 100000);
    auto inner = "slkn" + std::to_string(::getpid() % 100000);
    host_ip = "10.213." + std::to_string(n) + ".1";
    inner_ip = "10.213." + std::to_string(n) + ".2";
    run("ip netns add " + name);
    run("ip link add " + veth + " type veth peer name " + inner);
    run("ip link set " + inner + " netns " + name);
    run("ip addr add " + host_ip + "/30 dev " + veth);
    run("ip link set " + veth + " up");
    run("ip netns exec " + name + " ip addr add " + inner_ip + "/30 dev " + inner);
    run("ip netns exec " + name + " ip link set " + inner + " up");
    run("ip netns exec " + name + " ip link set lo up");
  }

  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;

  ~netns() {
    std::system(("ip netns del " + name + " >/dev/null 2>&1").c_str());
    std::system(("ip link del " + veth + " >/dev/null 2>&1").c_str());
  }

  /// `argv` run inside the namespace (for `run` in run_support.hpp).
  std::vector<std::string> command(const std::vector<std::string>& argv) const {
    std::vector<std::string> result{"ip", "netns", "exec", name};
    result.insert(result.end(), argv.begin(), argv.end());
    return result;
  }

  std::string name;
  std::string veth;
  std::string host_ip;
  std::string inner_ip;

private:
  void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("cannot set up a network namespace: " + cmd +
                               " failed (needs root and iproute2)");
  }
};

} // namespace slacker_test
