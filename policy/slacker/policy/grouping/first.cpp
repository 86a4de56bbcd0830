#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses first(const grouping_view& view) {
  if (view.servers.empty())
    return {};
  return {view.servers.front().addr};
}

} // namespace slacker::grouping
