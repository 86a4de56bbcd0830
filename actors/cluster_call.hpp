#pragma once

// One call through a cluster client: the options a user sets, how they
// resolve (per call > per remote function > client default), and the messages
// between caller, dispatcher and gather.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>

#include "slacker/actors/policy/exceptions.hpp"
#include "slacker/actors/policy/grouping.hpp"
#include "slacker/actors/policy/results.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"

namespace slacker {

/// The value a call returns when no server provides its function: a value
/// encoded on demand in the call's codec. Make one with `slacker::fallback(x)`.
using unavailable_value = std::function<caf::expected<bytes>(codec_id)>;

template <class T>
unavailable_value fallback(T value) {
  return [value = std::move(value)](codec_id c) { return encode_value(c, value); };
}

/// Options of a cluster call; unset ones come from the next level.
struct cluster_options {
  std::optional<grouping_policy> grouping;
  std::optional<results_policy> results;
  std::optional<exceptions_policy> exceptions;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<codec_id> codec;
  std::optional<unavailable_value> unavailable;
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
  extensions ext;
};

/// Per call > per remote function > client default > built-in defaults.
call_policies resolve(const cluster_options& per_call, const cluster_options& per_fn,
                      const cluster_options& client);

/// From a caller to a dispatcher (local only: policies hold functions).
struct cluster_call {
  call_request req;
  std::shared_ptr<const call_policies> policies;
};

/// The answer of a cluster call: the successful results the policies kept,
/// with their servers. `whole` marks one value that is the call's entire
/// result (the unavailable value, or a user results function's output).
struct cluster_reply {
  std::vector<std::string> addrs;
  std::vector<call_reply> replies;
  bool whole = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_reply& x) {
  return f(caf::meta::type_name("slacker::cluster_reply"), x.addrs, x.replies, x.whole);
}

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::cluster_call)
