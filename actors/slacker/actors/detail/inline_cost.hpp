#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace slacker {

/// Where a server runs a call of a non-blocking function: inline on the
/// network thread (no hop, the fastest path for cheap functions) or on the
/// worker pool (the network thread stays free for everyone else). One per
/// function, kept by the connections on the network thread (no lock).
///
/// A function starts on the pool and is measured there; after
/// `promote_after` runs in a row of at most `cheap` each, it runs inline. Two
/// inline runs in a row of `slow` or more send it back to the pool for a
/// penalty that doubles with each demotion (1 s up to 5 min) before it may be
/// promoted again (back to 1 s once it has run inline for `max_penalty`
/// without being sent away): a function that turns expensive stalls the
/// network thread at most twice per penalty. One slow run is not enough: on a VM the
/// kernel cannot always tell the function's time from the machine's (the hypervisor
/// running another guest shows as the thread's CPU time or as a sleep, seen
/// at 2–19 ms in a 100 µs function under load), and a cheap function sent to
/// a busy pool is refused (`overloaded`). So the run after a slow one is
/// measured from a fresh mark (`recheck`), and only if it is slow too does the
/// function go. Calls with arguments above `max_inline_args` always go to the
/// pool (decoding them is the cost) and are not measured.
struct inline_cost {
  using clock = std::chrono::steady_clock;

  static constexpr std::chrono::microseconds cheap{200};
  static constexpr std::chrono::microseconds slow{2000};
  static constexpr int promote_after = 8;
  static constexpr size_t max_inline_args = 64 * 1024;
  static constexpr std::chrono::seconds first_penalty{1};
  static constexpr std::chrono::seconds max_penalty{300};

  bool inline_ok = false;
  int cheap_runs = 0;
  clock::duration penalty = first_penalty;
  clock::time_point demoted_until{};
  clock::time_point inline_since{}; // when it was last promoted
  uint64_t demotions = 0;
  /// The last inline run was slow: measure the next one afresh, and send the
  /// function away if it is slow too.
  bool recheck = false;

  /// Whether this call runs inline.
  bool runs_inline(size_t arg_bytes) const noexcept {
    return inline_ok && arg_bytes <= max_inline_args;
  }

  /// A call ran for `took` (inline or on the pool; `run_delay::charged`),
  /// ending at `now`; true when this run sent the function to the pool.
  bool ran(clock::duration took, bool was_inline, size_t arg_bytes,
           clock::time_point now) noexcept {
    if (arg_bytes > max_inline_args)
      return false; // its cost was its arguments: says nothing about the function
    auto rechecked = was_inline && std::exchange(recheck, false);
    if (took <= cheap) {
      if (!inline_ok && now >= demoted_until && ++cheap_runs >= promote_after) {
        inline_ok = true;
        inline_since = now;
      }
      return false;
    }
    cheap_runs = 0;
    if (was_inline && took >= slow) {
      if (!rechecked) {
        recheck = true;
        return false;
      }
      inline_ok = false;
      if (now - inline_since >= max_penalty)
        penalty = first_penalty; // it behaved for long: its past is forgotten
      demoted_until = now + penalty;
      penalty = std::min<clock::duration>(penalty * 2, max_penalty);
      ++demotions;
      return true;
    }
    return false;
  }
};

} // namespace slacker
