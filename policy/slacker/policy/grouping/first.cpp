#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

std::optional<size_t> first_index(const grouping_view& view) {
  if (view.servers.empty())
    return std::nullopt;
  return 0;
}

addresses first(const grouping_view& view) {
  return address_of(view, first_index(view));
}

std::unique_ptr<policy> make_first() {
  return std::make_unique<view_policy<first>>();
}

} // namespace slacker::grouping
