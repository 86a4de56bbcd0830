#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace slacker {

/// How many retries (and hedges) a client may send: at most `share` of the
/// calls it made in the last 10 seconds, plus `floor_per_s` a second (so
/// that a client making few calls can still retry). A plain value, kept by
/// the dispatcher: a cluster whose servers all fail gets a bounded number of
/// extra calls, not a retry storm (Finagle's retry budget).
class retry_budget {
public:
  using clock = std::chrono::steady_clock;
  static constexpr size_t window_s = 10;

  explicit retry_budget(double share = 0.2, uint32_t floor_per_s = 10)
    : share_(share), floor_per_s_(floor_per_s) {}

  /// `n` calls were made.
  void deposit(clock::time_point now, uint64_t n = 1) {
    bucket(now).calls += n;
  }

  /// A retry wants to go: true (and counted) when the budget allows it.
  bool withdraw(clock::time_point now) {
    auto& b = bucket(now);
    auto [calls, retries] = totals();
    if (retries + 1 > share_ * static_cast<double>(calls) + floor_per_s_ * window_s)
      return false;
    b.retries++;
    return true;
  }

  /// "retry budget spent: R retries for C calls in the last 10 s".
  std::string describe(clock::time_point now) {
    bucket(now);
    auto [calls, retries] = totals();
    return "retry budget spent: " + std::to_string(retries) + " retries for " +
           std::to_string(calls) + " calls in the last " + std::to_string(window_s) +
           " s";
  }

private:
  struct slot {
    int64_t second = -1;
    uint64_t calls = 0;
    uint64_t retries = 0;
  };

  slot& bucket(clock::time_point now) {
    auto sec =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    auto& b = slots_[static_cast<size_t>(sec) % window_s];
    if (b.second != sec)
      b = slot{sec, 0, 0};
    newest_ = sec;
    return b;
  }

  std::pair<uint64_t, uint64_t> totals() const {
    uint64_t calls = 0;
    uint64_t retries = 0;
    for (auto& b : slots_)
      if (b.second > newest_ - static_cast<int64_t>(window_s)) {
        calls += b.calls;
        retries += b.retries;
      }
    return {calls, retries};
  }

  double share_;
  uint32_t floor_per_s_;
  int64_t newest_ = 0;
  std::array<slot, window_s> slots_{};
};

} // namespace slacker
