#include "slacker/messages/names.hpp"
#include "slacker/policy/grouping.hpp"

#include <algorithm>

namespace slacker {

constexpr name_entry<grouping_kind> grouping_names[] = {
    {grouping_kind::random, "random"},
    {grouping_kind::all, "all"},
    {grouping_kind::first, "first"},
    {grouping_kind::leader, "leader"},
    {grouping_kind::least_in_flight, "least-in-flight"},
    {grouping_kind::weighted, "weighted"},
    {grouping_kind::round_robin, "round-robin"},
};

const char* to_string(grouping_kind x) {
  return name_in(grouping_names, x);
}

template <> std::vector<std::string> all_names<grouping_kind>() {
  return names_in(grouping_names);
}

bool from_string(const std::string& name, grouping_kind& out) {
  auto text = name;
  std::replace(text.begin(), text.end(), '_', '-');
  return value_in(grouping_names, text, out);
}

const std::string& grouping_view::server_data(const std::string& addr) const {
  static const std::string none;
  for (auto& s : servers)
    if (s.addr == addr)
      return s.data;
  return none;
}

namespace {

addresses builtin(grouping_kind kind, const grouping_view& view, std::mt19937_64& rng,
                  uint64_t& turn) {
  switch (kind) {
    case grouping_kind::random:
      return grouping::random(view, rng);
    case grouping_kind::all:
      return grouping::all(view);
    case grouping_kind::first:
      return grouping::first(view);
    case grouping_kind::leader:
      return grouping::leader(view);
    case grouping_kind::least_in_flight:
      return grouping::least_in_flight(view, rng);
    case grouping_kind::weighted:
      return grouping::weighted(view, rng);
    case grouping_kind::round_robin:
      return grouping::round_robin(view, turn);
  }
  return {};
}

} // namespace

addresses choose(const grouping_policy& policy, const grouping_call& call,
                 std::mt19937_64& rng, uint64_t& turn) {
  if (auto kind = std::get_if<grouping_kind>(&policy))
    return builtin(*kind, call.view, rng, turn);
  auto& fn = std::get<grouping_fn>(policy);
  if (!fn)
    return builtin(grouping_kind::random, call.view, rng, turn);
  auto choice = fn(call);
  if (auto kind = std::get_if<grouping_kind>(&choice))
    return builtin(*kind, call.view, rng, turn);
  addresses wanted;
  if (auto one = std::get_if<std::string>(&choice))
    wanted.push_back(*one);
  else
    wanted = std::get<addresses>(choice);
  // Addresses that are not candidates (unknown, not connected) are dropped.
  addresses result;
  for (auto& addr : wanted)
    if (std::any_of(call.view.servers.begin(), call.view.servers.end(),
                    [&](auto& s) { return s.addr == addr; }) &&
        std::find(result.begin(), result.end(), addr) == result.end())
      result.push_back(addr);
  return result;
}

} // namespace slacker
