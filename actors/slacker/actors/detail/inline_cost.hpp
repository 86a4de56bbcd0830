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
/// `promote_after` runs in a row of at most `cheap` each, it runs inline. An
/// inline run of `slow` or more sends it back to the pool for a penalty that
/// doubles with each demotion (1 s up to 5 min) before it may be promoted
/// again: a function that is sometimes expensive stalls the network thread
/// at most once per penalty. A slow run of which less than `slow` was
/// certainly the function's own (the rest may be time the hypervisor did
/// not run the thread, not told apart from a sleep: `run_delay`) demotes only
/// if the next inline run, measured from a fresh mark (`recheck`), is slow
/// too: such a function stalls the network thread at most twice. Calls with arguments
/// above `max_inline_args` always go to the pool (decoding them is the cost) and are not
/// measured.
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
  uint64_t demotions = 0;
  /// The last inline run was slow, but not certainly: measure the next one
  /// afresh.
  bool recheck = false;

  /// Whether this call runs inline.
  bool runs_inline(size_t arg_bytes) const noexcept {
    return inline_ok && arg_bytes <= max_inline_args;
  }

  /// A call ran for `took` (inline or on the pool), ending at `now`, of
  /// which `certain` was certainly its own (`run_delay::charge`); true when
  /// this run sent the function to the pool.
  bool ran(clock::duration took, bool was_inline, size_t arg_bytes, clock::time_point now,
           clock::duration certain = clock::duration::max()) noexcept {
    if (arg_bytes > max_inline_args)
      return false; // its cost was its arguments: says nothing about the function
    auto rechecked = was_inline && std::exchange(recheck, false);
    if (took <= cheap) {
      if (!inline_ok && now >= demoted_until && ++cheap_runs >= promote_after)
        inline_ok = true;
      return false;
    }
    cheap_runs = 0;
    if (was_inline && took >= slow) {
      if (certain < slow && !rechecked) {
        recheck = true;
        return false;
      }
      inline_ok = false;
      demoted_until = now + penalty;
      penalty = std::min<clock::duration>(penalty * 2, max_penalty);
      ++demotions;
      return true;
    }
    return false;
  }
};

} // namespace slacker
