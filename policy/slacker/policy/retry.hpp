#pragma once

// Retries: when a call that did not succeed on one server may go to another.
// One rule for every path, as tower's retry Policy: the connection brokers
// hand a call back to the dispatcher by it, the blocking lane retries a
// connection the server had closed by it, and the dispatcher charges what it
// says to the retry budget (detail/retry_budget.hpp), which also pays for
// hedges.

#include <cstdint>

#include "slacker/messages/error.hpp"

namespace slacker::retry {

/// How an attempt on one server ended.
struct attempt {
  sc code = sc::none;      // its error (none: it succeeded)
  bool sent = true;        // the request was written to the connection
  bool answered = false;   // the server answered with `code` (else the connection failed)
  bool idempotent = false; // the call may run twice
};

/// What to do with the call.
enum class verdict : uint8_t {
  stop,    // its outcome stands
  free,    // send it elsewhere: it did not run (never sent, server draining)
  charged, // send it elsewhere if the retry budget allows: it may have run, or
           // the server shed it under load
};

/// The rule (a call that did not run may go elsewhere; one that may have run
/// only when it is idempotent):
/// - never sent, or answered `draining`: `free`;
/// - answered `overloaded` (refused unrun, under load): `charged` when
///   idempotent (a non-idempotent call's caller decides: it did not run);
/// - sent and the connection failed before an answer (`outcome_unknown`):
///   `charged` when idempotent (it may have run there);
/// - anything else (success, timeouts, the function's own errors): `stop`.
constexpr verdict after(const attempt& a) {
  if (a.code == sc::none)
    return verdict::stop;
  if (!a.sent)
    return verdict::free;
  if (a.answered) {
    if (a.code == sc::draining)
      return verdict::free;
    if (a.code == sc::overloaded && a.idempotent)
      return verdict::charged;
    return verdict::stop;
  }
  if ((a.code == sc::outcome_unknown || a.code == sc::connection_broken) && a.idempotent)
    return verdict::charged;
  return verdict::stop;
}

} // namespace slacker::retry
