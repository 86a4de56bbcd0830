#pragma once

// Grouping-exceptions: when a call to several servers has failed. Every form
// of the policy (a built-in kind, a quorum, a user function judging at the
// end, a user function deciding after each answer) is applied through one
// contract, `exceptions::decide`: after each answer, wait, succeed or fail.
// The built-ins are plain functions of the successes and failures (one file
// each).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/error.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/names.hpp"

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
template <> std::vector<std::string> all_names<exceptions_kind>();

/// A user policy: given successes and failures, an error or nothing. It is
/// consulted once every server has answered (or the deadline passed); see
/// `decide_fn` for one that may decide earlier.
using exceptions_fn = std::function<std::optional<caf::error>(
    const std::vector<server_result>&, const std::vector<server_failure>&)>;

/// Decides as soon as `k` servers answered successfully (the results are
/// shaped from those `k`), and fails as soon as `k` successes are no longer
/// possible.
struct quorum {
  size_t k = 1;
};

/// What a deciding policy says after an answer.
struct verdict {
  enum class kind : uint8_t { wait, succeed, fail };
  kind what = kind::wait;
  caf::error err; // with `fail`

  static verdict wait() {
    return {};
  }
  static verdict succeed() {
    return {kind::succeed, caf::error{}};
  }
  static verdict fail(caf::error err) {
    return {kind::fail, std::move(err)};
  }
};

/// A user policy consulted after each answer with the successes and the
/// failures so far and the servers still pending: `succeed` ends the call
/// with the successes so far, `fail` with its error, `wait` waits for more.
/// `wait` once nothing is pending judges as `all` does.
using decide_fn = std::function<verdict(const std::vector<server_result>& successes,
                                        const std::vector<server_failure>& failures,
                                        const std::vector<std::string>& pending)>;

using exceptions_policy = std::variant<exceptions_kind, exceptions_fn, quorum, decide_fn>;

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

/// The quorum's error when fewer than `k` servers succeeded.
caf::error short_of(const std::string& what, size_t k, size_t successes,
                    const std::vector<server_failure>& failures, size_t servers);

} // namespace exceptions

namespace exceptions {

/// What an exceptions policy decides on, after each answer.
struct progress {
  const std::string& what; // ns/fn, for errors
  const std::vector<server_result>& successes;
  const std::vector<server_failure>& failures;
  const std::vector<std::string>& pending; // servers not answered yet
  /// The results policy keeps one answer (`single`, `nil`): under `all`, the
  /// first success settles the call.
  bool one_result = false;
};

/// The one contract: whether the call is settled, and how. Never `wait`
/// once nothing is pending. `fail` carries the call's error.
verdict decide(const exceptions_policy& policy, const progress& p);

} // namespace exceptions

/// Applies a policy once every server has answered (or none will any more):
/// `decide` with nothing pending; the error when it fails.
std::optional<caf::error> judge(const exceptions_policy& policy, const std::string& what,
                                const std::vector<server_result>& successes,
                                const std::vector<server_failure>& failures);

} // namespace slacker
