#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses all(const grouping_view& view) {
  addresses result;
  for (auto& s : view.servers)
    result.push_back(s.addr);
  return result;
}

} // namespace slacker::grouping
