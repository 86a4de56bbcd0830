#pragma once

// The message from a caller to a cluster client's dispatcher: one call and
// its resolved policies.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/cluster_reply.hpp"
#include "slacker/policy/options.hpp"

namespace slacker {

/// From a caller to a dispatcher (local only: policies hold functions).
struct cluster_call {
  call_request req;
  std::shared_ptr<const call_policies> policies;
  /// The servers this call was sent to already (a resent or hedged call
  /// goes elsewhere).
  std::vector<std::string> tried;
  /// Set by the dispatcher: the call may run twice (the policies say so, or
  /// the function is declared idempotent on its servers).
  bool idempotent = false;
  /// Set by a caller on the routes (routed_calls.hpp) for a call whose
  /// success needs no shaping (results `single`, `vector` or `nil`, a built-in
  /// exceptions policy): its server's broker then answers a success with the
  /// server's `call_reply` as it is, and the caller shapes it; a failure is
  /// answered as any cluster call's (`cluster_reply`, an error, or resent).
  /// Not for other callers: they get a `cluster_reply` only when it is unset.
  bool raw_success = false;
};

/// From a cluster client to its dispatcher: called (on the dispatcher's
/// thread) with `(addr, data)` when a server's server-data changes. Keep it short.
struct server_data_handler {
  std::function<void(const std::string& addr, const std::string& data)> fn;
};

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::cluster_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::server_data_handler)
