#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses first(const grouping_view& view) {
  if (view.servers.empty())
    return {};
  return {view.servers.front().addr};
}

std::unique_ptr<policy> make_first() {
  return std::make_unique<view_policy<first>>();
}

} // namespace slacker::grouping
