#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/expected.hpp>

#include "slacker/policy/grouping.hpp"

namespace slacker {

/// The groupings of one dispatcher: an instance of each policy it has used,
/// made on first use (and told every view it holds), then told every change
/// of the candidates. Used from the dispatcher's actor only.
class grouping_selector {
public:
  using views = std::unordered_map<std::string, grouping_view>;

  /// `candidates`: the dispatcher's candidates per namespace (outlives this).
  explicit grouping_selector(const views& candidates) : views_(candidates) {}

  /// The servers for `call` under `policy`, only candidates among them; an
  /// `invalid_request` error when it names no registered grouping.
  caf::expected<addresses> select(const grouping_policy& policy,
                                  const grouping_call& call);

  /// True when `policy` reads the calls in flight (a user function may).
  bool reads_in_flight(const grouping_policy& policy);

  /// The candidates of `view.ns` changed (`view.servers` empty: none left).
  void update(const grouping_view& view);

  /// How a call went, for the instances that want to know.
  void feedback(const call_feedback& fb);

  /// True once an instance wants feedback.
  bool wants_feedback() const noexcept {
    return wants_feedback_;
  }

private:
  grouping::policy* instance(const std::string& name);

  /// A built-in's instance, found without a name on the call's path.
  grouping::policy* instance(grouping_kind kind);

  const views& views_;
  std::map<std::string, std::unique_ptr<grouping::policy>> live_;
  std::array<grouping::policy*, 7> builtins_{}; // by kind, into live_
  bool wants_feedback_ = false;
};

} // namespace slacker
