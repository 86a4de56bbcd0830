#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses all(const grouping_view& view) {
  addresses result;
  for (auto& s : view.servers)
    result.push_back(s.addr);
  return result;
}

std::unique_ptr<policy> make_all() {
  return std::make_unique<view_policy<all>>();
}

} // namespace slacker::grouping
