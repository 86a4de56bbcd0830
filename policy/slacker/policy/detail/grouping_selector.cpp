#include "slacker/policy/detail/grouping_selector.hpp"

#include <algorithm>

#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

/// Keeps the candidates among `wanted`, once each, in the order given.
addresses only_candidates(const addresses& wanted, const grouping_view& view) {
  addresses result;
  for (auto& addr : wanted)
    if (std::any_of(view.servers.begin(), view.servers.end(),
                    [&](auto& s) { return s.addr == addr; }) &&
        std::find(result.begin(), result.end(), addr) == result.end())
      result.push_back(addr);
  return result;
}

caf::error unknown(const std::string& name) {
  return make_error(sc::invalid_request,
                    "no grouping named " + name + " (grouping::add registers one)");
}

} // namespace

grouping::policy* grouping_selector::instance(const std::string& name) {
  if (auto i = live_.find(name); i != live_.end())
    return i->second.get();
  auto made = grouping::make(name);
  if (!made)
    return nullptr;
  for (auto& kvp : views_)
    made->update(kvp.second);
  wants_feedback_ = wants_feedback_ || made->wants_feedback();
  return live_.emplace(name, std::move(made)).first->second.get();
}

grouping::policy* grouping_selector::instance(grouping_kind kind) {
  auto& p = builtins_[static_cast<size_t>(kind)];
  if (!p)
    p = instance(to_string(kind));
  return p;
}

caf::expected<addresses> grouping_selector::select(const grouping_policy& policy,
                                                   const grouping_call& call) {
  if (auto kind = std::get_if<grouping_kind>(&policy))
    return instance(*kind)->select(call); // built-ins pick candidates only
  if (auto named = std::get_if<grouping_name>(&policy)) {
    auto p = instance(named->name);
    if (!p)
      return unknown(named->name);
    return only_candidates(p->select(call), call.view);
  }
  auto& fn = std::get<grouping_fn>(policy);
  if (!fn)
    return instance(grouping_kind::random)->select(call);
  auto choice = fn(call);
  if (auto kind = std::get_if<grouping_kind>(&choice))
    return instance(*kind)->select(call);
  if (auto one = std::get_if<std::string>(&choice))
    return only_candidates(addresses{*one}, call.view);
  return only_candidates(std::get<addresses>(choice), call.view);
}

bool grouping_selector::reads_in_flight(const grouping_policy& policy) {
  if (std::holds_alternative<grouping_fn>(policy))
    return true; // it sees the view, counts included
  if (auto kind = std::get_if<grouping_kind>(&policy))
    return instance(*kind)->reads_in_flight();
  auto p = instance(std::get<grouping_name>(policy).name);
  return p && p->reads_in_flight();
}

void grouping_selector::update(const grouping_view& view) {
  for (auto& kvp : live_)
    kvp.second->update(view);
}

void grouping_selector::feedback(const call_feedback& fb) {
  for (auto& kvp : live_)
    if (kvp.second->wants_feedback())
      kvp.second->feedback(fb);
}

} // namespace slacker
