#pragma once

// The count of a cluster client's calls in flight on one server, shared by
// the threads that send calls there (callers, the dispatcher) and the one
// that ends them (the server's connection broker, on the network thread).

#include <atomic>
#include <cstddef>

namespace slacker {

/// Calls in flight on one server: counted in where a call is sent and out
/// where it ends, in two counters on cache lines of their own. With one
/// counter, a call from an actor moved its line from the caller's core to
/// the network thread's and back (one line per call, two misses); now each
/// side writes its own line, and only a reader (`least_in_flight`, the
/// dispatcher) reads both. Used as an `std::atomic<size_t>` would be.
class in_flight_count {
public:
  explicit in_flight_count(size_t n = 0) noexcept : in_(n) {
    // nop
  }

  in_flight_count(const in_flight_count&) = delete;
  in_flight_count& operator=(const in_flight_count&) = delete;

  /// `n` calls sent.
  void fetch_add(size_t n, std::memory_order order = std::memory_order_relaxed) noexcept {
    in_.fetch_add(n, order);
  }

  /// `n` calls ended.
  void fetch_sub(size_t n, std::memory_order order = std::memory_order_relaxed) noexcept {
    out_.fetch_add(n, order);
  }

  /// The calls sent and not ended (0 while a concurrent end is seen before
  /// its start).
  size_t load(std::memory_order order = std::memory_order_relaxed) const noexcept {
    auto out = out_.load(order);
    auto in = in_.load(order);
    return in > out ? in - out : 0;
  }

  /// Sets the count to `n` (tests, setting a load).
  void store(size_t n) noexcept {
    in_.store(out_.load() + n);
  }

private:
  alignas(64) std::atomic<size_t> in_;
  alignas(64) std::atomic<size_t> out_{0};
};

} // namespace slacker
