#pragma once

// The health of one server as a cluster client sees it: failure accrual (the
// count of its calls in a row that timed out), its latency, and whether calls
// should go elsewhere for now (unheard, or shedding load), shared by its
// connection broker and the blocking lanes of callers that choose it
// themselves. One rule for both paths; the dispatcher decides ejections
// (docs/reliability.md, "Outlier detection").

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "slacker/messages/error.hpp"

namespace slacker::accrual {

/// What the paths to one server count, and the dispatcher reads.
struct health {
  /// Calls in a row that timed out; `limit` or more: suspect (out of
  /// routing, calls sent to it are probes).
  std::atomic<uint32_t> timeouts_in_row{0};
  /// Calls answered since the dispatcher last read them, and their time in
  /// microseconds (its latency, compared with the other servers'). Written
  /// by every answer, on a cache line of their own: callers read the fields
  /// around them (`unheard_until`, `timeouts_in_row`) on every call.
  alignas(64) std::atomic<uint64_t> answers{0};
  std::atomic<uint64_t> answer_us{0};
  /// While out for slowness: a probe answered within this many microseconds
  /// re-admits it (otherwise any probe's answer does).
  std::atomic<uint64_t> readmit_within_us{UINT64_MAX};
  /// Until when (steady clock, nanoseconds; 0: not) the server counts as
  /// unheard: a path to it (its broker, a blocking lane) waits on it and has
  /// heard nothing from it for a ping interval (`slacker.call-silence` / 4),
  /// or its broker's connect outlasted half a call's time. It may be gone,
  /// which that path finds out when the silence reaches
  /// `slacker.call-silence` (or the connect `slacker.connect-timeout`): so
  /// long at most. Calls go elsewhere meanwhile while another server is not
  /// so. Anything heard from it clears it.
  alignas(64) std::atomic<int64_t> unheard_until{0};
  /// Until when (steady clock, nanoseconds; 0: not) the server sheds load:
  /// it answered a call `overloaded` (refused unrun for want of room) less
  /// than `slacker.overload-backoff` ago. Calls go elsewhere meanwhile while
  /// another server is not so (`avoid`). An answer does not clear it: a
  /// server that answers is alive, which is no sign that it has room.
  std::atomic<int64_t> shed_until{0};
};

inline int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A deadline of the record (steady nanoseconds; 0: none) not yet passed.
inline bool ahead(int64_t until) {
  return until != 0 && steady_ns() < until;
}

/// A path waiting on the server heard nothing from it for a while: unheard
/// for `at_most` from now, when that path will know (or until heard).
inline void went_quiet(health& h, std::chrono::nanoseconds at_most) {
  h.unheard_until.store(std::max<int64_t>(steady_ns() + at_most.count(), 1),
                        std::memory_order_relaxed);
}

/// Something arrived from the server (a reply, a pong, a hello).
inline void heard(health& h) {
  if (h.unheard_until.load(std::memory_order_relaxed) != 0)
    h.unheard_until.store(0, std::memory_order_relaxed);
}

/// Unheard (`went_quiet`) and not heard since, for no longer than it said.
inline bool quiet(const health& h) {
  return ahead(h.unheard_until.load(std::memory_order_relaxed));
}

/// The server answered a call `overloaded`: it sheds load for `backoff`.
inline void shed(health& h, std::chrono::nanoseconds backoff) {
  h.shed_until.store(std::max<int64_t>(steady_ns() + backoff.count(), 1),
                     std::memory_order_relaxed);
}

/// Shedding load: answered `overloaded` less than its backoff ago (`shed`).
inline bool shedding(const health& h) {
  return ahead(h.shed_until.load(std::memory_order_relaxed));
}

/// A call picking a server goes elsewhere when another is not so: the
/// server is unheard (`quiet`) or sheds load (`shed`).
inline bool avoid(const health& h) {
  return ahead(std::max(h.unheard_until.load(std::memory_order_relaxed),
                        h.shed_until.load(std::memory_order_relaxed)));
}

/// The server is suspect: `limit` calls in a row timed out, or the
/// dispatcher took it out for slowness. A call sent now is a probe.
inline bool suspect(const health& h, uint32_t limit) {
  return h.timeouts_in_row.load(std::memory_order_relaxed) >= limit;
}

/// A call to the server timed out: true when that made it suspect.
inline bool timed_out(health& h, uint32_t limit) {
  return h.timeouts_in_row.fetch_add(1, std::memory_order_relaxed) + 1 == limit;
}

/// An answer saying the server did not run the call for want of room or
/// time (`overloaded`; `canceled`: the deadline passed while it waited;
/// `draining`): the server is alive, which is no sign that it serves. It
/// neither clears the count, nor re-admits a suspect server, nor counts in
/// its latency (a server whose pool is stuck would otherwise come back by
/// its probes' refusals, and look fast by them). `overloaded` makes it shed
/// load (`answered`).
inline bool refused_unrun(sc code) {
  return code == sc::overloaded || code == sc::canceled || code == sc::draining;
}

/// The server answered a call after `took` (`probe`: sent while it was
/// suspect) with `code` (`none`: a result): true when that re-admits it. An
/// answer resets the count of a server that is not suspect; a suspect one
/// comes back by a probe's answer only, never by a late answer to a call
/// sent before (that made a slow server flap), and one out for slowness
/// only by a probe answered in time. A refusal counts for nothing
/// (`refused_unrun`), but `overloaded` has the server shed load for
/// `shed_for` (`slacker.overload-backoff`; 0: not).
inline bool answered(health& h, uint32_t limit, bool probe,
                     std::chrono::microseconds took, sc code,
                     std::chrono::nanoseconds shed_for = {}) {
  if (refused_unrun(code)) {
    if (code == sc::overloaded && shed_for.count() > 0)
      shed(h, shed_for);
    return false;
  }
  auto us = static_cast<uint64_t>(std::max<int64_t>(took.count(), 0));
  h.answers.fetch_add(1, std::memory_order_relaxed);
  h.answer_us.fetch_add(us, std::memory_order_relaxed);
  if (!suspect(h, limit)) {
    if (h.timeouts_in_row.load(std::memory_order_relaxed) != 0) // read-mostly
      h.timeouts_in_row.store(0, std::memory_order_relaxed);
    return false;
  }
  if (!probe || us > h.readmit_within_us.load(std::memory_order_relaxed))
    return false;
  h.readmit_within_us.store(UINT64_MAX, std::memory_order_relaxed);
  return h.timeouts_in_row.exchange(0, std::memory_order_relaxed) >= limit;
}

/// The dispatcher takes the server out for slowness: suspect until a probe
/// is answered within `readmit_within`.
inline void eject_slow(health& h, uint32_t limit,
                       std::chrono::microseconds readmit_within) {
  h.readmit_within_us.store(static_cast<uint64_t>(readmit_within.count()),
                            std::memory_order_relaxed);
  h.timeouts_in_row.store(limit, std::memory_order_relaxed);
}

/// The dispatcher keeps the server in routing (the ejection cap): its
/// count starts again.
inline void keep(health& h) {
  h.readmit_within_us.store(UINT64_MAX, std::memory_order_relaxed);
  h.timeouts_in_row.store(0, std::memory_order_relaxed);
}

} // namespace slacker::accrual
