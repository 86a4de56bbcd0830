#pragma once

// A steady call load through a cluster client, with what the fault tests
// measure of it; and ZooKeeper frozen for a while.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/support/proc_status.hpp"
#include "require.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/error.hpp"
#include "zk_support.hpp"

namespace slacker_test {

using clock_type = std::chrono::steady_clock;
using slacker::sc;
using namespace std::chrono_literals;

inline long long ms_of(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// A steady load: `threads` callers, each calling again as soon as its call
/// returned, until `stop()` (or `max`: it always ends by itself).
class load {
public:
  struct sample {
    clock_type::time_point end;
    clock_type::duration took;
    sc code; // sc::none: success
  };

  load(slacker::cluster_client& client, slacker::cluster_call proto, size_t threads,
       clock_type::duration max = 60s) {
    for (size_t i = 0; i < threads; ++i)
      workers_.emplace_back([this, &client, proto, max] {
        auto until = clock_type::now() + max;
        while (!stop_ && clock_type::now() < until) {
          auto call = proto;
          call.req.deadline_ns =
              (std::chrono::system_clock::now() + call.policies->timeout)
                  .time_since_epoch() /
              1ns;
          auto start = clock_type::now();
          auto rep = client.invoke(std::move(call));
          auto end = clock_type::now();
          std::lock_guard<std::mutex> guard{mtx_};
          samples_.push_back(
              {end, end - start, rep ? sc::none : slacker::code_of(rep.error())});
          if (!rep)
            texts_.push_back(slacker::describe(rep.error()));
        }
      });
  }

  ~load() {
    stop();
  }

  void stop() {
    stop_ = true;
    for (auto& t : workers_)
      if (t.joinable())
        t.join();
  }

  /// Successful calls that ended in [from, to).
  size_t ok_between(clock_type::time_point from, clock_type::time_point to) {
    std::lock_guard<std::mutex> guard{mtx_};
    return static_cast<size_t>(
        std::count_if(samples_.begin(), samples_.end(), [&](auto& s) {
          return s.code == sc::none && s.end >= from && s.end < to;
        }));
  }

  size_t calls() {
    std::lock_guard<std::mutex> guard{mtx_};
    return samples_.size();
  }

  std::map<sc, size_t> failures() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::map<sc, size_t> out;
    for (auto& s : samples_)
      if (s.code != sc::none)
        ++out[s.code];
    return out;
  }

  size_t failed() {
    size_t n = 0;
    for (auto& kvp : failures())
      n += kvp.second;
    return n;
  }

  clock_type::duration longest() {
    std::lock_guard<std::mutex> guard{mtx_};
    clock_type::duration out{0};
    for (auto& s : samples_)
      out = std::max(out, s.took);
    return out;
  }

  std::vector<std::string> first_errors() {
    std::lock_guard<std::mutex> guard{mtx_};
    return {texts_.begin(), texts_.begin() + std::min<size_t>(texts_.size(), 5)};
  }

  /// Failed calls whose error says `text`.
  size_t count_errors(const std::string& text) {
    std::lock_guard<std::mutex> guard{mtx_};
    return static_cast<size_t>(std::count_if(texts_.begin(), texts_.end(), [&](auto& x) {
      return x.find(text) != std::string::npos;
    }));
  }

private:
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::vector<sample> samples_;
  std::vector<std::string> texts_; // every failure's text
  std::vector<std::thread> workers_;
};

/// Freezes the test ZooKeeper (SIGSTOP) until destroyed.
struct zk_frozen {
  pid_t pid = 0;
  zk_frozen() {
    std::ifstream in{zk_dir() + "/pid"};
    in >> pid;
    SLACKER_REQUIRE(pid > 0, "no ZooKeeper pid");
    ::kill(pid, SIGSTOP);
    SLACKER_REQUIRE(wait_proc_state(pid, 'T', 5s), "ZooKeeper did not stop");
  }
  ~zk_frozen() {
    ::kill(pid, SIGCONT);
  }
};

} // namespace slacker_test
