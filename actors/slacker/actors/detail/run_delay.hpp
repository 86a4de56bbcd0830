#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace slacker {

/// How long the calling thread certainly waited for a CPU while it could run
/// during one run of a function (the kernel's run delay,
/// `/proc/thread-self/schedstat`), so that `inline_cost` judges the function
/// and not the machine: a cheap function preempted for a 4 ms time slice is
/// still cheap. One per thread (`this_thread_run_delay`).
///
/// A read costs about 1 µs here, so the meter reads at the start of a run at
/// most once per `mark_every`, and once more after a run that took long enough
/// to matter. Of the delay between the two reads, what cannot have fallen into
/// the run (the time from the mark to the run's start, and from its end to
/// the second read) is not counted: what is left is a lower bound, never
/// more than the run really waited. A function that blocks (sleeps, waits on
/// I/O) is not excused: a sleeping thread is not waiting for a CPU. Without
/// schedstat (no /proc, a kernel without CONFIG_SCHED_INFO) nothing is
/// excused.
class run_delay {
public:
  using clock = std::chrono::steady_clock;

  /// The calling thread's run delay so far in ns, or -1 when unknown.
  using reader = int64_t (*)();

  /// The clock (a seam for tests).
  using now_fn = clock::time_point (*)();

  static constexpr std::chrono::milliseconds mark_every{1};

  explicit run_delay(reader read, now_fn now = &clock::now) noexcept
    : read_(read), now_(now) {}

  /// A run starts at `start` (read just before).
  void mark(clock::time_point start) noexcept {
    if (mark_ < 0 || start - marked_at_ >= mark_every) {
      marked_at_ = start;
      mark_ = read_();
    }
  }

  /// Of the run from `start` to `end` (since the last `mark`), how long the
  /// thread certainly waited for a CPU (but for an interrupt in the
  /// instructions between a clock read and the counter's); reads the clock
  /// and the delay.
  clock::duration waited(clock::time_point start, clock::time_point end) noexcept {
    if (mark_ < 0)
      return clock::duration::zero();
    // The clock before the read: after it would count the wait that a
    // preemption at the read's return (a common place for one) adds, which
    // the value read does not hold.
    auto before = now_();
    auto now = read_();
    if (now < 0)
      return clock::duration::zero();
    auto certain =
        std::chrono::nanoseconds{now - mark_} - (start - marked_at_) - (before - end);
    mark_ = now;
    marked_at_ = before;
    return std::max(std::chrono::duration_cast<clock::duration>(certain),
                    clock::duration::zero());
  }

  /// The run from `start` to `end` as the function's cost: less the certain
  /// wait once it took more than `above` (shorter runs are not read again).
  clock::duration charged(clock::time_point start, clock::time_point end,
                          clock::duration above) noexcept {
    auto took = end - start;
    if (took <= above)
      return took;
    return took - std::min(took, waited(start, end));
  }

private:
  reader read_;
  now_fn now_;
  int64_t mark_ = -1;
  clock::time_point marked_at_{};
};

/// The calling thread's run delay in ns from `/proc/thread-self/schedstat`
/// (kept open per thread), or -1.
int64_t read_thread_run_delay() noexcept;

/// The calling thread's meter (reads `read_thread_run_delay`).
run_delay& this_thread_run_delay() noexcept;

} // namespace slacker
