#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

// No leader, or a leader this client cannot reach: no server (the call is
// unavailable rather than sent to a non-leader).
std::optional<size_t> leader_index(const grouping_view& view) {
  for (size_t i = 0; i < view.servers.size(); ++i)
    if (view.servers[i].addr == view.leader)
      return i;
  return std::nullopt;
}

addresses leader(const grouping_view& view) {
  return address_of(view, leader_index(view));
}

std::unique_ptr<policy> make_leader() {
  return std::make_unique<view_policy<leader>>();
}

} // namespace slacker::grouping
