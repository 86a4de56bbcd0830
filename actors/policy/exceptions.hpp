#pragma once

// Grouping-exceptions: when a call to several servers has failed. Plain
// functions of the successes and failures (one file each).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/error.hpp>

#include "slacker/messages/call.hpp"

namespace slacker {

/// A server's answer to one call.
struct server_result {
  std::string addr;
  call_reply reply;
};

/// A server's failure on one call.
struct server_failure {
  std::string addr;
  caf::error err;
};

enum class exceptions_kind : uint8_t {
  all, // fail only when every server failed; otherwise use the successes (default)
  any, // fail when any server failed
};

const char* to_string(exceptions_kind x);
bool from_string(const std::string& name, exceptions_kind& out);

/// A user policy: given successes and failures, an error or nothing.
using exceptions_fn = std::function<std::optional<caf::error>(
  const std::vector<server_result>&, const std::vector<server_failure>&)>;

using exceptions_policy = std::variant<exceptions_kind, exceptions_fn>;

namespace exceptions {

/// The error of a failed call: names `what` (ns/fn) and each server's cause.
/// Its code is the first failure's.
caf::error combine(const std::string& what, const std::vector<server_failure>& failures,
                   size_t servers);

std::optional<caf::error> all(const std::string& what,
                              const std::vector<server_result>& successes,
                              const std::vector<server_failure>& failures);

std::optional<caf::error> any(const std::string& what,
                              const std::vector<server_result>& successes,
                              const std::vector<server_failure>& failures);

} // namespace exceptions

/// Applies a policy.
std::optional<caf::error> judge(const exceptions_policy& policy, const std::string& what,
                                const std::vector<server_result>& successes,
                                const std::vector<server_failure>& failures);

} // namespace slacker
