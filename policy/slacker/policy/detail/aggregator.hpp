#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/messages/cluster_reply.hpp"
#include "slacker/policy/options.hpp"

namespace slacker {

/// The outcome of one cluster call, decided from the answers of the servers
/// it went to under its exceptions and results policies: answers go in, and
/// as soon as the outcome is known (`any` at the first failure; `single` or
/// `nil` under `all` at the first success; a quorum at its k-th success or
/// once k successes are out of reach; a `decide_fn` when it says so;
/// otherwise when every server has answered or the deadline passed) it is
/// decided. A server answering `draining` (stopping, the call not run) is
/// left out, as if it had not been chosen. A plain state machine, the
/// only one that applies the policies: used by the gather (fan-out calls), the
/// connection broker (calls to one server), typed `ask` and the CLI.
class aggregator {
public:
  /// `what` (ns/fn) names the call in errors; `addrs` are its servers.
  aggregator(std::string what, std::shared_ptr<const call_policies> policies,
             std::vector<std::string> addrs);

  /// A server answered; an error inside counts as its failure. Answers from
  /// servers that are not waited for (unknown, or answered) are ignored.
  /// True once decided.
  bool add(const std::string& addr, call_reply rep);

  /// A server failed (e.g. `connection_broken`). True once decided.
  bool fail(const std::string& addr, caf::error err);

  /// The deadline passed: every server still waited for counts as `timeout`.
  /// Always decides.
  bool expire();

  bool decided() const noexcept {
    return decided_;
  }

  /// The servers that have not answered yet.
  const std::vector<std::string>& waiting() const noexcept {
    return waiting_;
  }

  const std::vector<server_result>& successes() const noexcept {
    return successes_;
  }

  /// The call's outcome (call once decided): the exceptions policy's error,
  /// or the successes shaped by the results policy.
  caf::expected<cluster_reply> result();

  /// The outcome of a call that went to one server, from its one answer
  /// (`what` is spelled out only if the policies need it).
  static caf::expected<cluster_reply> one(const call_name& what,
                                          std::shared_ptr<const call_policies> policies,
                                          std::string addr, call_reply rep);

  /// How a one-server call's success is shaped when the success is its
  /// outcome as it is (built-in results and exceptions policies: `one`
  /// shapes it without the aggregator), else none.
  static std::optional<reply_shape> success_shape(const call_policies& policies);

  /// The outcome of a call no server can run: the policies' unavailable
  /// value (shaped `whole`), else `unavailable` naming `what` and `where`.
  static caf::expected<cluster_reply> none(const std::string& what,
                                           const std::string& where,
                                           const call_policies& policies,
                                           const extensions& ext);

private:
  bool take(const std::string& addr);

  /// Decides whether the call is settled after an answer.
  bool update();

  std::string what_;
  std::shared_ptr<const call_policies> policies_;
  std::vector<std::string> waiting_;
  std::vector<server_result> successes_;
  std::vector<server_failure> failures_;
  size_t left_ = 0; // servers that answered `draining`
  bool decided_ = false;
  verdict verdict_; // the exceptions policy's word (exceptions::decide)
};

} // namespace slacker
