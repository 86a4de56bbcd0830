#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace slacker {

/// What one run of a function cost its thread, so that `inline_cost` judges
/// the function and not the machine: a cheap function preempted for a 4 ms
/// time slice, or stood still for 3 ms without the kernel's counters seeing
/// it wait (steal: on this VM with more threads busy than vCPUs, far more
/// common than a visible preemption; docs/security.md), is still cheap. One
/// per thread (`this_thread_run_delay`).
///
/// The meter reads the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, which
/// mostly leaves out steal) and the kernel's run delay and count of times it
/// was switched in (`/proc/thread-self/schedstat`): about 1.5 µs a read, so at
/// the start of a run at most once per `mark_every` (or when asked for a fresh
/// mark), and once more after a run that took long enough to matter. Between
/// the two reads:
/// - not switched out at all: the run cost at most the CPU time between them
///   (what is left is steal);
/// - switched out: the run cost its wall time less the wait for a CPU that
///   certainly fell into it (what cannot have fallen into the run, the time
///   from the mark to its start and from its end to the second read, is not
///   counted). A function that blocks (sleeps, waits on I/O) is not excused:
///   a sleeping thread is not waiting for a CPU.
/// What is left may still be the machine's (steal the kernel counts as CPU
/// time or as a sleep): `inline_cost` acts on two slow runs in a row only.
/// Without schedstat (no /proc, a kernel without CONFIG_SCHED_INFO) nothing
/// is excused.
class run_delay {
public:
  using clock = std::chrono::steady_clock;

  /// The calling thread's counters so far; -1 where unknown.
  struct sample {
    int64_t cpu_ns = -1;   ///< CPU time (without steal)
    int64_t delay_ns = -1; ///< waited for a CPU while runnable
    int64_t switches = -1; ///< times switched in (after a sleep or a wait)
  };

  /// Reads the calling thread's counters (a seam for tests).
  using reader = sample (*)();

  /// The clock (a seam for tests).
  using now_fn = clock::time_point (*)();

  static constexpr std::chrono::milliseconds mark_every{1};

  explicit run_delay(reader read, now_fn now = &clock::now) noexcept
    : read_(read), now_(now) {}

  /// A run starts at `start` (read just before); `fresh`: read the counters
  /// now even if the last mark is recent.
  void mark(clock::time_point start, bool fresh = false) noexcept {
    if (fresh || start - marked_at_ >= mark_every) {
      marked_at_ = start;
      mark_ = read_();
    }
  }

  /// The run from `start` to `end` (since the last `mark`) as the function's
  /// cost (at most what it cost); runs of at most `above` are taken as they
  /// are (and the counters not read again).
  clock::duration charged(clock::time_point start, clock::time_point end,
                          clock::duration above) noexcept {
    auto took = end - start;
    if (took <= above || mark_.delay_ns < 0)
      return took;
    // The clock before the read: after it would count the wait that a
    // preemption at the read's return (a common place for one) adds, which
    // the values read do not hold.
    auto before = now_();
    auto now = read_();
    auto out = took;
    if (now.delay_ns < 0) {
      // unknown: nothing excused
    } else if (now.switches >= 0 && now.switches == mark_.switches) {
      if (now.cpu_ns >= 0 && mark_.cpu_ns >= 0)
        out = std::min<clock::duration>(
            took, std::chrono::duration_cast<clock::duration>(
                      std::chrono::nanoseconds{now.cpu_ns - mark_.cpu_ns}));
    } else {
      auto outside = (start - marked_at_) + (before - end);
      auto waited = std::chrono::duration_cast<clock::duration>(
                        std::chrono::nanoseconds{now.delay_ns - mark_.delay_ns}) -
                    outside;
      out = took - std::clamp(waited, clock::duration::zero(), took);
    }
    mark_ = now;
    marked_at_ = before;
    return out;
  }

private:
  reader read_;
  now_fn now_;
  sample mark_{};
  clock::time_point marked_at_{};
};

/// The calling thread's counters (`/proc/thread-self/schedstat` kept open per
/// thread, and its CPU clock).
run_delay::sample read_thread_counters() noexcept;

/// The calling thread's meter (reads `read_thread_counters`).
run_delay& this_thread_run_delay() noexcept;

} // namespace slacker
