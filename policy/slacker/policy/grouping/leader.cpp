#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

// No leader, or a leader this client cannot reach: no server (the call is
// unavailable rather than sent to a non-leader).
addresses leader(const grouping_view& view) {
  for (auto& s : view.servers)
    if (s.addr == view.leader)
      return {s.addr};
  return {};
}

std::unique_ptr<policy> make_leader() {
  return std::make_unique<view_policy<leader>>();
}

} // namespace slacker::grouping
