#pragma once

// Failure accrual on one server: the count of its calls in a row that timed
// out, shared by its connection broker and the blocking lanes of callers
// that choose it themselves. One rule for both paths.

#include <atomic>
#include <cstdint>

namespace slacker::accrual {

/// The server is suspect: `limit` calls in a row timed out. A call sent
/// now is a probe.
inline bool suspect(const std::atomic<uint32_t>& row, uint32_t limit) {
  return row.load(std::memory_order_relaxed) >= limit;
}

/// A call to the server timed out: true when that made it suspect.
inline bool timed_out(std::atomic<uint32_t>& row, uint32_t limit) {
  return row.fetch_add(1, std::memory_order_relaxed) + 1 == limit;
}

/// The server answered a call (`probe`: sent while it was suspect): true
/// when that re-admits it. An answer resets the count of a server that is
/// not suspect; a suspect one comes back by a probe's answer only, never by
/// a late answer to a call sent before (that made a slow server flap).
inline bool answered(std::atomic<uint32_t>& row, uint32_t limit, bool probe) {
  if (!suspect(row, limit)) {
    row.store(0, std::memory_order_relaxed);
    return false;
  }
  return probe && row.exchange(0, std::memory_order_relaxed) >= limit;
}

} // namespace slacker::accrual
