#pragma once

// The options of a cluster call as a user sets them, and how they resolve
// (per call > per remote function > client default).

#include <chrono>
#include <functional>
#include <optional>

#include <caf/expected.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/policy/exceptions.hpp"
#include "slacker/policy/grouping.hpp"
#include "slacker/policy/results.hpp"

namespace slacker {

/// The value a call returns when no server provides its function: a value
/// encoded on demand in the call's codec. Make one with `slacker::fallback(x)`.
using unavailable_value = std::function<caf::expected<bytes>(codec_id)>;

template <class T> unavailable_value fallback(T value) {
  return [value = std::move(value)](codec_id c) {
    return encode_value(c, value);
  };
}

/// Options of a cluster call; unset ones come from the next level.
struct cluster_options {
  std::optional<grouping_policy> grouping;
  std::optional<results_policy> results;
  std::optional<exceptions_policy> exceptions;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<codec_id> codec;
  std::optional<unavailable_value> unavailable;
  /// The call may run more than once (it reads, or repeats harmlessly): one
  /// that fails with `outcome_unknown` or `overloaded` is retried on another
  /// server within its deadline (retry budget permitting), and it may be
  /// hedged. A function declared `slacker::idempotent` on its server is
  /// idempotent whatever this says.
  std::optional<bool> idempotent;
  /// Hedging (idempotent calls to one server only): when no answer came after
  /// this long, a backup goes to another server; the first answer wins.
  std::optional<std::chrono::milliseconds> hedge_after;
  extensions ext; // merged: per call wins on equal keys
};

/// Fully resolved options of one call.
struct call_policies {
  grouping_policy grouping = grouping_kind::random;
  results_policy results = results_kind::single;
  exceptions_policy exceptions = exceptions_kind::all;
  std::chrono::milliseconds timeout{10000};
  codec_id codec = codec_id::caf_binary;
  unavailable_value unavailable; // empty: fail with `unavailable`
  bool idempotent = false;
  std::chrono::milliseconds hedge_after{0}; // 0: no hedging
  extensions ext; // merged; moved into the call's request when it is built
};

/// True when `x` sets no option: a call under it resolves as under the
/// client's defaults alone.
bool sets_nothing(const cluster_options& x);

/// Per call > per remote function > client default > built-in defaults.
call_policies resolve(const cluster_options& per_call, const cluster_options& per_fn,
                      const cluster_options& client);

} // namespace slacker
